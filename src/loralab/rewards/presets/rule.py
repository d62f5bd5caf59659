"""rule: a reward declared without code.

``kind`` picks the check, ``score`` is what a passing completion gets (0.0 otherwise):

- ``regex``: ``pattern`` is found in the completion (Python ``re.search``);
- ``contains``: ``value``, or the row's ``field``, is a substring of the completion;
- ``numeric_equal``: the completion's answer (see ``math_answer``) equals ``value``, or the
  row's ``field``, as a number;
- ``length_range``: the completion's length in ``unit`` is within ``[min, max]``.

Several rules combine by their weights like any rewards.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from loralab.config.strict import StrictModel
from loralab.rewards.answers import extract_answer, numbers_equal, parse_number
from loralab.rewards.base import Context, RewardPreset, Sample
from loralab.rewards.presets.length import measure


class RuleParams(StrictModel):
    kind: Literal["regex", "contains", "numeric_equal", "length_range"] = Field(
        description="What the rule checks."
    )
    pattern: str | None = Field(
        default=None, max_length=500, description="regex: the pattern searched for."
    )
    value: str | float | None = Field(
        default=None, description="contains / numeric_equal: what to compare with."
    )
    field: str | None = Field(
        default=None,
        max_length=128,
        description="contains / numeric_equal: a dataset column to compare with instead.",
    )
    min: int | None = Field(default=None, ge=0, description="length_range: the shortest.")
    max: int | None = Field(default=None, ge=0, description="length_range: the longest.")
    unit: Literal["chars", "words"] = Field(default="chars", description="length_range unit.")
    ignore_case: bool = Field(default=False, description="regex / contains: ignore case.")
    score: float = Field(default=1.0, ge=-100, le=100, description="The score when it passes.")

    @model_validator(mode="after")
    def _needs(self):
        if self.kind == "regex":
            if not self.pattern:
                raise ValueError("a regex rule needs `pattern`")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a valid regular expression: {exc}") from exc
        elif self.kind in ("contains", "numeric_equal"):
            if self.value is None and not self.field:
                raise ValueError(f"a {self.kind} rule needs `value` or `field`")
            numeric = self.kind == "numeric_equal" and self.value is not None
            if numeric and parse_number(str(self.value)) is None:
                raise ValueError("`value` of a numeric_equal rule must be a number")
        elif self.min is None and self.max is None:
            raise ValueError("a length_range rule needs `min`, `max` or both")
        elif self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` must not be more than `max`")
        return self


def _expected(sample: Sample, params: RuleParams) -> str | None:
    if params.field:
        found = sample.row.get(params.field)
        return None if found is None else str(found)
    return None if params.value is None else str(params.value)


def passes(sample: Sample, params: RuleParams, ctx: Context) -> bool:
    text = sample.completion
    if params.kind == "regex":
        flags = re.IGNORECASE if params.ignore_case else 0
        return re.search(params.pattern or "", text, flags) is not None
    if params.kind == "length_range":
        n = measure(text, params.unit)
        return (params.min is None or n >= params.min) and (params.max is None or n <= params.max)
    expected = _expected(sample, params)
    if expected is None:
        return False
    if params.kind == "contains":
        if params.ignore_case:
            return expected.lower() in text.lower()
        return expected in text
    want = parse_number(extract_answer(expected) or expected)
    got = parse_number(extract_answer(text, ctx.markers) or text)
    return want is not None and got is not None and numbers_equal(want, got)


def score(sample: Sample, params: RuleParams, ctx: Context) -> float:
    return params.score if passes(sample, params, ctx) else 0.0


PRESET = RewardPreset(
    name="rule",
    title="Rule (no code)",
    description="`score` (default 1.0) when the rule passes, else 0.0. Kinds: regex (pattern), "
    "contains (value or field), numeric_equal (value or field), length_range (min/max in "
    "chars or words).",
    score_range=(0.0, 1.0),
    params=RuleParams,
    score=score,
    label=lambda params: f"rule:{params.kind}",
    example={"name": "rule", "params": {"kind": "regex", "pattern": "^Answer: .+$"}},
)
