"""WebSocket fan-out: the server's DB queries per second and step-to-browser latency, N sockets.

Starts a real server process (uvicorn on 127.0.0.1, its own temp data dir, SQLite) with the
job scheduler running, a writer process that reports step events through the worker's own
``StoreReporter`` (and heartbeats, so the scheduler leaves the job alone), and opens ``--sockets``
WebSockets on that one running job. It measures, over ``--seconds`` once every socket is live:

- queries/s: statements the server process ran (a ``before_cursor_execute`` listener on its
  engine, installed by this script around ``create_app``, so any checkout can be measured),
  next to the same count with no socket open (the scheduler alone);
- latency: receipt time minus the event's ``time`` (when the step happened), over every step
  event on every socket: p50, p95, max. It includes the reporter's buffer: the writer is set up
  as a job worker is (``StoreReporter`` and ``Heartbeat`` with their defaults and the server's
  ``heartbeat_seconds``), unless ``--flush-seconds`` sets the reporter's buffer;
- exactly once: every socket got seqs 1..last with no gap and no repeat, and a 1000 close.

    .venv/bin/python -m loralab.bench.ws_fanout [--sockets 50] [--seconds 10] [--flush-seconds S]

``loralab bench events`` runs it (``loralab.bench.events_workload``). The code measured is
whichever ``loralab`` the interpreter imports, so a before/after is:

    git worktree add /tmp/loralab-before HEAD
    PYTHONPATH=/tmp/loralab-before/src .venv/bin/python -m loralab.bench.ws_fanout --label before
    .venv/bin/python -m loralab.bench.ws_fanout --label after
    git worktree remove /tmp/loralab-before

Everything stays on loopback; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

HOST = "127.0.0.1"
WORKER_MODULE = "loralab.jobs.worker"


# -- the server process --------------------------------------------------------------------------


def serve(data_dir: str, port: int, count_file: str) -> None:
    """Run the app like ``loralab serve`` does, counting its engine's statements into a file."""
    import uvicorn
    from sqlalchemy import event

    from loralab.api.app import create_app
    from loralab.config import Settings

    app = create_app(Settings(data_dir=Path(data_dir), host=HOST, port=port, token=None))
    lock, count = threading.Lock(), [0]

    def seen(*_args) -> None:
        with lock:
            count[0] += 1

    event.listen(app.state.db.engine, "before_cursor_execute", seen)

    def publish() -> None:
        tmp = f"{count_file}.tmp"
        while True:
            with lock:
                line = f"{count[0]} {time.time()}"
            Path(tmp).write_text(line)
            os.replace(tmp, count_file)
            time.sleep(0.05)

    threading.Thread(target=publish, daemon=True).start()
    uvicorn.run(app, host=HOST, port=port, log_level="warning", timeout_graceful_shutdown=2)


# -- the writer process --------------------------------------------------------------------------


class _Step:
    def __init__(self, step: int, total: int) -> None:
        self.step, self.total = step, total

    def to_dict(self) -> dict:
        return {
            "type": "step",
            "time": time.time(),
            "step": self.step,
            "total_steps": self.total,
            "epoch": self.step / self.total,
            "loss": 1.0 / self.step,
        }


def write(
    data_dir: str, job_id: str, attempt: int, rate: float, steps: int, flush: float | None
) -> None:
    """Report ``steps`` step events at ``rate`` a second like a training run, then complete.

    The reporter and its heartbeat thread are the worker's own, with the worker's settings;
    ``flush`` (seconds) replaces the reporter's buffer time when given.
    """
    from loralab.config import Settings
    from loralab.jobs import StoreReporter
    from loralab.jobs.heartbeat import Heartbeat
    from loralab.store import Database

    db = Database(f"sqlite:///{Path(data_dir) / 'loralab.db'}")
    stop = threading.Event()
    extra = {"flush_seconds": flush} if flush is not None else {}
    reporter = StoreReporter(db, job_id, attempt, on_lost=stop.set, **extra)
    heartbeat = Heartbeat(
        db,
        job_id,
        attempt,
        interval=Settings(data_dir=Path(data_dir)).heartbeat_seconds,
        stop=stop,
        reporter=reporter,
    )
    heartbeat.start()
    start = time.monotonic()
    for step in range(1, steps + 1):
        time.sleep(max(0.0, start + step / rate - time.monotonic()))
        reporter.report(_Step(step, steps))
        if step % 10 == 0:
            reporter.log(f"step {step}")
    heartbeat.close()
    reporter.close("completed", exit_code=0)
    db.dispose()


# -- the browser side ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer /api/health in time")


def _queries(count_file: Path) -> tuple[int, float]:
    for _ in range(100):
        try:
            count, stamp = count_file.read_text().split()
            return int(count), float(stamp)
        except (OSError, ValueError):
            time.sleep(0.01)
    raise SystemExit("no query count from the server")


def _rate(count_file: Path, seconds: float) -> float:
    first = _queries(count_file)
    time.sleep(seconds)
    last = _queries(count_file)
    return (last[0] - first[0]) / (last[1] - first[1])


def _running_job(data_dir: Path) -> tuple[str, int]:
    from loralab.store import Database
    from loralab.store.jobs import add_job, claim_queued_jobs, new_job_id
    from loralab.store.tables import utcnow

    db = Database(f"sqlite:///{data_dir / 'loralab.db'}")
    try:
        with db.write() as session:
            add_job(session, job_id=new_job_id(), kind="train", config={})
        with db.write() as session:
            (job,) = claim_queued_jobs(session, 1)
            job.heartbeat_at = utcnow()  # else the scheduler marks it interrupted at once
            return job.id, job.attempts
    finally:
        db.dispose()


