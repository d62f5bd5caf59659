"""The ``inference`` workload, quick: a real inference worker against plain ``generate`` on the
tiny model."""

from __future__ import annotations

import math

import pytest

from loralab.bench.inference_workload import run
from loralab.bench.runner import BenchOptions


@pytest.mark.slow
def test_worker_and_plain_generate_rates_are_compared(tmp_path):
    result = run("inference", BenchOptions(work_dir=tmp_path, repeats=2, quick=True, log=print))

    (goal,) = result.goals
    assert goal.name == "worker / plain generate tok/s, tiny-qwen2"
    assert goal.target == ">= 90%" and goal.met is not None
    ratio = float(goal.measured.removesuffix("%")) / 100
    assert math.isfinite(ratio) and ratio > 0
    (row,) = result.table.splitlines()[2:]
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[0] == "tiny-qwen2"
    plain, worker = (float(c.replace(",", "")) for c in cells[2:4])
    assert plain > 0 and worker > 0
