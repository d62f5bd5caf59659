"""The inference worker, seen from the server: started on first use, restarted when it died,
stopped with the server. No torch here.

``InferenceProcess.ensure`` starts ``python -m loralab.inference.worker`` on a free loopback
port with a new random token, pinned to the device ``choose_inference_device`` picks, and waits
for its ``/health``. Its log is ``<data dir>/inference/worker.log``.

The device rule: the worker takes a GPU only when it is free of running device jobs (training,
evaluation) and enough other GPUs stay free for the queued ones; it takes the highest such GPU
(the scheduler hands out the lowest first). Otherwise it runs on the CPU and says why. When a
device job starts on its GPU later, the next request restarts it elsewhere.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from loralab.config import Settings
from loralab.errors import LoralabError
from loralab.jobs.launcher import worker_env
from loralab.store import Database, JobRow, reading

__all__ = [
    "INFERENCE_MODULE",
    "DeviceChoice",
    "InferenceProcess",
    "choose_inference_device",
    "device_facts",
    "list_gpus",
]

INFERENCE_MODULE = "loralab.inference.worker"
TOKEN_ENV = "LORALAB_INFERENCE_TOKEN"  # as loralab.inference.worker reads it
TOKEN_HEADER = "X-Loralab-Inference-Token"
_NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True)
class DeviceChoice:
    """Where the worker runs: ``visible`` becomes its CUDA_VISIBLE_DEVICES ("" hides them)."""

    device: str  # "cpu" | "cuda:0"
    gpu: str | None  # the GPU id as the scheduler numbers them
    visible: str
    reason: str


def list_gpus(proc_dir: Path = _NVIDIA_GPUS, cuda_visible: str | None = None) -> list[str]:
    """GPU ids ("0", "1", ...) the jobs are scheduled on: the NVIDIA driver's entries under
    ``proc_dir``, narrowed by ``cuda_visible`` (CUDA_VISIBLE_DEVICES) as ``jobs.devices``."""
    try:
        present = sum(1 for _ in proc_dir.iterdir())
    except OSError:
        present = 0
    if cuda_visible is not None:
        ids = [p for p in cuda_visible.split(",") if p.strip() and p.strip() != "-1"]
        present = min(present, len(ids))
    return [str(i) for i in range(present)]


def _parse(devices: str | None) -> set[str]:
    return {p.strip() for p in (devices or "").split(",") if p.strip()}


def choose_inference_device(
    gpus: Sequence[str], busy: Sequence[str | None], queued: int = 0
) -> DeviceChoice:
    """Pick the inference worker's device from the facts.

    Args:
        gpus: the GPU ids (``list_gpus``).
        busy: the ``devices`` of every running device job (None: a job not pinned, which may
            use every GPU).
        queued: device jobs waiting for a GPU; that many free GPUs are left to them.
    """
    if not gpus:
        return DeviceChoice("cpu", None, "", "no GPU on this machine: inference runs on the CPU")
    if any(d is None for d in busy):
        return DeviceChoice("cpu", None, "", "a device job uses every GPU: inference uses the CPU")
    used = set().union(*(_parse(d) for d in busy)) if busy else set()
    free = [g for g in gpus if g not in used]
    spare = free[queued:] if queued else free
    if not spare:
        jobs = "training jobs use or wait for every GPU"
        return DeviceChoice("cpu", None, "", f"{jobs}: inference runs on the CPU")
    gpu = spare[-1]
    return DeviceChoice("cuda:0", gpu, gpu, f"GPU {gpu} is free of training jobs")


def device_facts(db: Database) -> tuple[list[str | None], int]:
    """The ``devices`` of the running device jobs and how many device jobs are queued."""
    from loralab.jobs.registry import device_kinds

    kinds = list(device_kinds())
    with reading(db) as session:
        rows = session.query(JobRow.status, JobRow.devices).filter(
            JobRow.kind.in_(kinds), JobRow.status.in_(["running", "queued"])
        )
        facts = list(rows)
    busy = [devices for status, devices in facts if status == "running"]
    return busy, sum(1 for status, _ in facts if status == "queued")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unavailable(message: str, fix: str | None = None) -> LoralabError:
    return LoralabError(
        message,
        code="inference_unavailable",
        status=503,
        fix=fix or "See the inference worker's log: <data dir>/inference/worker.log.",
    )


class InferenceProcess:
    """The one inference worker of this server process.

    Args:
        settings: the server's settings (data dir, ``inference_memory_mb``).
        startup_timeout: seconds to wait for a new worker's ``/health``.
    """

    def __init__(self, settings: Settings, *, startup_timeout: float = 120.0) -> None:
        self.settings = settings
        self.startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._url = ""
        self._token = ""
        self._choice: DeviceChoice | None = None
        self.starts = 0

    @property
    def log_file(self) -> Path:
        return Path(self.settings.data_dir).expanduser() / "inference" / "worker.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def choice(self) -> DeviceChoice | None:
        return self._choice

    def ensure(self, busy: Sequence[str | None] = (), queued: int = 0) -> tuple[str, dict]:
        """The worker's URL and the headers to call it with; starts or restarts it as needed.

        Raises:
            LoralabError: 503 ``inference_unavailable`` when it does not come up.
        """
        with self._lock:
            gpus = list_gpus(cuda_visible=os.environ.get("CUDA_VISIBLE_DEVICES"))
            choice = choose_inference_device(gpus, list(busy), queued)
            if self.running and self._choice is not None:
                held = self._choice.gpu
                if held is None or held not in set().union(*(_parse(b) for b in busy), set()):
                    return self._url, self._headers()
            self._stop_locked()
            self._start(choice)
            return self._url, self._headers()

    def mark_dead(self) -> None:
        """Forget a worker that stopped answering (it is killed; the next call starts one)."""
        with self._lock:
            self._stop_locked(grace=0.0)

    def health(self) -> dict[str, Any] | None:
        """The running worker's ``/health``, or None when none runs."""
        if not self.running:
            return None
        try:
            reply = httpx.get(f"{self._url}/health", headers=self._headers(), timeout=5)
        except httpx.HTTPError:
            return None
        return reply.json() if reply.status_code == 200 else None

    def stop(self) -> None:
        """SIGTERM the worker, then SIGKILL its group if it lingers."""
        with self._lock:
            self._stop_locked()

    def _headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self._token}

    def _start(self, choice: DeviceChoice) -> None:
        port = _free_port()
        token = secrets.token_urlsafe(24)
        # No store settings: the inference worker never opens the database.
        env = worker_env(self.settings, devices=choice.visible, store=False)
        env[TOKEN_ENV] = token
        cmd = [
            sys.executable,
            "-m",
            INFERENCE_MODULE,
            "--port",
            str(port),
            "--device",
            choice.device,
            "--device-reason",
            choice.reason,
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.settings.inference_memory_mb:
            cmd += ["--memory-mb", str(self.settings.inference_memory_mb)]
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as fh:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            fh.write(f"\n===== inference worker started {stamp}: {choice.reason} =====\n".encode())
            fh.flush()
            proc = subprocess.Popen(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        self._proc, self._url, self._token, self._choice = (
            proc,
            f"http://127.0.0.1:{port}",
            token,
            choice,
        )
        self.starts += 1
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-600:].strip()
                self._proc = None
                raise unavailable(f"The inference worker exited at start: {tail}")
            try:
                reply = httpx.get(f"{self._url}/health", headers=self._headers(), timeout=1)
                if reply.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self._stop_locked(grace=0.0)
        raise unavailable(f"The inference worker did not answer within {self.startup_timeout} s.")

    def _stop_locked(self, grace: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=grace) if grace else None
        except subprocess.TimeoutExpired:
            pass
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only its group
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait(timeout=10)
