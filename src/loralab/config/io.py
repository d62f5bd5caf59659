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
from loralab.config.run import TRAIN_METHODS, RunConfig, method_name
from loralab.errors import ConfigError, FieldProblem

__all__ = [
    "PRESETS",
    "apply_overrides",
    "apply_preset",
    "check_run_config",
    "dump_run_config",
    "load_preset",
    "load_run_config",
    "parse_run_config",
    "preset_description",
]


def _read_presets(method: str) -> dict[str, dict[str, Any]]:
    path = resources.files("loralab.config").joinpath("presets", f"{method}.yaml")
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


# Each training method's presets, by name, the method's first preset its default. They live in
# presets/<method>.yaml; a method without that file has none.
PRESETS: dict[str, tuple[str, ...]] = {
    method_name(m): tuple(_read_presets(method_name(m))) for m in TRAIN_METHODS
}
DEFAULT_METHOD = method_name(TRAIN_METHODS[0])


def preset_description(name: str, method: str = DEFAULT_METHOD) -> str:
    """The one-line description of ``method``'s preset ``name``.

    Raises:
        ConfigError: the method has no such preset.
    """
    _check_preset(name, method)
    return str(_read_presets(method)[name].get("description", ""))


def load_preset(name: str, method: str | None = None) -> dict[str, Any]:
    """A preset's partial config: its ``lora`` and ``train`` sections, ``train.method`` set.

    Args:
        name: the preset, or ``"<method>/<name>"`` (``"dpo/fast"``).
        method: whose preset (``sft`` when neither this nor ``name`` says).

    Raises:
        ConfigError: an unknown preset or method, or a name for another method than ``method``.
    """
    method, name = _split_preset(name, method)
    _check_preset(name, method)
    raw = copy.deepcopy(_read_presets(method)[name])
    raw.pop("description", None)
    raw["train"] = {"method": method, **(raw.get("train") or {})}
    return raw


def _split_preset(name: str, method: str | None) -> tuple[str, str]:
    own, sep, short = name.partition("/")
    if not sep:
        return method or DEFAULT_METHOD, name
    if method is not None and method != own:
        raise ConfigError(
            f"Preset '{name}' is for {own}, but train.method is {method}.",
            fix=f"Use `preset: {short}` for {method}'s own, or set train.method: {own}.",
            problems=[FieldProblem(loc="preset", message=f"a {own} preset for {method}")],
        )
    return own, short


def _check_preset(name: str, method: str) -> None:
    if method not in PRESETS:
        raise ConfigError(
            f"Unknown training method '{method}'.",
            fix=f"Use one of: {', '.join(PRESETS)}.",
            problems=[FieldProblem(loc="train.method", message="unknown method")],
        )
    if name not in PRESETS[method]:
        names = ", ".join(PRESETS[method]) or "(none)"
        elsewhere = [f"{m}/{name}" for m, known in PRESETS.items() if name in known]
        raise ConfigError(
            f"{method} has no preset '{name}'.",
            fix=f"Presets of {method}: {names}."
            + (f" For another method: {', '.join(elsewhere)}." if elsewhere else ""),
            problems=[FieldProblem(loc="preset", message=f"not a preset of {method}")],
        )


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_preset(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """``raw`` laid over the preset ``name`` of its ``train.method`` (sft when unset), or over
    ``"<method>/<name>"``; what ``raw`` sets wins.

    Raises:
        ConfigError: see ``load_preset``.
    """
    train = raw.get("train")
    method = train.get("method") if isinstance(train, dict) else None
    return _deep_merge(load_preset(name, method if isinstance(method, str) else None), raw)


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
    """Read a YAML file, apply overrides, lay the result over a preset if given, and validate.

    The preset is the one of the config's ``train.method`` (``preset: fast`` with ``method:
    dpo`` is DPO's fast preset), or names its method (``preset: dpo/fast``). The file and the
    overrides win over the preset.
    """
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
    raw = apply_overrides(raw, overrides or [])
    if preset:
        raw = apply_preset(raw, str(preset))
    return parse_run_config(raw)


def dump_run_config(cfg: RunConfig) -> str:
    """The full resolved config as YAML, ready for ``loralab train``."""
    data = cfg.model_dump(mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
