"""`loralab bench`: the command a user runs, and the SFT workload end to end at smoke size."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

LORALAB = [sys.executable, "-c", "from loralab.cli.app import main; main()"]


def _loralab(*args: str, env: dict[str, str] | None = None, timeout: float = 600):
    return subprocess.run(
        [*LORALAB, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        check=False,
    )


def test_bench_lists_its_workloads_and_refuses_an_unknown_one():
    from loralab.bench import WORKLOADS

    listed = _loralab("bench", "--list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(WORKLOADS)

    bad = _loralab("bench", "sft-huge")
    assert bad.returncode != 0
    assert "Unknown workload sft-huge" in bad.stderr and "sft-tiny" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_the_sft_workload_compares_loralab_with_plain_trl_as_whole_processes(
    tmp_path: Path, shared_data: Path
):
    # Smoke size; LLaMA-Factory's rows are left out (its venv is a separate, optional install).
    done = _loralab(
        "bench",
        "sft-tiny",
        "--quick",
        "--repeats",
        "1",
        "--work-dir",
        str(tmp_path),
        "--record",
        str(tmp_path / "benchmarks.md"),
        env={
            "LORALAB_BENCH_LLAMAFACTORY": str(tmp_path / "no-such-venv"),
            "LORALAB_SHARED_DATA": str(shared_data),
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "A quick smoke run" in out and "LLaMA-Factory rows left out" in out
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith("| ---")
    }
    for label in (
        "plain TRL script (its defaults)",
        "TRL script, padding-free + no checkpointing",
        "loralab train (its defaults)",
        "loralab train, model.attn_implementation: sdpa",  # one part of the fast path off
        "loralab train, fused_lora: false",
    ):
        runs, wall, vs_trl, loop_s, tps, _, rss, _, loss = rows[label]
        assert runs == "1" and float(wall) > float(loop_s) > 0
        assert re.fullmatch(r"\d+\.\d\dx (faster|\(slower\))", vs_trl)
        assert int(tps.replace(",", "")) > 0 and float(rss.replace(",", "")) > 100
        assert 0 < float(loss) < 20  # a held-out loss, on the same tokens for everyone
    assert float(rows["base model (no adapter)"][-1]) > 0
    assert "whole process vs plain TRL" in out and ">= 2.5x faster" in out
    # Every adapter was trained and scored; a quick run is never recorded as figures.
    assert (tmp_path / "sft-tiny" / "loralab-0" / "run" / "adapter").is_dir()
    card = json.loads(
        (tmp_path / "sft-tiny" / "loralab-sdpa-0" / "run" / "run_card.json").read_text()
    )
    assert card["speed"]["attention"]["value"] == "sdpa"
    assert (tmp_path / "sft-tiny" / "trl-0" / "adapter_config.json").exists()
    assert "not recorded" in done.stderr and not (tmp_path / "benchmarks.md").exists()