async def _client(url: str, live: asyncio.Event, window: dict, out: dict) -> None:
    import websockets

    seqs, latencies = [], []
    async with websockets.connect(url, max_queue=None) as ws:
        live.set()
        try:
            async for message in ws:
                now = time.time()
                event = json.loads(message)
                seqs.append(event["seq"])
                if event["type"] == "step" and window["start"] <= now <= window["end"]:
                    sent = datetime.fromisoformat(event["time"]).timestamp()
                    latencies.append(now - sent)
        except websockets.ConnectionClosed:
            pass
        out["code"] = ws.close_code
    out["seqs"], out["latencies"] = seqs, latencies


async def _browsers(port: int, job_id: str, sockets: int, window: dict) -> list[dict]:
    url = f"ws://{HOST}:{port}/api/jobs/{job_id}/events?since=0"
    outs: list[dict] = [{} for _ in range(sockets)]
    lives = [asyncio.Event() for _ in range(sockets)]
    tasks = [
        asyncio.create_task(_client(url, live, window, out))
        for live, out in zip(lives, outs, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(live.wait() for live in lives)), 60)
    window["live"] = True  # every socket is open
    await asyncio.wait_for(asyncio.gather(*tasks), window["limit"])
    return outs


def _reporter_default(name: str) -> float:
    """A setting of the reporter as a job worker runs it (its default)."""
    import inspect

    from loralab.jobs import StoreReporter

    return inspect.signature(StoreReporter).parameters[name].default


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sockets", type=int, default=50)
    p.add_argument("--seconds", type=float, default=10.0, help="measured time with sockets open")
    p.add_argument("--steps-per-second", type=float, default=20.0)
    p.add_argument(
        "--flush-seconds",
        type=float,
        default=None,
        help="the reporter's buffer (default: the worker's)",
    )
    p.add_argument("--label", default="")
    p.add_argument("--as", dest="role", help=argparse.SUPPRESS)
    p.add_argument("--serve", nargs=3, metavar=("DATA_DIR", "PORT", "COUNT_FILE"))
    p.add_argument("--write", nargs=6, metavar=("DATA_DIR", "JOB", "ATTEMPT", "RATE", "N", "FL"))
    a = p.parse_args()
    if a.serve:
        return serve(a.serve[0], int(a.serve[1]), a.serve[2])
    if a.write:
        d, job, attempt, rate, n, flush = a.write
        return write(d, job, int(attempt), float(rate), int(n), float(flush) if flush else None)

    import loralab

    me = [sys.executable, "-m", "loralab.bench.ws_fanout"]
    warmup = 2.0
    steps = int(a.steps_per_second * (warmup + a.seconds + 1))  # still running at the end
    inf = float("inf")
    with tempfile.TemporaryDirectory(prefix="loralab-wsbench-") as tmp:
        data_dir, count_file, port = Path(tmp) / "data", Path(tmp) / "queries", _free_port()
        log = (Path(tmp) / "server.log").open("w")
        server = subprocess.Popen(
            [*me, "--serve", str(data_dir), str(port), str(count_file)], stdout=log, stderr=log
        )
        writer = None
        try:
            _wait_healthy(port, server)
            idle = _rate(count_file, 3.0)  # no socket: the scheduler's own queries
            job_id, attempt = _running_job(data_dir)
            window = {"live": False, "start": inf, "end": inf, "limit": warmup + a.seconds + 60}

            async def run() -> tuple[list[dict], float]:
                nonlocal writer
                browsers = asyncio.create_task(_browsers(port, job_id, a.sockets, window))
                while not window["live"] and not browsers.done():
                    await asyncio.sleep(0.05)
                writer = subprocess.Popen(
                    [
                        *me,
                        "--write",
                        str(data_dir),
                        job_id,
                        str(attempt),
                        str(a.steps_per_second),
                        str(steps),
                        str(a.flush_seconds or ""),
                        # The heartbeat records this pid on the job: the scheduler takes it
                        # for the job's worker only if the worker module is on its command line.
                        "--as",
                        WORKER_MODULE,
                    ]
                )
                await asyncio.sleep(warmup)  # the backlog is sent; the run is in full swing
                window["start"] = time.time()
                first = _queries(count_file)
                await asyncio.sleep(a.seconds)
                last = _queries(count_file)
                window["end"] = time.time()
                rate = (last[0] - first[0]) / (last[1] - first[1])
                return await browsers, rate

            outs, busy = asyncio.run(run())
            writer.wait(timeout=60)
        finally:
            for proc in (writer, server):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=15)
            log.close()

    last = max(max(o["seqs"], default=0) for o in outs)
    once = all(o["seqs"] == list(range(1, last + 1)) and o["code"] == 1000 for o in outs)
    latencies = [x for o in outs for x in o["latencies"]]
    result = {
        "label": a.label,
        "loralab": str(Path(loralab.__file__).parent),
        "sockets": a.sockets,
        "steps_per_second": a.steps_per_second,
        "flush_seconds": (
            a.flush_seconds if a.flush_seconds is not None else _reporter_default("flush_seconds")
        ),
        "min_write_seconds": _reporter_default("min_write_seconds"),
        "idle_queries_per_second": round(idle, 1),
        "queries_per_second": round(busy, 1),
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1),
        "latency_p95_ms": round(1000 * _percentile(latencies, 0.95), 1),
        "latency_max_ms": round(1000 * max(latencies), 1),
        "step_events_measured": len(latencies),
        "exactly_once": once,
    }
    print(json.dumps(result))
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"| {a.label or '-'} | {a.sockets} | {result['idle_queries_per_second']} | "
        f"{result['queries_per_second']} | {result['latency_p50_ms']} | "
        f"{result['latency_p95_ms']} | {result['latency_max_ms']} | {once} |"
    )


if __name__ == "__main__":
    main()
