"""Adapter folders on disk, read without the training stack: what a PEFT folder holds, whether it
fits a base model, and the adapter row a finished run gets.

Only JSON and the safetensors header are read: never a pickle (``adapter_model.bin`` is refused).
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from loralab.errors import FieldProblem, ModelError
from loralab.jobs.refs import is_hub_id
from loralab.store.adapters import adapter_of_job, add_adapter
from loralab.store.models import find_model_by_path
from loralab.store.tables import AdapterRow, JobRow

__all__ = [
    "ADAPTER_FILES",
    "adapters_root",
    "base_reference",
    "check_fits_base",
    "copy_adapter_files",
    "describe_adapter",
    "register_run_adapter",
]

WEIGHTS = "adapter_model.safetensors"
CONFIG = "adapter_config.json"
# What an adapter is: the weights and config, plus the tokenizer and chat template saved with
# it. Optimizer and RNG state in a checkpoint are not part of it.
ADAPTER_FILES = (
    CONFIG,
    WEIGHTS,
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "README.md",
)
_MAX_HEADER = 100 * 1024 * 1024


def adapters_root(data_dir: str | Path) -> Path:
    """``<data dir>/adapters``: promoted checkpoints live here, one folder per adapter id."""
    return Path(data_dir).expanduser() / "adapters"


def _bad(folder: Path, message: str, fix: str | None = None) -> ModelError:
    return ModelError(
        f"{folder} is not a usable LoRA adapter: {message}.",
        code="invalid_adapter",
        problems=[FieldProblem(loc="path", message=message)],
        fix=fix
        or "Give the folder PEFT's save_pretrained wrote (adapter_config.json and "
        "adapter_model.safetensors).",
    )


def _read_config(folder: Path) -> dict[str, Any]:
    try:
        cfg = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _bad(folder, f"{CONFIG} is missing") from None
    except (OSError, ValueError) as exc:
        raise _bad(folder, f"{CONFIG} cannot be read ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("peft_type") not in ("LORA", None):
        raise _bad(folder, f"{CONFIG} is not a LoRA config (peft_type {cfg.get('peft_type')!r})")
    return cfg


def read_weight_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape, from the safetensors header alone."""
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            if size <= 0 or size > _MAX_HEADER:
                raise ValueError("header size out of range")
            header = json.loads(fh.read(size))
    except (OSError, ValueError, struct.error) as exc:
        raise _bad(path.parent, f"{WEIGHTS} is not a safetensors file ({exc})") from None
    return {
        name: list(meta.get("shape") or [])
        for name, meta in header.items()
        if name != "__metadata__" and isinstance(meta, dict)
    }


def describe_adapter(folder: Path) -> dict[str, Any]:
    """``{files, size_bytes, info}`` of an adapter folder.

    Raises:
        ModelError: no LoRA config, no safetensors weights (a ``.bin`` is a pickle and refused),
            or an unreadable header (422 ``invalid_adapter``).
    """
    if not folder.is_dir():
        raise _bad(folder, "no such folder")
    cfg = _read_config(folder)
    if not (folder / WEIGHTS).is_file():
        if (folder / "adapter_model.bin").is_file():
            raise _bad(
                folder,
                "its weights are a pickle (adapter_model.bin), which loralab never loads",
                fix="Re-save it with safe_serialization=True (PEFT's default) to get "
                "adapter_model.safetensors.",
            )
        raise _bad(folder, f"{WEIGHTS} is missing")
    shapes = read_weight_shapes(folder / WEIGHTS)
    files = [
        {"name": p.name, "size_bytes": p.stat().st_size}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name in ADAPTER_FILES
    ]
    targets = cfg.get("target_modules")
    info = {
        "r": cfg.get("r"),
        "alpha": cfg.get("lora_alpha"),
        "target_modules": sorted(targets) if isinstance(targets, list) else targets,
        "base_model_name_or_path": cfg.get("base_model_name_or_path"),
        "tensors": len(shapes),
    }
    return {"files": files, "size_bytes": sum(f["size_bytes"] for f in files), "info": info}


