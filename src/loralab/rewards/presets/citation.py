"""citation: does the completion cite its sources as ``[1]``-style references?"""

from __future__ import annotations

import re

from pydantic import Field

from loralab.config.strict import StrictModel
from loralab.rewards.base import Context, RewardPreset, Sample

_CITATION = re.compile(r"\[(\d{1,4})\]")


class CitationParams(StrictModel):
    min_count: int = Field(
        default=1, ge=1, le=100, description="Distinct references needed for 1.0."
    )
    max_source: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="The highest source number that exists; a citation above it (or [0]) "
        "makes the score 0.0.",
    )


def score(sample: Sample, params: CitationParams, ctx: Context) -> float:
    cited = {int(n) for n in _CITATION.findall(sample.completion)}
    if params.max_source is not None and any(n < 1 or n > params.max_source for n in cited):
        return 0.0
    return min(1.0, len(cited) / params.min_count)


PRESET = RewardPreset(
    name="citation",
    title="Citations",
    description="Distinct [n] references found / min_count, capped at 1.0; 0.0 when one cites "
    "a source that does not exist (above max_source, or [0]).",
    score_range=(0.0, 1.0),
    params=CitationParams,
    score=score,
    example={"name": "citation", "params": {"min_count": 2, "max_source": 5}},
)
