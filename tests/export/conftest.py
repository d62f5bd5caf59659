"""Fixtures for the export tests: LoRA adapters of the tiny models (made here with PEFT, with
non-zero B so merging changes the model) and a full export of each, made once a session.

The API fixtures (``client`` with the real scheduler, ``db``, ``settings``) are the ones of
``tests/api``: a fresh app on a fresh SQLite or PostgreSQL store per test.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from api.conftest import (  # noqa: F401  (fixtures)
    app,
    bare_client,
    client,
    database_url,
    db,
    make_settings,
    postgres_database,
    settings,
)

QUANTS = ["f16", "q8_0", "q4_k_m"]


class ListReporter:
    """Collects what the export recipe reports."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lines: list[str] = []

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def log(self, message: str, level: str = "info") -> None:
        self.lines.append(message)


def make_lora(base: Path, out: Path, *, seed: int = 0) -> Path:
    """A LoRA adapter of ``base`` on every attention and MLP projection, B not zero."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    config = LoraConfig(r=8, lora_alpha=16, target_modules=targets, init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():  # a modest change: random B scaled down
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.mul_(0.05)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def qwen_lora(tiny_model, tmp_path_factory) -> Path:
    return make_lora(tiny_model, tmp_path_factory.mktemp("qwen-lora"))


@pytest.fixture(scope="session")
def llama_lora(tiny_llama, tmp_path_factory) -> Path:
    return make_lora(tiny_llama, tmp_path_factory.mktemp("llama-lora"), seed=1)


def export_once(base: Path, adapter: Path, out: Path, quants=QUANTS) -> dict[str, Any]:
    from loralab.export import ExportPlan, run_export

    plan = ExportPlan(
        base=str(base),
        adapter_path=str(adapter),
        name="tiny",
        formats=["adapter", "merged", "gguf"],
        base_label=base.name,
        adapter_label="test lora",
        quantizations=list(quants),
        system_prompt="You are terse.",
    )
    reporter = ListReporter()
    result = run_export(plan, out, reporter, threading.Event())
    return {"result": result, "out": out, "reporter": reporter, "base": base, "adapter": adapter}


@pytest.fixture(scope="session")
def exported(request, tmp_path_factory):
    """``exported(arch)``: the full export (adapter, merged, F16/Q8_0/Q4_K_M, parity) of a
    LoRA of the tiny ``qwen2`` or ``llama`` model, made once a session."""
    made: dict[str, dict[str, Any]] = {}

    def get(arch: str) -> dict[str, Any]:
        if arch not in made:
            base = request.getfixturevalue("tiny_model" if arch == "qwen2" else "tiny_llama")
            adapter = request.getfixturevalue("qwen_lora" if arch == "qwen2" else "llama_lora")
            made[arch] = export_once(base, adapter, tmp_path_factory.mktemp(f"export-{arch}"))
        return made[arch]

    return get
