"""The reward presets and testing rewards on typed completions or a dataset's rows, before
training (GRPO). No torch: the rewards package is pure Python."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from loralab.config import Markers, RewardSpec, Settings
from loralab.config.strict import StrictModel
from loralab.data import iter_records
from loralab.errors import ConfigError, InvalidRequest, Unsupported
from loralab.rewards import PRESETS, Sample, check_reward_specs, score_samples
from loralab.services.dataset_validation import data_config
from loralab.store import Database
from loralab.store import datasets as store
from loralab.store.db import reading

__all__ = [
    "RewardInfo",
    "RewardTestRequest",
    "RewardTestResult",
    "RewardTestRow",
    "file_samples",
    "list_rewards",
    "test_rewards",
]

MAX_ROWS = 20
_PROMPT_COLUMNS = ("prompt", "question", "instruction", "problem", "input", "text")
_ANSWER_COLUMNS = ("completion", "answer", "output", "response", "solution", "generated_solution")


class RewardInfo(BaseModel):
    """One reward preset."""

    name: str
    title: str
    description: str
    score_range: tuple[float, float] | None = Field(
        description="[low, high] of one completion's score before its weight; null when the "
        "code decides."
    )
    runs_code: bool = Field(description="Runs code in the sandbox (needs custom rewards on).")
    params_schema: dict[str, Any] = Field(description="JSON schema of the preset's params.")
    example: dict[str, Any] = Field(description="A RewardSpec using it.")


class RewardTestRequest(StrictModel):
    """Rewards to try, on a typed completion, on a dataset's rows, or both."""

    rewards: list[RewardSpec] = Field(min_length=1, max_length=16)
    markers: Markers = Field(default_factory=Markers)
    dataset: str | None = Field(
        default=None, max_length=80, description="`dataset:<id>` to score its first rows."
    )
    rows: int = Field(default=5, ge=1, le=MAX_ROWS, description="How many dataset rows.")
    completion: str | None = Field(
        default=None,
        max_length=100_000,
        description="A completion to score (for each dataset row when a dataset is given; "
        "without it a row's own answer column is scored).",
    )
    prompt: str | None = Field(default=None, max_length=100_000)
    answer: str | None = Field(
        default=None, max_length=100_000, description="The `answer` column of a typed sample."
    )


class RewardTestRow(BaseModel):
    prompt: str
    completion: str
    scores: dict[str, float]
    total: float


class RewardTestResult(BaseModel):
    rows: list[RewardTestRow]
    labels: list[str] = Field(description="The reward functions' names, in order.")
    weights: list[float]


def list_rewards(settings: Settings) -> list[RewardInfo]:
    """Every reward preset, with its score range, params schema and an example."""
    out = []
    for preset in PRESETS.values():
        out.append(
            RewardInfo(
                name=preset.name,
                title=preset.title,
                description=preset.description,
                score_range=preset.score_range,
                runs_code=preset.sandboxed,
                params_schema=preset.params.model_json_schema(),
                example=preset.example,
            )
        )
    return out


def test_rewards(db: Database, settings: Settings, body: RewardTestRequest) -> RewardTestResult:
    """Score the typed completion and/or the first ``rows`` rows of a dataset.

    Raises:
        ConfigError: an unknown reward, bad params, or custom code while disabled (422, with
            ``rewards.<i>.name`` / ``rewards.<i>.params.<field>``).
        InvalidRequest: neither a completion nor a dataset.
        NotFound: no such dataset; Unsupported: a hub dataset.
        SandboxError: custom code failed or ran out of a limit (422 ``reward_failed``).
    """
    allow = settings.allow_custom_rewards
    problems = check_reward_specs(body.rewards, "rewards", allow_custom=allow)
    if problems:
        raise ConfigError("The rewards are not valid.", problems=problems)
    if body.dataset is None and body.completion is None:
        raise InvalidRequest(
            "Give a completion to score, a dataset, or both.",
            fix="Set `completion`, or `dataset` to `dataset:<id>`.",
        )
    samples = (
        _dataset_samples(db, settings, body)
        if body.dataset
        else [
            Sample(
                prompt=body.prompt or "",
                completion=body.completion or "",
                row={} if body.answer is None else {"answer": body.answer},
            )
        ]
    )
    scored = score_samples(body.rewards, body.markers, samples, allow_custom=allow)
    labels = list(scored[0]["scores"]) if scored else []
    return RewardTestResult(
        rows=[
            RewardTestRow(prompt=s.prompt, completion=s.completion, **r)
            for s, r in zip(samples, scored, strict=True)
        ],
        labels=labels,
        weights=[s.weight for s in body.rewards],
    )


def _dataset_samples(db: Database, settings: Settings, body: RewardTestRequest) -> list[Sample]:
    ref = body.dataset or ""
    if not ref.startswith("dataset:"):
        raise InvalidRequest(
            f"`dataset` must be `dataset:<id>`, not {ref!r}.", fix="Use `dataset:<id>`."
        )
    with reading(db) as session:
        row = store.get_dataset(session, ref.removeprefix("dataset:"))
    if row.kind == "hub":
        raise Unsupported(
            "Testing rewards on hub datasets is not available yet; upload a file.",
            code="reward_test_unavailable",
        )
    cfg = data_config(row, settings)
    return file_samples(
        cfg.source,
        rows=body.rows,
        completion=body.completion,
        mapping=dict(row.field_mapping or {}),
        split=cfg.split,
    )


def file_samples(
    source: str,
    *,
    rows: int,
    completion: str | None = None,
    mapping: dict[str, str] | None = None,
    split: str = "train",
) -> list[Sample]:
    """The first ``rows`` readable rows of a dataset file as samples: the prompt column
    (``mapping``'s, else prompt/question/instruction/problem...), ``completion`` or else the
    row's own answer column, and every column as the row (what TRL passes as kwargs).

    Raises:
        NotFound: no such file; DataError: the file cannot be read.
    """
    samples = []
    for record in iter_records(source, split=split, on_error="yield"):
        if record.data is None:
            continue
        samples.append(_row_sample(record.data, mapping or {}, completion))
        if len(samples) >= rows:
            break
    return samples


def _column(data: dict[str, Any], mapping: dict[str, str], names: tuple[str, ...]) -> Any:
    for name in names:
        if mapping.get(name) in data:
            return data[mapping[name]]
    for name in names:
        if name in data:
            return data[name]
    return None


def _row_sample(data: dict[str, Any], mapping: dict[str, str], completion: str | None) -> Sample:
    columns = {k: _plain(v) for k, v in data.items()}
    prompt = _column(columns, mapping, _PROMPT_COLUMNS)
    own = _column(columns, mapping, _ANSWER_COLUMNS)
    return Sample(
        prompt="" if prompt is None else str(prompt),
        completion=completion if completion is not None else ("" if own is None else str(own)),
        row=columns,
    )


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a cell (Parquet gives numpy arrays and NaN)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
