"""How a run names its reward functions (GRPO) and the markers its prompts and rewards share.

The schema only: the reward presets themselves live in ``loralab.rewards`` (a registry); a
``RewardSpec`` names one of them, with a weight and the preset's own parameters. No import path
ever comes from a config or a request.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from loralab.config.strict import StrictModel

__all__ = ["Markers", "RewardSpec"]


class Markers(StrictModel):
    """Where the model's reasoning and its final answer start and end in a completion; the
    system prompt template asks for them and the format and answer rewards look for them."""

    reasoning_start: str = Field(default="<start_working_out>", min_length=1, max_length=64)
    reasoning_end: str = Field(default="<end_working_out>", min_length=1, max_length=64)
    solution_start: str = Field(default="<SOLUTION>", min_length=1, max_length=64)
    solution_end: str = Field(default="</SOLUTION>", min_length=1, max_length=64)


class RewardSpec(StrictModel):
    """One reward function: a preset from the reward registry, its weight and its options."""

    name: str = Field(
        min_length=1,
        max_length=64,
        description="A reward preset (GET /api/rewards lists them), e.g. math_answer, format.",
        examples=["math_answer", "format", "rule"],
    )
    weight: float = Field(default=1.0, ge=-100, le=100, description="Its weight in the total.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The preset's own options (see its documentation), e.g. {'target': 200}.",
    )
