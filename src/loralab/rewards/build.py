"""From ``RewardSpec``s to TRL reward functions, their weights and the system prompt.

A TRL reward function is called as ``f(prompts, completions, **kwargs)`` with one entry per
completion; prompts and completions are strings or chat lists, and ``kwargs`` carries the
dataset's other columns (``answer``, ...) as lists of the same length. It returns one float
per completion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from loralab.config.rewards import Markers, RewardSpec
from loralab.errors import ConfigError, FieldProblem
from loralab.rewards.base import Context, Sample
from loralab.rewards.registry import PRESETS
from loralab.rewards.sandbox import INSTALL_FIX, bwrap_path
from loralab.rewards.text import as_text

__all__ = [
    "RewardFunc",
    "build_reward_funcs",
    "check_reward_specs",
    "reward_weights",
    "score_samples",
    "system_prompt",
]

RewardFunc = Callable[..., list[float]]

# Keyword arguments TRL adds besides the dataset's columns.
_TRL_EXTRAS = frozenset({"completion_ids", "trainer_state", "log_extra", "log_metric"})

_SYSTEM_PROMPT = (
    "You are given a problem.\n"
    "Think about the problem and provide your working out.\n"
    "Place it between {reasoning_start} and {reasoning_end}.\n"
    "Then, provide your solution between {solution_start}{solution_end}"
)

ALLOW_FIX = "Set LORALAB_ALLOW_CUSTOM_REWARDS=true on the server to allow sandboxed custom code."


def system_prompt(markers: Markers) -> str:
    """The system prompt asking for the working out and the solution between ``markers``."""
    return _SYSTEM_PROMPT.format(**markers.model_dump())


def reward_weights(specs: Sequence[RewardSpec]) -> list[float]:
    """The weights of ``specs``, in order (TRL's ``reward_weights``)."""
    return [float(spec.weight) for spec in specs]


def check_reward_specs(
    specs: Sequence[RewardSpec],
    loc_prefix: str = "train.rewards",
    *,
    allow_custom: bool = False,
) -> list[FieldProblem]:
    """Every problem with ``specs``: unknown names, invalid params, code to run while custom
    rewards are disabled (``allow_custom``) or while bubblewrap is missing. Locations are
    ``{loc_prefix}.{i}.name`` or ``{loc_prefix}.{i}.params.<field>``."""
    problems: list[FieldProblem] = []
    for i, spec in enumerate(specs):
        loc = f"{loc_prefix}.{i}"
        preset = PRESETS.get(spec.name)
        if preset is None:
            problems.append(
                FieldProblem(
                    f"{loc}.name",
                    f"Unknown reward {spec.name!r}.",
                    fix="Use one of: " + ", ".join(PRESETS) + ".",
                )
            )
            continue
        try:
            params = preset.params.model_validate(spec.params)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"])
                problems.append(
                    FieldProblem(
                        f"{loc}.params" + (f".{where}" if where else ""),
                        f"{spec.name}: {error['msg']}",
                    )
                )
            continue
        if preset.runs_code(params):
            where = f"{loc}.name" if spec.name == "python" else f"{loc}.params.tests"
            if not allow_custom:
                problems.append(
                    FieldProblem(
                        where,
                        f"{spec.name}: custom code is disabled on this server.",
                        fix=ALLOW_FIX,
                    )
                )
            elif bwrap_path() is None:
                problems.append(
                    FieldProblem(
                        where,
                        f"{spec.name}: custom code runs only in the bubblewrap sandbox, which is "
                        "not installed.",
                        fix=INSTALL_FIX,
                    )
                )
    return problems


def build_reward_funcs(
    specs: Sequence[RewardSpec], markers: Markers, *, allow_custom: bool = False
) -> list[RewardFunc]:
    """One TRL reward function per spec, named (``__name__``) by a stable label such as
    ``math_answer`` or ``rule:regex`` (``#2``, ``#3`` added to repeats).

    Raises ``ConfigError`` (422) with every problem ``check_reward_specs`` finds.
    """
    problems = check_reward_specs(specs, "rewards", allow_custom=allow_custom)
    if problems:
        raise ConfigError("The rewards are not valid.", problems=problems)
    ctx = Context(markers=markers, allow_custom=allow_custom)
    funcs: list[RewardFunc] = []
    seen: dict[str, int] = {}
    for spec in specs:
        preset = PRESETS[spec.name]
        params = preset.params.model_validate(spec.params)
        label = preset.label_for(params)
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label}#{seen[label]}"
        funcs.append(_reward_func(preset, params, ctx, label))
    return funcs


def _reward_func(preset, params, ctx: Context, label: str) -> RewardFunc:
    def reward(prompts: Sequence[Any] | None, completions: Sequence[Any], **kwargs: Any):
        return preset.score_all(samples_from(prompts, completions, kwargs), params, ctx)

    reward.__name__ = label
    reward.__qualname__ = label
    reward.__doc__ = f"{preset.title}: {preset.description}"
    return reward


def samples_from(
    prompts: Sequence[Any] | None, completions: Sequence[Any], columns: Mapping[str, Any]
) -> list[Sample]:
    """TRL's call arguments as ``Sample``s: text of each prompt (its user turns) and completion
    (its assistant turns) with that completion's row of the other columns."""
    n = len(completions)
    lists = {
        k: v
        for k, v in columns.items()
        if k not in _TRL_EXTRAS and isinstance(v, (list, tuple)) and len(v) == n
    }
    prompts = list(prompts) if prompts is not None else [""] * n
    return [
        Sample(
            prompt=as_text(prompts[i] if i < len(prompts) else "", role="user"),
            completion=as_text(completions[i], role="assistant"),
            row={k: v[i] for k, v in lists.items()},
        )
        for i in range(n)
    ]


def score_samples(
    specs: Sequence[RewardSpec],
    markers: Markers,
    samples: Sequence[Sample],
    *,
    allow_custom: bool = False,
) -> list[dict[str, Any]]:
    """Each sample's ``{scores: {label: value}, total}``, where the total is the weighted sum
    (what GRPO trains on). Raises ``ConfigError`` for invalid specs, ``SandboxError`` when
    custom code fails."""
    funcs = build_reward_funcs(specs, markers, allow_custom=allow_custom)
    weights = reward_weights(specs)
    prompts = [s.prompt for s in samples]
    completions = [s.completion for s in samples]
    keys = sorted({k for s in samples for k in s.row})
    columns = {k: [s.row.get(k) for s in samples] for k in keys}
    per_func = [f(prompts, completions, **columns) for f in funcs]
    out = []
    for i in range(len(samples)):
        scores = {
            f.__name__: round(values[i], 6) for f, values in zip(funcs, per_func, strict=True)
        }
        total = sum(w * values[i] for w, values in zip(weights, per_func, strict=True))
        out.append({"scores": scores, "total": round(total, 6)})
    return out
