"""The ``events`` workload, quick: a real server, a writer with the worker's own reporter and
heartbeat, and real WebSockets."""

from __future__ import annotations

import math

from loralab.bench.events_workload import run
from loralab.bench.runner import BenchOptions


def test_step_latency_to_websockets_is_measured_at_the_workers_settings(tmp_path):
    result = run("events", BenchOptions(work_dir=tmp_path, repeats=1, quick=True, log=print))

    (goal,) = result.goals
    assert goal.target == "<= 250 ms" and goal.met is not None
    p95 = float(goal.measured.removesuffix(" ms"))
    assert math.isfinite(p95) and p95 > 0
    (row,) = result.table.splitlines()[2:]
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[1] == "5"  # sockets
    assert cells[-1] == "True"  # every socket got every event exactly once
    assert "0.5 s" in result.notes[0]  # the worker's reporter settings, as measured
