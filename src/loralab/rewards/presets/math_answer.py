"""math_answer: is the final answer numerically right? 1.0 right, 0.0 wrong or missing."""

from __future__ import annotations

from pydantic import Field

from loralab.config.strict import StrictModel
from loralab.rewards.answers import extract_answer, numbers_equal, parse_number
from loralab.rewards.base import Context, RewardPreset, Sample
from loralab.rewards.text import normalize_answer


class MathAnswerParams(StrictModel):
    field: str = Field(
        default="answer",
        min_length=1,
        max_length=128,
        description="The dataset column with the reference answer (GSM8K `#### N`, "
        "`\\boxed{}` or a bare number).",
    )
    rel_tol: float = Field(
        default=1e-6, ge=0, le=0.5, description="Relative tolerance of the numeric comparison."
    )


def score(sample: Sample, params: MathAnswerParams, ctx: Context) -> float:
    predicted = extract_answer(sample.completion, ctx.markers)
    reference_raw = sample.row.get(params.field)
    if predicted is None or reference_raw is None:
        return 0.0
    reference = extract_answer(str(reference_raw)) or str(reference_raw)
    a, b = parse_number(predicted), parse_number(reference)
    if a is not None and b is not None:
        return float(numbers_equal(a, b, rel_tol=params.rel_tol))
    return float(normalize_answer(predicted) == normalize_answer(reference) != "")


PRESET = RewardPreset(
    name="math_answer",
    title="Math answer",
    description="1.0 when the final answer (between the solution markers, else the last "
    "\\boxed{}, else `#### N`) equals the reference column numerically ('1,000' == '1000.0'), "
    "else 0.0. Non-numeric answers compare as normalised text.",
    score_range=(0.0, 1.0),
    params=MathAnswerParams,
    score=score,
    example={"name": "math_answer", "weight": 2.0, "params": {"field": "answer"}},
)
