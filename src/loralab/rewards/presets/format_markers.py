"""format: are the reasoning and solution markers there, once each, in order?"""

from __future__ import annotations

from pydantic import Field

from loralab.config.strict import StrictModel
from loralab.rewards.base import Context, RewardPreset, Sample


class FormatParams(StrictModel):
    strict: bool = Field(
        default=False,
        description="Only all or nothing: 1.0 when the four markers appear once each in order "
        "with a non-empty solution, else 0.0. Otherwise 0.25 per marker appearing exactly "
        "once (at most 0.75), halved when they are out of order.",
    )


def score(sample: Sample, params: FormatParams, ctx: Context) -> float:
    m = ctx.markers
    text = sample.completion
    order = [m.reasoning_start, m.reasoning_end, m.solution_start, m.solution_end]
    once = [text.count(marker) == 1 for marker in order]
    positions = [text.find(marker) for marker, ok in zip(order, once, strict=True) if ok]
    in_order = positions == sorted(positions)
    if all(once) and in_order:
        solution = text[positions[2] + len(m.solution_start) : positions[3]]
        if solution.strip():
            return 1.0
    if params.strict:
        return 0.0
    value = min(0.75, 0.25 * sum(once))
    return value if in_order else value / 2


PRESET = RewardPreset(
    name="format",
    title="Format",
    description="Rewards the reasoning and solution markers, each exactly once and in order: "
    "1.0 for the full format with a non-empty solution; else 0.25 per marker found once (at "
    "most 0.75), halved when out of order. `strict: true` gives only 1.0 or 0.0.",
    score_range=(0.0, 1.0),
    params=FormatParams,
    score=score,
    example={"name": "format", "weight": 0.5},
)
