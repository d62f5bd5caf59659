"""``loralab bench server`` and ``loralab bench startup``: training as a server job.

*server*: the same SFT run (tiny Qwen2, the FineTome sample, one config) as a job of a real
``loralab serve`` (submitted and watched over REST and a WebSocket, as the UI does) and as
``loralab train run.yaml``, each a fresh process, in turn (A B A B). Both write a run card; its
tokens/s (``data.train_tokens`` x epochs over ``timings.train``, the trainer loop's seconds) is
the one measure for both. The wall times are the CLI's whole process and, for the job, from the
POST to the ``completed`` status seen on the WebSocket.

*startup*: a short job on a running server, from the POST that starts it to the first ``step``
event reaching the client over the WebSocket, broken down by the events' own times (what the
UI's run page shows) and the run card's timings: the scheduler picking the job up, the worker
process spawning, its imports and set-up, reading the data, loading the model, tokenizing,
building the trainer, the first optimizer step and the event's way to the browser.

A job is run by a driver process (``python -m loralab.bench.server_workload job ...``): it
starts the server on a free port with its own data dir, registers the model, uploads the data,
submits, watches, reads the run card, stops the server and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from loralab.bench.runner import (
    BenchOptions,
    Goal,
    Proc,
    Run,
    WorkloadResult,
    markdown_table,
    median_of,
    module_argv,
    run_process,
    sample_file,
    write_json_line,
)

__all__ = ["run"]

HOST = "127.0.0.1"
MODULE = "loralab.bench.server_workload"
SERVER_GOAL = 0.03  # the job's tokens/s at most 3% below the CLI's
STARTUP_GOAL_S = 10.0


def _data_file() -> Path:
    env = os.environ.get("LORALAB_BENCH_DATA")
    return Path(env) if env else sample_file("formats/finetome_sample.parquet")


def _sft_config(quick: bool) -> dict[str, Any]:
    """The run both sides train: loralab's defaults, no eval, no checkpoint but the last."""
    if quick:  # 3 steps
        data = {"max_samples": 24}
        train = {"num_epochs": 1, "batch_size": 2, "gradient_accumulation_steps": 4}
        train["max_seq_length"] = 128
    else:
        data = {}
        train = {"num_epochs": 2, "batch_size": 2, "gradient_accumulation_steps": 4}
        train["max_seq_length"] = 512
    return {"data": data, "lora": {"r": 16, "alpha": 32}, "train": {**train, "save_steps": 10_000}}


def _startup_config() -> dict[str, Any]:
    """A short job: what matters is everything before its first step."""
    return {
        "data": {"max_samples": 32},
        "train": {"max_steps": 2, "batch_size": 2, "max_seq_length": 256, "save_steps": 10_000},
    }


