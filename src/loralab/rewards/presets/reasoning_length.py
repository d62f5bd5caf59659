"""reasoning_length: is the working out (between the reasoning markers) of a useful length?"""

from __future__ import annotations

from pydantic import Field, model_validator

from loralab.config.strict import StrictModel
from loralab.rewards.answers import section
from loralab.rewards.base import Context, RewardPreset, Sample


class ReasoningLengthParams(StrictModel):
    min_words: int = Field(default=20, ge=0, le=100_000, description="Shorter scores less.")
    max_words: int = Field(default=400, ge=1, le=100_000, description="Longer scores less.")

    @model_validator(mode="after")
    def _bounds(self):
        if self.min_words > self.max_words:
            raise ValueError("min_words must not be more than max_words")
        return self


def length_score(n: int, low: int, high: int) -> float:
    """1.0 within ``[low, high]``, ``n / low`` below, ``high / n`` above."""
    if n < low:
        return n / low if low else 1.0
    if n > high:
        return high / n
    return 1.0


def score(sample: Sample, params: ReasoningLengthParams, ctx: Context) -> float:
    m = ctx.markers
    reasoning = section(sample.completion, m.reasoning_start, m.reasoning_end)
    if reasoning is None:
        return 0.0
    return length_score(len(reasoning.split()), params.min_words, params.max_words)


PRESET = RewardPreset(
    name="reasoning_length",
    title="Reasoning length",
    description="Words between the reasoning markers: 1.0 within [min_words, max_words], "
    "n/min_words below, max_words/n above; 0.0 without the reasoning start marker.",
    score_range=(0.0, 1.0),
    params=ReasoningLengthParams,
    score=score,
    example={"name": "reasoning_length", "weight": 0.2, "params": {"min_words": 30}},
)
