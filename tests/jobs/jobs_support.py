"""Helpers for the jobs tests: waiting for a job, reading its log, a real server process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from loralab.config import Settings
from loralab.store import Database
from loralab.store.jobs import reading
from loralab.store.tables import JobRow

TERMINAL = ("completed", "stopped", "failed", "interrupted")


# -- waiting ---------------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def job_row(db: Database, job_id: str) -> JobRow:
    with reading(db) as session:
        return session.get(JobRow, job_id)


def wait_status(db: Database, job_id: str, statuses, timeout: float = 240.0) -> JobRow:
    """Wait until the job has one of ``statuses``; returns the row."""
    statuses = (statuses,) if isinstance(statuses, str) else tuple(statuses)

    def _check():
        row = job_row(db, job_id)
        return row if row is not None and row.status in statuses else None

    return wait_for(_check, timeout, f"job {job_id} to be {'/'.join(statuses)}")


def wait_step(db: Database, job_id: str, step: int, timeout: float = 240.0) -> JobRow:
    """Wait until the job row reports at least ``step`` (or has ended)."""

    def _check():
        row = job_row(db, job_id)
        if row is None:
            return None
        if row.status in TERMINAL or (row.step or 0) >= step:
            return row
        return None

    return wait_for(_check, timeout, f"job {job_id} to reach step {step}")


def worker_log(settings: Settings, job_id: str) -> str:
    for root in ("runs", "jobs"):  # training runs, and the light kinds' logs
        path = Path(settings.data_dir).resolve() / root / job_id / "logs" / "worker.log"
        if path.exists():
            return path.read_text(errors="replace")
    return "(no worker log)"


# -- a real server process -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``loralab serve`` in its own process; the other settings come from the environment."""

    def __init__(self, settings: Settings, log_file: Path) -> None:
        self.settings = settings
        self.port = free_port()
        self.log_file = log_file
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        from loralab.jobs import worker_env

        env = worker_env(self.settings)
        env["LORALAB_MAX_CONCURRENT_JOBS"] = str(self.settings.max_concurrent_jobs or 1)
        cmd = [
            str(Path(sys.executable).parent / "loralab"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.settings.data_dir),
            "--log-level",
            "warning",
        ]
        with open(self.log_file, "ab") as fh:
            self.proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        import httpx

        def _up():
            if self.proc.poll() is not None:
                pytest.fail(f"server exited: {self.log_file.read_text(errors='replace')}")
            try:
                return httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(_up, 60, "the server to answer")
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def process_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def integrity_ok(settings: Settings) -> bool:
    """``PRAGMA integrity_check`` on the SQLite store (PostgreSQL has no such check: True)."""
    import sqlite3

    if settings.database_url:
        return True
    path = Path(settings.data_dir) / "loralab.db"
    with sqlite3.connect(path) as conn:
        result = conn.execute("PRAGMA integrity_check").fetchall()
    return result == [("ok",)]
