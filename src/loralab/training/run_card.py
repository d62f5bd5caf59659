"""The run card: everything needed to know what a run did and to repeat it.

``run_card.json`` (for programs) and a short ``README.md`` model card (for people and the hub)
go in the run's output folder. Both are written atomically (temp file, then rename).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from loralab.config import RunConfig
from loralab.models import accelerator_report
from loralab.training.environment import choose_threads, hardware_summary, library_versions

__all__ = ["RUN_CARD_NAME", "build_run_card", "write_run_card"]

RUN_CARD_NAME = "run_card.json"
CARD_VERSION = 1


def build_run_card(
    config: RunConfig,
    *,
    status: str,
    step: int,
    total_steps: int,
    metrics: dict[str, float],
    data: dict[str, Any],
    timings: dict[str, float],
    adapter_path: str | None,
    checkpoint_path: str | None,
    resumed_from: int | None,
    threads: int | None,
    device: str,
    speed: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The run card as a dict.

    Args:
        config: the resolved run config.
        status: ``"completed"`` or ``"stopped"``.
        step, total_steps: where the run ended and where it was going.
        metrics: final metrics (train loss, eval loss, runtime ...).
        data: dataset facts: ``fingerprint``, example counts, source.
        timings: seconds per phase: load_model, prepare_data, train, save, total.
        adapter_path, checkpoint_path: the saved adapter and last complete checkpoint, if any.
        resumed_from: the checkpoint step this session resumed from.
        threads, device: what the run trained on.
        speed: what the run decided for itself, each ``{"value": ..., "reason": ...}``:
            ``threads``, ``gradient_checkpointing``, ``group_by_length``, ``chunked_loss``.
            Without it the card still says how the thread count was chosen.
    """
    if speed is None:
        speed = {"threads": _thread_facts(config, device, threads)}
    return {
        "card_version": CARD_VERSION,
        "name": config.name,
        "status": status,
        "method": config.train.method,
        "base_model": config.model.name_or_path,
        "step": step,
        "total_steps": total_steps,
        "metrics": metrics,
        "data": data,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "adapter_path": adapter_path,
        "checkpoint_path": checkpoint_path,
        "resumed_from": resumed_from,
        "device": device,
        "torch_threads": threads,
        "speed": speed,
        "versions": library_versions(),
        "hardware": hardware_summary(),
        "accelerators": [a.model_dump() for a in accelerator_report(cuda=device == "cuda")],
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config.model_dump(mode="json"),
    }


def _thread_facts(config: RunConfig, device: str, threads: int | None) -> dict[str, Any]:
    choice = choose_threads(config.train.cpu_threads, device)
    reason = choice.reason if choice.threads == threads else "set by the recipe"
    return {"value": threads, "reason": reason}


def write_run_card(out_dir: str | Path, card: dict[str, Any]) -> Path:
    """Write ``run_card.json`` and ``README.md`` into ``out_dir``; returns the JSON's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RUN_CARD_NAME
    _write_atomic(path, json.dumps(card, indent=2, sort_keys=False) + "\n")
    _write_atomic(out / "README.md", _model_card(card))
    return path


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _model_card(card: dict[str, Any]) -> str:
    cfg = card["config"]
    lora, train = cfg["lora"], cfg["train"]
    metrics = "\n".join(f"| {k} | {v:.4g} |" for k, v in card["metrics"].items()) or "| - | - |"
    versions = ", ".join(f"{k} {v}" for k, v in card["versions"].items())
    title = card.get("name") or f"LoRA adapter for {card['base_model']}"
    return f"""---
base_model: {card["base_model"]}
library_name: peft
tags: [loralab, lora, {card["method"]}]
---

# {title}

A LoRA adapter trained with loralab ({card["method"]}), status **{card["status"]}** at step
{card["step"]} of {card["total_steps"]}.

- Data: `{cfg["data"]["source"]}` ({card["data"].get("train_examples", "?")} training examples,
  fingerprint `{card["data"].get("fingerprint")}`)
- LoRA: r={lora["r"]}, alpha={lora["alpha"]}, dropout={lora["dropout"]},
  targets={lora["target_modules"]}
- Training: lr={train["learning_rate"]}, batch {train["batch_size"]} x
  {train["gradient_accumulation_steps"]} accumulation, {train["lr_scheduler"]} schedule,
  max length {train["max_seq_length"]}
- Trained on: {card["device"]}{_speed_line(card.get("speed") or {})}; {versions}

| metric | value |
| --- | --- |
{metrics}

## Use

```python
from peft import AutoPeftModelForCausalLM
from transformers import AutoTokenizer

model = AutoPeftModelForCausalLM.from_pretrained("adapter")
tokenizer = AutoTokenizer.from_pretrained("adapter")
```

Repeat the run with `loralab train config.yaml` (the resolved config saved beside this card).
"""


def _speed_line(speed: dict[str, dict[str, Any]]) -> str:
    parts = []
    threads = speed.get("threads", {})
    if threads.get("value"):
        parts.append(f"{threads['value']} threads ({threads.get('reason')})")
    for name, label in (
        ("gradient_checkpointing", "gradient checkpointing"),
        ("group_by_length", "length-grouped batches"),
        ("chunked_loss", "chunked loss"),
        ("fused_lora", "fused LoRA layers"),
        ("fused_layers", "fused norm and MLP layers"),
    ):
        if name in speed:
            parts.append(f"{label} {'on' if speed[name]['value'] else 'off'}")
    return f" ({', '.join(parts)})" if parts else ""
