"""Rules that span several fields of a ``RunConfig``.

``RunConfig`` runs them in its own model validator, so every way a config is parsed (YAML, a
request body, ``--set``, a stored job) reports them, each at its own field path and all together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loralab.errors import FieldProblem

if TYPE_CHECKING:
    from loralab.config.run import RunConfig

__all__ = ["check_run_config"]


def check_run_config(cfg: RunConfig) -> list[FieldProblem]:
    """Rules that span several fields. Returns every problem, not just the first."""
    problems: list[FieldProblem] = []
    t, d, lora = cfg.train, cfg.data, cfg.lora
    has_eval = d.eval_fraction > 0 or d.eval_split is not None
    if t.eval_steps is not None and not has_eval:
        problems.append(
            FieldProblem(
                loc="train.eval_steps",
                message="eval_steps is set but there is no eval data",
                fix="set data.eval_fraction (e.g. 0.05) or data.eval_split, or clear eval_steps",
            )
        )
    if d.eval_fraction > 0 and d.eval_split is not None:
        problems.append(
            FieldProblem(
                loc="data.eval_split",
                message="give either eval_fraction or eval_split, not both",
            )
        )
    if lora.use_dora and cfg.model.quantization == "8bit":
        problems.append(
            FieldProblem(
                loc="lora.use_dora",
                message="DoRA does not support 8-bit base weights",
                fix="use 4bit or none for model.quantization",
            )
        )
    if isinstance(lora.target_modules, list) and not lora.target_modules:
        problems.append(
            FieldProblem(
                loc="lora.target_modules",
                message="at least one module is needed",
                fix="use 'all-linear' or names like q_proj, v_proj",
            )
        )
    return problems
