"""The ``server`` and ``startup`` workloads, quick, end to end: a real ``loralab serve``, a real
job worker and a real ``loralab train`` process on a tiny model."""

from __future__ import annotations

import math

import pytest

from loralab.bench.runner import BenchOptions
from loralab.bench.server_workload import run

pytestmark = pytest.mark.slow


def test_server_job_and_cli_report_tokens_per_second_from_their_run_cards(tmp_path):
    result = run("server", BenchOptions(work_dir=tmp_path, repeats=1, quick=True, log=print))

    assert result.name == "server"
    (goal,) = result.goals
    assert goal.name == "server job tokens/s vs the CLI"
    assert goal.met is not None and goal.measured.endswith(("slower", "faster"))
    lines = result.table.splitlines()
    cli = next(line for line in lines if line.startswith("| CLI |"))
    job = next(line for line in lines if line.startswith("| server job |"))
    for line in (cli, job):
        tokens_per_second = float(line.split("|")[3].replace(",", ""))
        assert math.isfinite(tokens_per_second) and tokens_per_second > 0
    # Both trained the same rows the same way.
    assert "| 1 | server job |" in result.details and "| 1 | CLI |" in result.details


def test_startup_breaks_the_time_to_the_first_step_down(tmp_path):
    result = run("startup", BenchOptions(work_dir=tmp_path, repeats=1, quick=True, log=print))

    (goal,) = result.goals
    assert goal.target == "<= 10 s" and goal.met is not None
    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in result.table.splitlines()[2:]
    }
    total = float(rows.pop("**POST to the first step on the WebSocket**"))
    parts = {name: float(value) for name, value in rows.items()}  # every part was measured
    assert all(value >= 0 for value in parts.values()), parts
    assert 0 < total < 300
    # The parts are consecutive spans of the same timeline: they add up to the total.
    assert sum(parts.values()) == pytest.approx(total, abs=0.1)