# -- the driver: one server, one job ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class _Server:
    """``loralab serve`` on a free port with its own data dir, stopped with SIGINT (Ctrl-C)."""

    def __init__(self, data_dir: Path) -> None:
        import httpx

        self.port = _free_port()
        self.url = f"http://{HOST}:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LORALAB_")}
        cmd = [sys.executable, "-c", "from loralab.cli import main; main()", "serve"]
        cmd += ["--host", HOST, "--port", str(self.port), "--data-dir", str(data_dir)]
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "serve.log"
        with self.log.open("ab") as out:
            self.started = time.time()
            self.proc = subprocess.Popen(
                [*cmd, "--log-level", "warning"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited: {self.log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("the server did not answer /api/health within 60 s")

    def worker_started_at(self) -> float | None:
        """When the job's worker process (the server's child) was created, Unix seconds.

        Measured against the server's own creation time, whose wall time we know: psutil's
        creation times share the boot time's whole-second error, differences do not.
        """
        import psutil

        try:
            server = psutil.Process(self.proc.pid)
            kids = server.children()
            if not kids:
                return None
            return self.started + min(k.create_time() for k in kids) - server.create_time()
        except psutil.Error:
            return None

    def wait_for_workers(self, timeout: float = 60) -> None:
        """Until the server has reaped its workers, so their peak RSS counts in the server's
        (``os.wait4`` of this driver sees the largest of the whole tree)."""
        import psutil

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not psutil.Process(self.proc.pid).children():
                    return
            except psutil.Error:
                return
            time.sleep(0.1)

    def cpu_seconds(self) -> float | None:
        """CPU time the server process itself has used so far (its workers not counted)."""
        import psutil

        try:
            times = psutil.Process(self.proc.pid).cpu_times()
        except psutil.Error:
            return None
        return round(times.user + times.system, 2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["time"]).timestamp()


async def _watch(server: _Server, job_id: str, timeout: float) -> list[dict[str, Any]]:
    """Every event of the job until the stream closes, each with ``received`` (Unix seconds);
    the worker's pid creation time is sampled while the job starts."""
    import websockets

    url = f"ws://{HOST}:{server.port}/api/jobs/{job_id}/events?since=0"
    events: list[dict[str, Any]] = []

    async def read() -> None:
        async with websockets.connect(url, max_queue=None) as ws:
            async for message in ws:
                event = json.loads(message)
                event["received"] = time.time()
                events.append(event)

    await asyncio.wait_for(read(), timeout)
    return events


def drive_job(
    *, model: Path, data: Path, work: Path, spec: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """Start a server, submit one training job as the UI does, watch it to its end."""
    import httpx

    server = _Server(work / "data")
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            reply = http.post("/api/models", json={"path": str(model), "name": "bench"})
            reply.raise_for_status()
            model_id = reply.json()["id"]
            with data.open("rb") as fh:
                reply = http.post("/api/datasets/upload", files={"file": (data.name, fh)})
            reply.raise_for_status()
            dataset_id = reply.json()["id"]
            config = {
                "model": {"name_or_path": f"model:{model_id}"},
                "data": {"source": f"dataset:{dataset_id}", **spec.get("data", {})},
                **{k: v for k, v in spec.items() if k != "data"},
            }
            pressed = time.time()  # Start pressed
            reply = http.post("/api/jobs", json={"name": "bench", "config": config})
            answered = time.time()
            reply.raise_for_status()
            job_id = reply.json()["id"]
            spawned: list[float] = []

            async def watch_and_sample() -> list[dict[str, Any]]:
                task = asyncio.create_task(_watch(server, job_id, timeout))
                while not task.done() and not spawned:
                    if (at := server.worker_started_at()) is not None:
                        spawned.append(at)
                    await asyncio.sleep(0.02)
                return await task

            cpu_before = server.cpu_seconds()
            events = asyncio.run(watch_and_sample())
            cpu_after = server.cpu_seconds()
            job = http.get(f"/api/jobs/{job_id}").json()
            card = http.get(f"/api/jobs/{job_id}/run-card")
            card = card.json() if card.status_code == 200 else {}
            server.wait_for_workers()
    finally:
        server.stop()
    if job.get("status") != "completed":
        log = (work / "data" / "runs" / job_id / "logs" / "worker.log").read_text(errors="replace")
        raise SystemExit(f"job {job_id} ended {job.get('status')}: {job.get('reason')}\n{log}")
    figures = _job_figures(events, card, pressed, answered, spawned[0] if spawned else None)
    if cpu_before is not None and cpu_after is not None:
        figures["server_cpu_s"] = round(cpu_after - cpu_before, 2)  # while the job ran
    return figures


def _job_figures(
    events: list[dict[str, Any]],
    card: dict[str, Any],
    pressed: float,
    answered: float,
    spawned: float | None,
) -> dict[str, Any]:
    def first(kind: str, **data: Any) -> dict[str, Any] | None:
        for event in events:
            if event["type"] == kind and all(event["data"].get(k) == v for k, v in data.items()):
                return event
        return None

    running = first("status", status="running")
    reading = first("phase", name="preparing_data")
    loading = first("phase", name="loading_model")
    tokenizing = first("phase", name="tokenizing")
    started = first("started")
    step = first("step")
    done = first("status", status="completed")
    timings = card.get("timings", {})
    at = {
        "running": running and _stamp(running),
        "reading": reading and _stamp(reading),
        "loading": loading and _stamp(loading),
        "tokenizing": tokenizing and _stamp(tokenizing),
        "started": started and _stamp(started),
        "step": step and _stamp(step),
    }

    def span(a: float | None, b: float | None) -> float | None:
        return round(b - a, 3) if a is not None and b is not None else None

    tokenize_s = timings.get("tokenize")
    after_tokenizing = span(at["tokenizing"], at["started"])
    breakdown = {
        "api_and_scheduler_s": span(pressed, at["running"]),
        "worker_spawn_s": span(at["running"], spawned),
        "worker_imports_and_setup_s": span(spawned, at["reading"]),
        "read_data_s": span(at["reading"], at["loading"]),
        "load_model_s": span(at["loading"], at["tokenizing"]),
        "tokenize_s": tokenize_s,
        "build_trainer_s": (
            round(after_tokenizing - tokenize_s, 3)
            if after_tokenizing is not None and tokenize_s is not None
            else None
        ),
        "first_step_s": span(at["started"], at["step"]),
        "to_the_browser_s": span(at["step"], step["received"] if step else None),
    }
    if spawned is None:  # not sampled in time: spawn and imports as one span
        breakdown["worker_imports_and_setup_s"] = span(at["running"], at["reading"])
    data = card.get("data", {})
    epochs = card.get("config", {}).get("train", {}).get("num_epochs", 1)
    steps_total, train_s = card.get("total_steps"), timings.get("train")
    tokens = data.get("train_tokens")
    max_steps = card.get("config", {}).get("train", {}).get("max_steps")
    trained = tokens * epochs if tokens and not max_steps else None
    return {
        "post_answered_s": round(answered - pressed, 3),
        "to_first_step_s": span(pressed, step["received"] if step else None),
        "job_wall_s": span(pressed, done["received"] if done else None),
        "tokens_per_second": round(trained / train_s, 1) if trained and train_s else None,
        "train_s": train_s,
        "steps": steps_total,
        "threads": card.get("torch_threads"),
        "timings": timings,
        "final_loss": card.get("metrics", {}).get("train_loss"),
        **breakdown,
    }


def _card_figures(card_path: Path) -> dict[str, Any]:
    """The CLI run's figures from its run card, the same way as the job's."""
    card = json.loads(card_path.read_text())
    timings = card.get("timings", {})
    train = card.get("config", {}).get("train", {})
    tokens = card.get("data", {}).get("train_tokens")
    trained = tokens * train.get("num_epochs", 1) if tokens and not train.get("max_steps") else None
    train_s = timings.get("train")
    return {
        "tokens_per_second": round(trained / train_s, 1) if trained and train_s else None,
        "train_s": train_s,
        "steps": card.get("total_steps"),
        "threads": card.get("torch_threads"),
        "timings": timings,
        "final_loss": card.get("metrics", {}).get("train_loss"),
    }


# -- the workloads -------------------------------------------------------------------------------


def _tiny_model(work: Path) -> Path:
    from loralab.models import make_tiny_model

    out = work / "tiny-qwen2"
    if not (out / "config.json").is_file():
        make_tiny_model(out, arch="qwen2")
    return out


def _job_proc(label: str, model: Path, work: Path, spec: dict[str, Any]) -> Proc:
    spec_file = work / "spec.json"
    spec_file.write_text(json.dumps(spec))
    args = ["job", "--model", str(model), "--data", str(_data_file()), "--work", str(work)]
    return Proc(label, module_argv(MODULE, *args, "--spec", str(spec_file)))


def _cli_proc(label: str, model: Path, work: Path, spec: dict[str, Any]) -> Proc:
    import yaml

    config = {
        "model": {"name_or_path": str(model)},
        "data": {"source": str(_data_file()), **spec.get("data", {})},
        **{k: v for k, v in spec.items() if k != "data"},
        "output": {"dir": str(work / "run")},
    }
    path = work / "run.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    code = "from loralab.cli import main; main()"
    return Proc(label, [sys.executable, "-c", code, "train", str(path)], cwd=str(work))


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _server(options: BenchOptions) -> WorkloadResult:
    work = options.work_dir / "server"
    model = _tiny_model(options.work_dir)
    spec = _sft_config(options.quick)
    runs: list[Run] = []
    for r in range(max(1, options.repeats)):  # A B A B: drift hits both alike
        for label in ("server job", "CLI"):
            where = _fresh(work / f"{label.split()[0].lower()}-{r}")
            make = _job_proc if label == "server job" else _cli_proc
            run = run_process(make(label, model, where, spec), round=r, timeout=1800)
            if label == "CLI":
                run.out = _card_figures(where / "run" / "run_card.json")
            runs.append(run)
            options.log(
                f"  round {r + 1}: {label}: {run.wall_s:.2f} s, "
                f"{run.out.get('tokens_per_second')} tokens/s"
            )
    cli_tps = median_of(runs, "CLI", "tokens_per_second")
    job_tps = median_of(runs, "server job", "tokens_per_second")
    gap = (1 - job_tps / cli_tps) if cli_tps and job_tps else None
    rows = []
    for label in ("CLI", "server job"):
        tps = median_of(runs, label, "tokens_per_second")
        rows.append(
            [
                label,
                sum(1 for x in runs if x.label == label),
                tps,
                f"{tps / cli_tps:.1%}" if tps and cli_tps else None,
                median_of(runs, label, "train_s"),
                median_of(runs, label, "job_wall_s" if label == "server job" else "wall_s"),
                median_of(runs, label, "wall_s"),
                median_of(runs, label, "peak_rss_mb"),
            ]
        )
    header = [
        "path",
        "runs",
        "tokens/s (run card)",
        "vs CLI",
        "train loop (s)",
        "run wall (s)",
        "whole process (s)",
        "peak RSS (MB)",
    ]
    goal = Goal(
        name="server job tokens/s vs the CLI",
        target=f"at most {SERVER_GOAL:.0%} slower",
        measured=(
            "n/a" if gap is None else f"{gap:.1%} slower" if gap > 0 else f"{-gap:.1%} faster"
        ),
        met=(gap <= SERVER_GOAL) if gap is not None else None,
        note="" if not options.quick else "quick run: too short to judge",
    )
    server_cpu = median_of(runs, "server job", "server_cpu_s")
    job_wall = median_of(runs, "server job", "job_wall_s")
    cpu_note = (
        f"The server process itself used {server_cpu:.1f} s of CPU during a {job_wall:.0f} s "
        f"job ({server_cpu / job_wall:.1%} of one core; its scheduler, event hub and the "
        "WebSocket the bench watches with)."
        if server_cpu is not None and job_wall
        else "The server's own CPU time was not measured."
    )
    return WorkloadResult(
        name="server",
        title="SFT as a server job vs the CLI",
        table=markdown_table(header, rows),
        goals=[goal],
        details=_details(
            runs,
            [
                "tokens_per_second",
                "train_s",
                "job_wall_s",
                "server_cpu_s",
                "steps",
                "threads",
                "final_loss",
            ],
        ),
        notes=[
            "tokens/s: the run card's data.train_tokens x epochs over timings.train (the trainer "
            "loop), for both. Run wall: the CLI's whole process; the job's POST to the completed "
            "status on the WebSocket. Whole process for the job includes starting and stopping "
            "the server and registering the model and data; peak RSS covers the server and its "
            "worker (the largest of the process tree).",
            cpu_note,
        ],
    )


_PARTS = [
    ("api_and_scheduler_s", "POST to job picked up (API + scheduler)"),
    ("worker_spawn_s", "worker process spawned"),
    ("worker_imports_and_setup_s", "worker imports and set-up"),
    ("read_data_s", "read data"),
    ("load_model_s", "load model"),
    ("tokenize_s", "tokenize"),
    ("build_trainer_s", "build trainer"),
    ("first_step_s", "first optimizer step"),
    ("to_the_browser_s", "step event to the browser"),
]


def _startup(options: BenchOptions) -> WorkloadResult:
    work = options.work_dir / "startup"
    model = _tiny_model(options.work_dir)
    runs: list[Run] = []
    for r in range(max(1, options.repeats)):
        where = _fresh(work / f"job-{r}")
        run = run_process(_job_proc("startup", model, where, _startup_config()), round=r)
        runs.append(run)
        options.log(f"  round {r + 1}: {run.out.get('to_first_step_s')} s to the first step")
    total = median_of(runs, "startup", "to_first_step_s")
    rows = [[label, median_of(runs, "startup", key)] for key, label in _PARTS]
    parts = sum(v for _, v in rows if v is not None)
    rows.append(["**POST to the first step on the WebSocket**", total])
    goal = Goal(
        name="Start pressed to the first optimizer step (tiny model)",
        target=f"<= {STARTUP_GOAL_S:g} s",
        measured=f"{total:.2f} s" if total is not None else "n/a",
        met=(total <= STARTUP_GOAL_S) if total is not None else None,
    )
    return WorkloadResult(
        name="startup",
        title="Start pressed to the first optimizer step",
        table=markdown_table(["part (median)", "seconds"], rows),
        goals=[goal],
        details=_details(runs, ["to_first_step_s", *(key for key, _ in _PARTS)]),
        notes=[
            f"{len(runs)} jobs, each on a fresh server that was already up (median per part; "
            f"the parts add up to {parts:.2f} s). Times are the events' own (the worker's clock "
            "is the server's) and the worker's process creation time; tokenize is the run "
            "card's, the trainer build the rest of the span up to the started event."
        ],
    )


def _details(runs: list[Run], keys: list[str]) -> str:
    header = ["round", "path", "whole process (s)", *keys]
    rows = [[r.round + 1, r.label, r.wall_s, *(r.out.get(k) for k in keys)] for r in runs]
    return markdown_table(header, rows)


def run(name: str, options: BenchOptions) -> WorkloadResult:
    """The ``server`` or the ``startup`` workload."""
    if name == "server":
        return _server(options)
    if name == "startup":
        return _startup(options)
    raise ValueError(f"unknown workload {name!r}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    job = sub.add_parser("job", help="start a server, run one job through it, print its figures")
    job.add_argument("--model", type=Path, required=True)
    job.add_argument("--data", type=Path, required=True)
    job.add_argument("--work", type=Path, required=True)
    job.add_argument("--spec", type=Path, required=True, help="JSON: the config's sections")
    job.add_argument("--timeout", type=float, default=1800)
    a = p.parse_args(argv)
    spec = json.loads(a.spec.read_text())
    figures = drive_job(model=a.model, data=a.data, work=a.work, spec=spec, timeout=a.timeout)
    write_json_line(figures)


if __name__ == "__main__":
    main()
