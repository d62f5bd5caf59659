"""Rules that span several fields of a ``RunConfig``.

``RunConfig`` runs them in its own model validator, so every way a config is parsed (YAML, a
request body, ``--set``, a stored job) reports them, each at its own field path and all together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loralab.errors import FieldProblem

if TYPE_CHECKING:
    from loralab.config.run import RunConfig

__all__ = ["PREFERENCE_METHODS", "check_run_config"]

# Methods that train on preference data: pairs (prompt, chosen, rejected) for all of them, and
# single replies labelled good or bad (prompt, completion, label) for KTO alone.
PREFERENCE_METHODS = frozenset({"dpo", "orpo", "kto"})
_PAIR_METHODS = frozenset({"dpo", "orpo"})
# The data formats of preference data (loralab.data.fields.PREFERENCE_FORMATS).
_PREFERENCE_FORMATS = frozenset({"preference", "unpaired_preference"})


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
    problems += _method_rules(cfg)
    return problems


def _method_rules(cfg: RunConfig) -> list[FieldProblem]:
    """What each training method needs of the data and of its own fields."""
    problems: list[FieldProblem] = []
    t, d = cfg.train, cfg.data
    method = t.method
    if method in _PAIR_METHODS and d.format == "unpaired_preference":
        problems.append(
            FieldProblem(
                loc="data.format",
                message=(
                    f"{method} compares a chosen and a rejected reply to the same prompt; "
                    "unpaired_preference rows have one reply each, labelled good or bad"
                ),
                fix="use train.method: kto, which learns from labelled replies, or a dataset "
                "of pairs (prompt, chosen, rejected; data.format: preference)",
            )
        )
    elif method in _PAIR_METHODS and d.format not in ("auto", "preference"):
        problems.append(
            FieldProblem(
                loc="data.format",
                message=f"{method} trains on preference pairs, not {d.format} rows",
                fix="use a dataset with prompt, chosen and rejected columns (data.format: "
                "preference), or train.method: sft",
            )
        )
    if method == "kto" and d.format not in ("auto", *_PREFERENCE_FORMATS):
        problems.append(
            FieldProblem(
                loc="data.format",
                message=f"kto trains on replies labelled good or bad, not {d.format} rows",
                fix="use a dataset with prompt, completion and label columns (data.format: "
                "unpaired_preference) or pairs (data.format: preference), or train.method: sft",
            )
        )
    if method == "sft" and d.format in _PREFERENCE_FORMATS:
        problems.append(
            FieldProblem(
                loc="data.format",
                message=f"sft trains on conversations, not {d.format} rows",
                fix="use train.method: kto for labelled replies or dpo for pairs, or a "
                "conversation dataset",
            )
        )
    if method == "kto" and t.batch_size < 2:
        problems.append(
            FieldProblem(
                loc="train.batch_size",
                message="kto estimates its KL term from other rows of the batch; it needs 2 or more",
                fix="set train.batch_size: 2 (lower gradient_accumulation_steps to keep the batch)",
            )
        )
    if method == "grpo":
        if d.format in _PREFERENCE_FORMATS:
            problems.append(
                FieldProblem(
                    loc="data.format",
                    message="grpo needs prompts with reference answers, not preference data",
                    fix="use a question/answer dataset, or train.method: dpo for pairs and kto "
                    "for labelled replies",
                )
            )
        if not t.rewards:
            problems.append(
                FieldProblem(
                    loc="train.rewards",
                    message="grpo needs at least one reward function",
                    fix="add one, e.g. rewards: [{name: format}] (GET /api/rewards lists them)",
                )
            )
        if t.loss_type == "luspo" and t.importance_sampling_level != "sequence":
            problems.append(
                FieldProblem(
                    loc="train.importance_sampling_level",
                    message="the luspo loss needs importance_sampling_level: sequence",
                )
            )
    return problems
