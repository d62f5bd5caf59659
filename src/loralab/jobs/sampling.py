"""``SamplingSpec``: how the batch and evaluation jobs pick tokens, as a spec people fill in.

The same fields and bounds as ``loralab.inference.SamplingParams`` (greedy by default, so an
evaluation is repeatable); ``to_params`` makes the engine's object in the worker.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from loralab.config import StrictModel
from loralab.inference.params import MAX_STOP_STRINGS, MAX_TOKENS_LIMIT

__all__ = ["SamplingSpec"]


class SamplingSpec(StrictModel):
    """How to pick tokens; temperature 0 is greedy (top_p, top_k and seed are then unused)."""

    temperature: float = Field(default=0.0, ge=0, le=2, description="0 for greedy decoding.")
    top_p: float = Field(default=1.0, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int = Field(default=0, ge=0, le=100_000, description="0 for off.")
    max_tokens: int = Field(
        default=256, ge=1, le=MAX_TOKENS_LIMIT, description="The most tokens an answer may have."
    )
    stop: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=MAX_STOP_STRINGS,
        description="Strings that end an answer (not included in it).",
    )
    seed: int | None = Field(default=None, ge=0, lt=2**63, description="Makes sampling repeatable.")

    def to_params(self) -> Any:
        """The engine's ``SamplingParams``."""
        from loralab.inference.params import SamplingParams

        return SamplingParams.from_dict(self.model_dump())
