"""A second training method that exists only in the tests, and a RunConfig that offers it.

It proves the schema, the errors and the UI handle more than one method before a real second
method (DPO) lands. ``tests/web/test_method_picker.py`` loads this file by its path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from loralab.config import SFTConfig, TrainBase, run_config_model

__all__ = ["ToyConfig", "ToyRunConfig"]


class ToyConfig(TrainBase):
    """Toy preference tuning: a test-only method with fields of its own."""

    model_config = ConfigDict(title="Toy preference tuning")

    method: Literal["toy"] = Field(default="toy", description="Training method.")
    beta: float = Field(
        default=0.1, gt=0, le=10, description="How far the tuned model may drift from the base."
    )
    reference_free: bool = Field(
        default=False, description="Compare against no reference model (saves memory)."
    )

    @model_validator(mode="after")
    def _beta_without_reference(self) -> ToyConfig:
        if self.reference_free and self.beta > 1:
            raise PydanticCustomError(
                "toy_beta_too_high",
                "beta must be at most {limit} without a reference",
                {"limit": 1},
            )
        return self


ToyRunConfig = run_config_model((SFTConfig, ToyConfig), name="ToyRunConfig")
