"""What a generation asks for and what it answers: plain dataclasses, no torch.

The server builds ``SamplingParams`` and ``ModelTarget`` from a request and sends them to the
inference worker as JSON (``to_dict`` / ``from_dict``); the worker answers ``Generation``.
``check_sampling`` holds the bounds once, for the REST body, the OpenAI routes and the worker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from loralab.errors import FieldProblem, InvalidRequest

__all__ = [
    "MAX_STOP_STRINGS",
    "MAX_TOKENS_LIMIT",
    "Generation",
    "ModelTarget",
    "SamplingParams",
    "check_sampling",
]

MAX_TOKENS_LIMIT = 8192
MAX_STOP_STRINGS = 4  # as OpenAI


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. ``temperature`` 0 is greedy (``top_p``/``top_k``/``seed`` unused)."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stop"] = list(self.stop)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingParams:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        if "stop" in values:
            stop = values["stop"]
            values["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        params = cls(**values)
        check_sampling(params)
        return params


def check_sampling(params: SamplingParams, loc: str = "") -> None:
    """Raise ``InvalidRequest`` (422) listing every value out of bounds."""
    at = lambda name: f"{loc}.{name}" if loc else name  # noqa: E731
    problems: list[FieldProblem] = []

    def bad(name: str, message: str) -> None:
        problems.append(FieldProblem(loc=at(name), message=message))

    if not isinstance(params.temperature, (int, float)) or not 0 <= params.temperature <= 2:
        bad("temperature", "must be between 0 (greedy) and 2")
    if not isinstance(params.top_p, (int, float)) or not 0 < params.top_p <= 1:
        bad("top_p", "must be greater than 0 and at most 1")
    if not isinstance(params.top_k, int) or not 0 <= params.top_k <= 100_000:
        bad("top_k", "must be a whole number from 0 (off) to 100000")
    if not isinstance(params.max_tokens, int) or not 1 <= params.max_tokens <= MAX_TOKENS_LIMIT:
        bad("max_tokens", f"must be a whole number from 1 to {MAX_TOKENS_LIMIT}")
    if len(params.stop) > MAX_STOP_STRINGS:
        bad("stop", f"at most {MAX_STOP_STRINGS} stop strings")
    if any(not isinstance(s, str) or not s or len(s) > 200 for s in params.stop):
        bad("stop", "each stop string must be 1 to 200 characters")
    if params.seed is not None and (
        not isinstance(params.seed, int) or not 0 <= params.seed < 2**63
    ):
        bad("seed", "must be a whole number from 0 to 2**63-1")
    if problems:
        raise InvalidRequest(
            f"The sampling settings have {len(problems)} problem(s).", problems=problems
        )


@dataclass(frozen=True)
class ModelTarget:
    """What answers: a base model, optionally with one adapter on it.

    Attributes:
        base: the folder path or hub id to load (``jobs.refs.ModelRef.load``).
        adapter_id, adapter_path: the adapter to put on it (both or neither).
        label: what the UI shows.
    """

    base: str
    adapter_id: str | None = None
    adapter_path: str | None = None
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelTarget:
        known = {f.name for f in fields(cls)}
        target = cls(**{k: v for k, v in data.items() if k in known})
        if not isinstance(target.base, str) or not target.base:
            raise InvalidRequest("The target has no base model.")
        if (target.adapter_id is None) != (target.adapter_path is None):
            raise InvalidRequest("An adapter needs both its id and its path.")
        return target


@dataclass
class Generation:
    """One answer and how fast it came.

    ``latency_s`` runs from the request to the last token, ``ttft_s`` to the first one;
    ``tokens_per_second`` is the decode rate: tokens after the first over the time after it
    (completion tokens over the latency when there is only one).
    """

    text: str
    finish_reason: str  # "stop" | "length"
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    ttft_s: float
    tokens_per_second: float
    base: str
    adapter_id: str | None
    device: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Generation:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
