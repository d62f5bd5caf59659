"""Workload ``events``: a logged step to 50 WebSocket clients, p95 latency, as a worker reports.

``loralab.bench.ws_fanout`` does the measuring, each round a fresh process: a real server
process with its scheduler and event hub, a writer that reports 20 steps a second through the
worker's own ``StoreReporter`` and ``Heartbeat`` (their defaults: what a job worker runs with)
and 50 WebSockets on that job. Latency is each step event's receipt time on a socket minus the
step's own ``time``, over every step event on every socket for 10 s; queries/s counts the server
process's statements, next to the scheduler's alone (no socket open).
"""

from __future__ import annotations

from loralab.bench.runner import (
    BenchOptions,
    Goal,
    Proc,
    WorkloadResult,
    markdown_table,
    median_of,
    module_argv,
    run_interleaved,
)

__all__ = ["run"]

P95_GOAL_MS = 250.0
LABEL = "worker's reporter and heartbeat"


def run(name: str, options: BenchOptions) -> WorkloadResult:
    """Run the fan-out ``options.repeats`` times; the goal is the median p95."""
    sockets, seconds = (5, 2.0) if options.quick else (50, 10.0)
    argv = module_argv(
        "loralab.bench.ws_fanout", "--sockets", str(sockets), "--seconds", str(seconds)
    )
    runs = run_interleaved([Proc(LABEL, argv)], options.repeats, log=options.log, timeout=600)
    keys = [
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_max_ms",
        "idle_queries_per_second",
        "queries_per_second",
    ]
    once = all(r.out.get("exactly_once") is True for r in runs)
    flush = runs[0].out.get("flush_seconds")
    min_write = runs[0].out.get("min_write_seconds")
    header = [
        "writer",
        "sockets",
        "rounds",
        "p50 (ms)",
        "p95 (ms)",
        "max (ms)",
        "idle queries/s",
        "queries/s",
        "every event once",
    ]
    row = [LABEL, sockets, len(runs), *(median_of(runs, LABEL, k) for k in keys), once]
    p95 = median_of(runs, LABEL, "latency_p95_ms")
    goal = Goal(
        name=f"step logged to {sockets} WebSocket clients, p95",
        target=f"<= {P95_GOAL_MS:g} ms",
        measured=f"{p95:.0f} ms" if p95 is not None else "n/a",
        met=(p95 <= P95_GOAL_MS) if p95 is not None else None,
        note="" if not options.quick else "quick run: 5 sockets for 2 s",
    )
    details_header = ["round", "whole process (s)", *keys, "step events", "exactly once"]
    details = markdown_table(
        details_header,
        [
            [
                r.round + 1,
                r.wall_s,
                *(r.out.get(k) for k in keys),
                r.out.get("step_events_measured"),
                r.out.get("exactly_once"),
            ]
            for r in runs
        ],
    )
    return WorkloadResult(
        name=name,
        title=f"Step logged to {sockets} WebSocket clients",
        table=markdown_table(header, [row]),
        goals=[goal],
        details=details,
        notes=[
            f"Medians over {len(runs)} rounds. The reporter's fallback buffer is {flush} s; a "
            "worker's heartbeat thread writes queued step events at once, at most every "
            f"min_write_seconds ({min_write} s). Command: python -m loralab.bench.ws_fanout."
        ],
    )
