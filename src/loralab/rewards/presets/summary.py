"""summary_rouge: ROUGE-L of the completion against a reference summary column."""

from __future__ import annotations

from pydantic import Field

from loralab.config.strict import StrictModel
from loralab.rewards.answers import solution_text
from loralab.rewards.base import Context, RewardPreset, Sample
from loralab.rewards.text import rouge_l


class SummaryParams(StrictModel):
    field: str = Field(
        default="summary",
        min_length=1,
        max_length=128,
        description="The dataset column with the reference summary.",
    )


def score(sample: Sample, params: SummaryParams, ctx: Context) -> float:
    reference = sample.row.get(params.field)
    if reference is None:
        return 0.0
    return rouge_l(solution_text(sample.completion, ctx.markers), str(reference))


PRESET = RewardPreset(
    name="summary_rouge",
    title="Summary quality (ROUGE-L)",
    description="ROUGE-L F-measure of the completion (its solution section when marked) against "
    "the reference column: 1.0 identical, 0.0 no words in common.",
    score_range=(0.0, 1.0),
    params=SummaryParams,
    score=score,
    example={"name": "summary_rouge", "params": {"field": "summary"}},
)
