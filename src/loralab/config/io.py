"""RunConfig in and out: YAML files, ``--set a.b=c`` overrides, presets, and validation that
reports every problem at once, each with its field path."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from loralab.config.run import RunConfig
from loralab.errors import ConfigError, FieldProblem

__all__ = [
    "PRESETS",
    "apply_overrides",
    "check_run_config",
    "dump_run_config",
    "load_preset",
    "load_run_config",
    "parse_run_config",
]

PRESETS = ("recommended", "fast", "quality")


def load_preset(name: str) -> dict[str, Any]:
    """The preset's partial config (lora and train sections) as a dict."""
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset '{name}'.", fix=f"Use one of: {', '.join(PRESETS)}.")
    text = resources.files("loralab.config").joinpath("presets", f"{name}.yaml").read_text()
    return yaml.safe_load(text) or {}


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=c`` overrides; each value is read as YAML, so ``lora.r=8`` is an int."""
    out = copy.deepcopy(raw)
    problems = []
    for item in overrides:
        path, sep, value = item.partition("=")
        keys = [k for k in path.strip().split(".") if k]
        if not sep or not keys:
            problems.append(
                FieldProblem(loc=item, message="an override must look like section.field=value")
            )
            continue
        node = out
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        try:
            node[keys[-1]] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            node[keys[-1]] = value
    if problems:
        raise ConfigError("Some overrides could not be read.", problems=problems)
    return out


def _loc(parts: tuple[Any, ...]) -> str:
    # pydantic puts the union tag in the path ("train.sft.lr"); users write "train.lr".
    cleaned = [str(p) for p in parts if p not in ("sft", "dpo", "grpo") or len(parts) == 1]
    return ".".join(cleaned) or "(root)"


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


def parse_run_config(raw: dict[str, Any]) -> RunConfig:
    """Validate a raw dict into a RunConfig, or raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(
            "A run config must be a mapping with model, data, lora, train and output sections."
        )
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            FieldProblem(loc=_loc(tuple(err["loc"])), message=err["msg"]) for err in exc.errors()
        ]
        raise ConfigError(
            f"The run config has {len(problems)} problem(s).", problems=problems
        ) from None
    problems = check_run_config(cfg)
    if problems:
        raise ConfigError(f"The run config has {len(problems)} problem(s).", problems=problems)
    return cfg


def load_run_config(
    path: str | Path, overrides: list[str] | None = None, preset: str | None = None
) -> RunConfig:
    """Read a YAML file, lay it over a preset if given, apply overrides and validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.", fix="Check the path.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            f"{path} is not valid YAML.",
            problems=[FieldProblem(loc=str(path), message=str(exc).splitlines()[0], line=line)],
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping with model, data, lora and train sections.")
    file_preset = raw.pop("preset", None)
    preset = preset or file_preset  # the command line wins over the file
    if preset:
        raw = _deep_merge(load_preset(preset), raw)
    raw = apply_overrides(raw, overrides or [])
    return parse_run_config(raw)


def dump_run_config(cfg: RunConfig) -> str:
    """The full resolved config as YAML, ready for ``loralab train``."""
    data = cfg.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
