"""The reward registry: every preset once, by name. Adding a preset is one module in
``presets/`` and one line here."""

from __future__ import annotations

from loralab.rewards.base import RewardPreset
from loralab.rewards.presets import (
    citation,
    code,
    format_markers,
    json_output,
    length,
    math_answer,
    python_code,
    qa,
    reasoning_length,
    rule,
    summary,
)

__all__ = ["PRESETS", "get_preset"]

PRESETS: dict[str, RewardPreset] = {
    p.name: p
    for p in (
        math_answer.PRESET,  # 0..1: the final answer equals the reference as a number
        format_markers.PRESET,  # 0..1: the markers, once each, in order
        reasoning_length.PRESET,  # 0..1: words of working out within bounds
        code.PRESET,  # 0..1: valid Python; share of tests passed in the sandbox
        json_output.JSON_VALID,  # 0/1: parses as JSON
        json_output.JSON_SCHEMA,  # 0, 0.5, 1: JSON, and matching the schema
        length.PRESET,  # 0..1: closeness to a target length
        qa.EXACT_MATCH,  # 0/1: the normalised answer equals a reference
        qa.TOKEN_F1,  # 0..1: SQuAD token F1 against the best reference
        citation.PRESET,  # 0..1: [n] references present (and existing)
        summary.PRESET,  # 0..1: ROUGE-L against a reference summary
        rule.PRESET,  # 0 or `score`: a declarative regex/contains/numeric/length rule
        python_code.PRESET,  # any: custom code in the sandbox, when the server allows it
    )
}


def get_preset(name: str) -> RewardPreset | None:
    return PRESETS.get(name)
