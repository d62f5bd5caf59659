"""What a reward preset is: a name, a score range, a params model and a scoring function.

A preset scores one completion at a time (``score``) or a whole batch at once (``score_batch``,
used where one call should serve many rows, like the sandboxed custom code). The builder in
``build.py`` turns a preset plus a ``RewardSpec`` into a TRL reward function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from loralab.config.rewards import Markers
from loralab.config.strict import StrictModel

__all__ = ["Context", "FieldParam", "NoParams", "RewardPreset", "Sample"]


class NoParams(StrictModel):
    """A preset without options."""


class FieldParam(StrictModel):
    """A preset that compares with a dataset column."""

    field: str = Field(
        default="answer",
        min_length=1,
        max_length=128,
        description="The dataset column holding the reference.",
    )


@dataclass(frozen=True)
class Sample:
    """One completion to score: its prompt and completion as text and its dataset row."""

    prompt: str
    completion: str
    row: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What every preset may use besides its params: the run's markers and whether custom code
    (run in the sandbox) is allowed on this server."""

    markers: Markers = field(default_factory=Markers)
    allow_custom: bool = False


Score = Callable[[Sample, Any, Context], float]
ScoreBatch = Callable[[Sequence[Sample], Any, Context], list[float]]


@dataclass(frozen=True)
class RewardPreset:
    """One entry of the reward registry.

    ``score_range`` is ``(low, high)`` of what one completion can score (before its weight;
    None where the code decides);
    ``runs_code(params)`` says whether these params run code in the sandbox (refused unless the
    server allows custom rewards); ``label(params)`` is the reward function's ``__name__``.
    """

    name: str
    title: str
    description: str
    score_range: tuple[float, float] | None
    params: type[StrictModel] = NoParams
    score: Score | None = None
    score_batch: ScoreBatch | None = None
    runs_code: Callable[[Any], bool] = lambda params: False
    label: Callable[[Any], str] | None = None
    example: dict[str, Any] = field(default_factory=dict)
    sandboxed: bool = False

    def label_for(self, params: Any) -> str:
        return self.label(params) if self.label else self.name

    def score_all(self, samples: Sequence[Sample], params: Any, ctx: Context) -> list[float]:
        if self.score_batch is not None:
            return self.score_batch(samples, params, ctx)
        assert self.score is not None, self.name
        return [float(self.score(s, params, ctx)) for s in samples]
