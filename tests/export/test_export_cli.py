"""``loralab export`` as a user runs it: a real subprocess on a temp data dir with the tiny
model and a LoRA of it registered; the files it prints exist and the F16 file passes parity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loralab.config import Settings
from loralab.services.adapters import AdapterRegistration, register_adapter
from loralab.services.models import ModelRegistration, register_model
from loralab.store import Database, migrate

pytestmark = pytest.mark.slow


def _loralab() -> list[str]:
    script = Path(sys.executable).with_name("loralab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "loralab.cli"]


def test_cli_export_writes_gguf_files_and_a_parity_report(tmp_path, tiny_model, qwen_lora):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = Database(Settings(data_dir=data_dir).resolved_database_url)
    migrate(db)
    model = register_model(db, ModelRegistration(path=str(tiny_model), name="tiny"))
    reg = AdapterRegistration(path=str(qwen_lora), base_model=f"model:{model.id}", name="cli")
    adapter = register_adapter(db, reg)
    db.dispose()
    out = tmp_path / "out"
    args = ["export", adapter.id, "--format", "gguf", "--quant", "f16", "--quant", "q4_k_m"]
    proc = subprocess.run(
        [*_loralab(), *args, "--out", str(out), "--data-dir", str(data_dir), "--json"],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout[proc.stdout.index('{\n  "files"') :])
    names = {f["name"] for f in result["files"]}
    assert {"gguf/cli-f16.gguf", "gguf/cli-q4_k_m.gguf", "Modelfile", "parity.json"} <= names
    assert all((out / n).exists() for n in names)
    assert result["parity"]["quantizations"][0]["passed"] is True and not result["suspect"]


def test_cli_export_of_an_unknown_quantization_fails_with_a_code(tmp_path):
    proc = subprocess.run(
        [*_loralab(), "export", "abc", "--quant", "q9", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "error[invalid_request]" in proc.stderr
