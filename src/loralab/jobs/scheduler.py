"""The server's scheduler: starts queued jobs, watches running ones, recovers after a restart.

A background thread that, twice a second (and at once when ``wake_schedulers`` says a job was
queued, so Start does not wait for the next round):

1. checks every running job: a worker that is gone (its process ended, or its pid is dead or
   belongs to something else, or its heartbeat is older than ``heartbeat_timeout_seconds``)
   without recording an end is marked ``interrupted``, with the reason and the exit status when
   this server started it; a worker that ignores a cancel for ``cancel_grace_seconds`` has its
   process group killed and is marked ``stopped``;
2. starts queued jobs: kinds that need a device (``JobKind.device``: training) share the device
   budget, each pinned to its own GPU through ``CUDA_VISIBLE_DEVICES`` (recorded on the job as
   ``devices``), at most ``max_concurrent_jobs``; light kinds (validation, the demo model build)
   run beside them, ``settings.cpu_job_slots`` at a time, with every GPU hidden.

Running jobs whose worker is alive with a fresh heartbeat are left alone, which is how a
restarted server re-attaches to the workers of the one before it. Every status change is a
conditional write on the job's attempt, so a worker that records its own end at the same moment
always wins over a guess from here.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import weakref
from datetime import datetime

from loralab.config import Settings
from loralab.jobs.devices import assign_devices, gpu_count, max_concurrent_jobs
from loralab.jobs.launcher import (
    describe_exit,
    is_worker_alive,
    kill_worker_group,
    launch_worker,
)
from loralab.jobs.registry import JOB_KINDS, device_kinds
from loralab.store import Database
from loralab.store.db import as_utc, reading
from loralab.store.events import NewEvent
from loralab.store.jobs import (
    claim_queued_jobs,
    count_running,
    has_queued,
    lock_job,
    running_jobs,
    set_status,
)
from loralab.store.tables import JobRow, utcnow

__all__ = ["Scheduler", "end_job", "wake_schedulers"]

log = logging.getLogger("loralab.jobs")

# The schedulers running in this process (the server's; tests may run several).
_RUNNING: weakref.WeakSet[Scheduler] = weakref.WeakSet()


def wake_schedulers() -> None:
    """Start a round of every scheduler of this process now: a job was queued."""
    for scheduler in list(_RUNNING):
        scheduler.wake()


def end_job(
    db: Database,
    job_id: str,
    attempt: int,
    status: str,
    reason: str,
    exit_code: int | None = None,
) -> bool:
    """Move a running job to ``status`` unless it already ended or moved on to another attempt."""
    with db.write() as session:
        job = lock_job(session, job_id)
        if job is None or job.status != "running" or job.attempts != attempt:
            return False
        note = NewEvent("log", {"message": reason, "level": "error"})
        set_status(session, job, status, reason=reason, exit_code=exit_code, extra_events=[note])
    log.warning("job %s %s: %s", job_id, status, reason)
    return True


class Scheduler:
    """Launches and watches job workers from the server process.

    Args:
        db: the store.
        settings: limits and timings (``max_concurrent_jobs``, heartbeat and cancel timings).
        poll_seconds: time between checks.
    """

    def __init__(self, db: Database, settings: Settings, *, poll_seconds: float = 0.5) -> None:
        self.db = db
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.max_jobs = max_concurrent_jobs(settings)
        self.gpus = gpu_count(settings)
        # Device-bound kinds share the device budget; light work should not wait hours
        # behind a training run.
        self.device_kinds = device_kinds()
        # Workers this server started: job id -> (attempt, process). Only these give exit codes.
        self._children: dict[str, tuple[int, subprocess.Popen]] = {}
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        """Start the background thread; returns self."""
        self._thread = threading.Thread(target=self._loop, name="loralab-scheduler", daemon=True)
        self._thread.start()
        _RUNNING.add(self)
        return self

    def wake(self) -> None:
        """Run the next round now instead of after ``poll_seconds``."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop scheduling. Running workers keep running; the next server re-attaches to them."""
        self._stopped.set()
        self._wake.set()
        _RUNNING.discard(self)
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def tick(self) -> None:
        """One round: check running jobs, then start queued ones."""
        self.check_running()
        self.launch_queued()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            try:
                self.tick()
            except Exception:  # a database hiccup must not end scheduling for good
                log.exception("scheduler round failed")
            self._wake.wait(self.poll_seconds)

    # -- watching --------------------------------------------------------------------------------

    def check_running(self) -> None:
        """Mark running jobs whose worker is gone or stuck; kill workers that ignore a cancel."""
        with reading(self.db) as session:
            jobs = running_jobs(session)
        now = utcnow()
        for job in jobs:
            self._check(job, now)
        # Reap every worker of ours that has exited, so none lingers as a zombie.
        for job_id, (_attempt, proc) in list(self._children.items()):
            if proc.poll() is not None:
                del self._children[job_id]

    def _child(self, job: JobRow) -> subprocess.Popen | None:
        entry = self._children.get(job.id)
        return entry[1] if entry and entry[0] == job.attempts else None

    def _check(self, job: JobRow, now: datetime) -> None:
        s = self.settings
        proc = self._child(job)
        if proc is not None:
            exit_code = proc.poll()
            alive: bool | None = exit_code is None
        else:
            exit_code = None
            alive = is_worker_alive(job.pid, job.id) if job.pid else None
        heartbeat = as_utc(job.heartbeat_at)
        age = (now - heartbeat).total_seconds() if heartbeat else float("inf")
        pid = job.pid or (proc.pid if proc else None)

        if alive is False:
            status = "stopped" if job.cancel_requested else "interrupted"
            reason = (
                f"The worker (pid {pid}) ended without recording a result: "
                f"{describe_exit(exit_code)}. Resume continues from the last complete checkpoint."
            )
            end_job(self.db, job.id, job.attempts, status, reason, exit_code)
        elif age > s.heartbeat_timeout_seconds:
            exit_code = self._kill(job, proc)
            reason = (
                f"No heartbeat from the worker for {age:.0f} s (the limit is "
                f"{s.heartbeat_timeout_seconds:g} s), so it was stopped. Resume continues from "
                "the last complete checkpoint."
            )
            end_job(self.db, job.id, job.attempts, "interrupted", reason, exit_code)
        elif job.cancel_requested and job.cancel_requested_at is not None:
            waited = (now - as_utc(job.cancel_requested_at)).total_seconds()
            if waited > s.cancel_grace_seconds:
                exit_code = self._kill(job, proc)
                reason = (
                    f"The worker did not stop within {s.cancel_grace_seconds:g} s of the cancel, "
                    "so it was killed. Resume continues from the last complete checkpoint."
                )
                end_job(self.db, job.id, job.attempts, "stopped", reason, exit_code)

    def _kill(self, job: JobRow, proc: subprocess.Popen | None) -> int | None:
        pid = job.pid or (proc.pid if proc else None)
        kill_worker_group(pid, job.id)
        if proc is None:
            return None
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    # -- launching -------------------------------------------------------------------------------

    def launch_queued(self) -> list[str]:
        """Start workers for queued jobs while there is room; returns the job ids started."""
        with reading(self.db) as session:
            if not has_queued(session):
                return []
        claimed: list[tuple[str, str, int, str | None, str | None]] = []
        with self.db.write() as session:
            busy = [j.devices for j in running_jobs(session) if j.kind in self.device_kinds]
            room = self.max_jobs - count_running(session, kinds=self.device_kinds)
            pins = assign_devices(self.gpus, busy, max(room, 0))
            for job, pin in zip(
                claim_queued_jobs(session, len(pins), kinds=self.device_kinds), pins, strict=False
            ):
                job.devices = pin
                claimed.append((job.id, job.kind, job.attempts, job.output_dir, pin))
            light = self.settings.cpu_job_slots - count_running(
                session, exclude_kinds=self.device_kinds
            )
            for job in claim_queued_jobs(session, light, exclude_kinds=self.device_kinds):
                job.devices = None
                # No GPU for light work.
                claimed.append((job.id, job.kind, job.attempts, job.output_dir, ""))
        started = []
        for job_id, kind_name, attempt, output_dir, pin in claimed:
            kind = JOB_KINDS.get(kind_name, JOB_KINDS["train"])
            out = output_dir or str(kind.output_dir(self.settings.data_dir, job_id))
            try:
                # On a machine without GPUs, device jobs share the CPU's cores.
                cpu_jobs = self.max_jobs if kind.device and not self.gpus else None
                proc = launch_worker(job_id, self.settings, out, attempt, pin, cpu_jobs)
            except OSError as exc:
                end_job(self.db, job_id, attempt, "failed", f"Could not start the worker: {exc}")
                continue
            self._children[job_id] = (attempt, proc)
            with self.db.write() as session:
                job = lock_job(session, job_id)
                if job is not None and job.attempts == attempt and job.pid is None:
                    job.pid = proc.pid
            started.append(job_id)
        return started
