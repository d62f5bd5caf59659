"""RunConfig in and out: YAML files, ``--set a.b=c`` overrides, presets, and validation that
reports every problem at once, each with its field path."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from loralab.config.rules import check_run_config
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
    # RunConfig already drops the training method's tag from the path ("train.learning_rate").
    return ".".join(str(p) for p in parts) or "(root)"


def _problem(err: Any) -> FieldProblem:
    ctx = err.get("ctx") or {}
    fix = ctx.get("fix") if isinstance(ctx.get("fix"), str) else None
    return FieldProblem(loc=_loc(tuple(err["loc"])), message=err["msg"], fix=fix)


def parse_run_config(raw: dict[str, Any]) -> RunConfig:
    """Validate a raw dict into a RunConfig, or raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(
            "A run config must be a mapping with model, data, lora, train and output sections."
        )
    try:
        # The model runs the cross-field rules too (check_run_config), so this is every problem.
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(err) for err in exc.errors()]
        raise ConfigError(
            f"The run config has {len(problems)} problem(s).", problems=problems
        ) from None


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
