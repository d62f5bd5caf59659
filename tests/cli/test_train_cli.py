"""``loralab train`` as a user runs it: a real subprocess on the tiny model and the example YAML."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/tiny-cpu.yaml"


def _loralab() -> list[str]:
    script = Path(sys.executable).with_name("loralab")
    return (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from loralab.cli import main; main()"]
    )  # noqa: E501


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def _train(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_loralab(), "train", EXAMPLE, *args],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def base_args(tiny_model, formats_dir) -> list[str]:
    return [
        "--set", f"model.name_or_path={tiny_model}",
        "--set", f"data.source={formats_dir / 'finetome_sample.parquet'}",
        "--set", "data.max_samples=60",
        "--set", "train.logging_steps=1",
    ]  # fmt: skip


@pytest.mark.slow
def test_train_writes_adapter_checkpoint_and_run_card_then_resume_continues(base_args, tmp_path):
    out = tmp_path / "run"

    first = _train(*base_args, "--set", "train.max_steps=3", "--set", f"output.dir={out}")

    assert first.returncode == 0, first.stdout + first.stderr
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "checkpoints" / "checkpoint-3" / "COMPLETE").is_file()
    card = json.loads((out / "run_card.json").read_text())
    assert card["status"] == "completed" and card["step"] == 3
    assert str(out / "adapter") in first.stdout and str(out / "run_card.json") in first.stdout
    assert "step 3/3" in first.stdout

    again = _train(*base_args, "--set", "train.max_steps=3", "--output-dir", str(out))
    assert again.returncode == 2 and "error" in again.stderr  # the run is there: no overwrite

    resumed = _train(*base_args, "--set", "train.max_steps=5", "--output-dir", str(out), "--resume")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed from step 3" in resumed.stdout and "step 5/5" in resumed.stdout
    card = json.loads((out / "run_card.json").read_text())
    assert card["step"] == 5 and card["resumed_from"] == 3


@pytest.mark.slow
def test_ctrl_c_stops_with_a_checkpoint_that_resume_continues(base_args, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*_loralab(), "train", EXAMPLE, *base_args, "--set", "train.max_steps=400",
         "--output-dir", str(out)],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = []
    deadline = time.monotonic() + 240
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("step 2/"):
                proc.send_signal(signal.SIGINT)
                break
            assert time.monotonic() < deadline, "".join(lines)
        rest, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    output = "".join(lines) + rest

    assert proc.returncode == 130, output
    assert "Stopping after this step" in output and "Stopped at step" in output
    card = json.loads((out / "run_card.json").read_text())
    assert card["status"] == "stopped" and card["adapter_path"] is None
    step = card["step"]
    assert 2 <= step < 400
    assert (out / "checkpoints" / f"checkpoint-{step}" / "COMPLETE").is_file()

    resumed = _train(
        *base_args, "--set", f"train.max_steps={step + 1}", "--output-dir", str(out), "--resume"
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resumed from step {step}" in resumed.stdout