def _layer_widths(base_config: dict[str, Any]) -> set[int]:
    keys = ("hidden_size", "intermediate_size", "vocab_size", "head_dim")
    widths = {int(v) for k in keys if isinstance(v := base_config.get(k), int)}
    heads, kv = base_config.get("num_attention_heads"), base_config.get("num_key_value_heads")
    hidden = base_config.get("hidden_size")
    if isinstance(heads, int) and isinstance(hidden, int) and heads:
        head_dim = base_config.get("head_dim") or hidden // heads
        widths.add(int(head_dim) * int(kv or heads))
        widths.add(int(head_dim) * heads)
    return widths


def check_fits_base(folder: Path, base_dir: Path | None) -> list[str]:
    """Why the adapter cannot sit on the base model whose ``config.json`` is in ``base_dir``.

    Compares every LoRA matrix's outer dimension with the base model's layer widths (hidden,
    intermediate, attention projections, vocabulary). Empty when it fits, or when the base model
    is not on this machine to compare with (a hub id that is not cached).
    """
    if base_dir is None or not (base_dir / "config.json").is_file():
        return []
    try:
        base = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"the base model's config.json in {base_dir} cannot be read"]
    base = base.get("text_config", base) if isinstance(base, dict) else {}
    widths = _layer_widths(base)
    if not widths:
        return []
    wrong = set()
    for name, shape in read_weight_shapes(folder / WEIGHTS).items():
        if len(shape) != 2 or "lora_" not in name:
            continue
        outer = shape[1] if ".lora_A." in name else shape[0]
        if outer not in widths:
            wrong.add(f"{name.split('.lora_')[0].rsplit('.', 1)[-1]} ({outer} wide)")
    if wrong:
        sizes = ", ".join(str(w) for w in sorted(widths))
        return [
            f"its layers {', '.join(sorted(wrong)[:5])} do not match the base model, whose "
            f"layers are {sizes} wide: it was trained on another model"
        ]
    return []


def copy_adapter_files(source: Path, target: Path) -> None:
    """Copy only the adapter's files (no optimizer or RNG state) into ``target``, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        for name in ADAPTER_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, scratch / name)
        scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def base_reference(session: Session, base: str) -> str | None:
    """The reference a person would use for a base model: ``model:<id>`` of its registered
    folder, the hub id itself, or None for an unregistered folder."""
    registered = find_model_by_path(session, base)
    if registered is not None:
        return f"model:{registered.id}"
    return base if is_hub_id(base) else None


def register_run_adapter(session: Session, job: JobRow, run_card: dict[str, Any] | None):
    """The adapter row of a completed training run (made once; returns the existing one).

    Returns None when the run's folder holds no adapter.
    """
    existing = adapter_of_job(session, job.id)
    if existing is not None:
        return existing
    folder = Path(job.output_dir or "") / "adapter"
    if not job.output_dir or not (folder / CONFIG).is_file():
        return None
    described = describe_adapter(folder)
    config = job.config or {}
    model = config.get("model") or {}
    card = run_card or {}
    base = model.get("name_or_path") or described["info"].get("base_model_name_or_path") or ""
    row: AdapterRow = add_adapter(
        session,
        path=str(folder),
        name=job.name or config.get("name") or f"adapter {job.id[:8]}",
        source="training",
        base_model=str(base),
        base_ref=base_reference(session, str(base)),
        job_id=job.id,
        step=card.get("step") if card.get("step") is not None else job.step,
        method=card.get("method") or (config.get("train") or {}).get("method") or "sft",
        metrics=card.get("metrics") or job.metrics,
        size_bytes=described["size_bytes"],
        files=described["files"],
        info=described["info"],
    )
    return row
