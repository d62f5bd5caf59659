"""length: how close is the completion to a target length?"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loralab.config.strict import StrictModel
from loralab.rewards.base import Context, RewardPreset, Sample


class LengthParams(StrictModel):
    target: int = Field(default=200, ge=1, le=1_000_000, description="The length aimed at.")
    unit: Literal["words", "chars"] = Field(default="words", description="What is counted.")


def measure(text: str, unit: str) -> int:
    return len(text.split()) if unit == "words" else len(text)


def score(sample: Sample, params: LengthParams, ctx: Context) -> float:
    n = measure(sample.completion, params.unit)
    return max(0.0, 1.0 - abs(n - params.target) / params.target)


PRESET = RewardPreset(
    name="length",
    title="Length target",
    description="1 - |length - target| / target, floored at 0: 1.0 at the target length "
    "(words or characters), 0.0 at zero or at twice the target and beyond.",
    score_range=(0.0, 1.0),
    params=LengthParams,
    score=score,
    example={"name": "length", "weight": 0.3, "params": {"target": 120, "unit": "words"}},
)
