"""exact_match and token_f1: a short answer against a reference column (SQuAD's rules)."""

from __future__ import annotations

from typing import Any

from loralab.rewards.answers import solution_text
from loralab.rewards.base import Context, FieldParam, RewardPreset, Sample
from loralab.rewards.text import exact_match, token_f1


def references(value: Any) -> list[str]:
    """A reference column as a list of acceptable answers: a string, a list of strings, or a
    SQuAD ``{text: [...]}`` dict (an empty list means unanswerable: the answer must be empty)."""
    if value is None:
        return []
    if isinstance(value, dict) and "text" in value:
        value = value["text"]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value] or [""]
    return [str(value)]


def _best(metric, sample: Sample, params: FieldParam, ctx: Context) -> float:
    refs = references(sample.row.get(params.field))
    if not refs:
        return 0.0
    answer = solution_text(sample.completion, ctx.markers)
    return max(metric(answer, ref) for ref in refs)


def score_exact(sample: Sample, params: FieldParam, ctx: Context) -> float:
    return _best(exact_match, sample, params, ctx)


def score_f1(sample: Sample, params: FieldParam, ctx: Context) -> float:
    return _best(token_f1, sample, params, ctx)


EXACT_MATCH = RewardPreset(
    name="exact_match",
    title="QA exact match",
    description="1.0 when the answer (the solution section, else the whole completion) equals "
    "a reference from the column after normalising case, punctuation and spaces, else 0.0.",
    score_range=(0.0, 1.0),
    params=FieldParam,
    score=score_exact,
    example={"name": "exact_match", "params": {"field": "answer"}},
)

TOKEN_F1 = RewardPreset(
    name="token_f1",
    title="QA token F1",
    description="F1 of the normalised words the answer shares with the best reference from "
    "the column (SQuAD): 1.0 identical, 0.0 nothing in common.",
    score_range=(0.0, 1.0),
    params=FieldParam,
    score=score_f1,
    example={"name": "token_f1", "params": {"field": "answer"}},
)
