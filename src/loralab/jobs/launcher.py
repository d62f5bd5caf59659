"""Start, find, signal and kill detached job workers (``python -m loralab.jobs.worker JOB_ID``).

Each worker runs in its own session and process group, with stdout and stderr going to
``runs/<id>/logs/worker.log``, so it keeps training when the server stops and a force-kill takes
its helper processes with it. The worker learns where the store is from the environment
(``LORALAB_DATA_DIR``, ``LORALAB_DATABASE_URL``), reads its config from its job row.

A worker does not inherit the server's environment: ``worker_env`` passes, by name, what a run
needs (paths, locale, caches, thread counts, the hub's and CUDA's settings) and nothing else,
so secrets the server holds (``LORALAB_TOKEN``, ``HF_TOKEN``, cloud keys, ...) stay out of the
code a job runs and of what it logs. ``settings.worker_env`` names extra variables to pass.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

from loralab.config import Settings
from loralab.jobs.run_files import log_path

__all__ = [
    "WORKER_MODULE",
    "describe_exit",
    "is_worker_alive",
    "kill_worker_group",
    "launch_worker",
    "signal_worker",
    "worker_env",
]

WORKER_MODULE = "loralab.jobs.worker"


# Passed from the server's environment when set; everything else stays behind.
PASSED_VARS = frozenset(
    {
        # the process: where programs, home, temporary files and the interpreter's paths are
        *("PATH", "HOME", "USER", "LOGNAME", "TZ", "TMPDIR", "TEMP", "TMP"),
        *("PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "LANG", "LANGUAGE"),
        # downloads: the proxy and CA bundle a model or dataset download goes through
        *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
        *("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
        # caches and the libraries' own switches
        *("XDG_CACHE_HOME", "TORCH_HOME", "TRITON_CACHE_DIR", "PYTORCH_CUDA_ALLOC_CONF"),
        *("TRANSFORMERS_OFFLINE", "TRANSFORMERS_CACHE", "TRANSFORMERS_VERBOSITY"),
        *("NVIDIA_VISIBLE_DEVICES", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"),
        "LORALAB_GGUF_CONVERTER",  # export: llama.cpp's converter (export.formats)
    }
)
PASSED_PREFIXES = ("LC_", "HF_", "CUDA_", "OMP_", "MKL_", "KMP_")
# Credentials under a passed prefix: only on purpose, through ``settings.worker_env``.
HELD_BACK = frozenset({"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"})


def _passed(name: str) -> bool:
    return name not in HELD_BACK and (name in PASSED_VARS or name.startswith(PASSED_PREFIXES))


def worker_env(
    settings: Settings, devices: str | None = None, *, store: bool = True
) -> dict[str, str]:
    """The environment a worker runs with, built on purpose (never a copy of ours).

    From the server's environment it takes what a run needs (``PASSED_VARS``, the
    ``PASSED_PREFIXES``: locale, Hugging Face and CUDA settings, thread counts), minus the hub
    token, plus the names in ``settings.worker_env``. Then the settings the worker reads:
    with ``store`` (job workers, which report through the database) the data dir and the
    database URL, credentials included, and the timings; the inference worker needs neither.

    ``devices`` pins the worker to those GPUs (``CUDA_VISIBLE_DEVICES``); an empty string hides
    every GPU (light jobs); None leaves the variable as the server has it.
    """
    extra = set(settings.worker_env)
    env = {k: v for k, v in os.environ.items() if _passed(k) or k in extra}
    if devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = devices
    if store:
        env.update(
            {
                "LORALAB_DATA_DIR": str(Path(settings.data_dir).expanduser().resolve()),
                "LORALAB_DATABASE_URL": settings.resolved_database_url,
                "LORALAB_HEARTBEAT_SECONDS": str(settings.heartbeat_seconds),
                "LORALAB_HEARTBEAT_TIMEOUT_SECONDS": str(settings.heartbeat_timeout_seconds),
                "LORALAB_CANCEL_GRACE_SECONDS": str(settings.cancel_grace_seconds),
                "LORALAB_ALLOW_CUSTOM_REWARDS": str(settings.allow_custom_rewards).lower(),
                "LORALAB_ALLOW_REMOTE_CODE": str(settings.allow_remote_code).lower(),
            }
        )
    env.update(
        {
            # Log lines reach worker.log as they happen, not when a buffer fills.
            "PYTHONUNBUFFERED": "1",
            # The fast tokenizers' own thread pool deadlocks after fork and warns about it.
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    return env


def launch_worker(
    job_id: str,
    settings: Settings,
    output_dir: str | Path,
    attempt: int,
    devices: str | None = None,
    cpu_jobs: int | None = None,
):
    """Start the worker for ``job_id`` detached (pinned to ``devices``, see ``worker_env``);
    returns its ``subprocess.Popen``. ``cpu_jobs``: how many training jobs may share this CPU
    at once (``LORALAB_CPU_JOBS``; the worker divides the cores among them)."""
    out = Path(output_dir)
    log = log_path(out)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        pinned = f" on GPU {devices}" if devices else ""
        fh.write(f"\n===== attempt {attempt} started {stamp}{pinned} =====\n".encode())
        fh.flush()
        return subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, job_id],
            cwd=out,
            env={
                **worker_env(settings, devices),
                **({"LORALAB_CPU_JOBS": str(cpu_jobs)} if cpu_jobs else {}),
            },
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )


def _worker_process(pid: int | None, job_id: str) -> psutil.Process | None:
    """The live worker of ``job_id`` at ``pid``, or None (gone, a zombie, or a reused pid)."""
    if not pid:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    # After a reboot the pid may belong to something else entirely.
    if WORKER_MODULE in cmdline and job_id in cmdline:
        return proc
    return None


def is_worker_alive(pid: int | None, job_id: str) -> bool:
    """Whether ``pid`` is a running worker for ``job_id``."""
    return _worker_process(pid, job_id) is not None


def signal_worker(pid: int | None, job_id: str, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to the worker itself (it turns SIGTERM into a graceful stop)."""
    proc = _worker_process(pid, job_id)
    if proc is None:
        return False
    try:
        proc.send_signal(sig)
    except psutil.Error:
        return False
    return True


def kill_worker_group(pid: int | None, job_id: str, wait_seconds: float = 5.0) -> bool:
    """SIGKILL the worker's whole process group and wait a little for it to go."""
    proc = _worker_process(pid, job_id)
    if proc is None:
        return False
    try:
        # Only a group the worker leads: never the server's own group.
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, psutil.NoSuchProcess):
        return False
    except (PermissionError, psutil.AccessDenied):
        return False
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and is_worker_alive(proc.pid, job_id):
        time.sleep(0.05)
    return True


def describe_exit(code: int | None) -> str:
    """Words for a process exit status (negative = killed by that signal)."""
    if code is None:
        return "its exit status is unknown (it was not started by this server)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (the system kills with SIGKILL when memory runs out)" if code == -9 else ""
        return f"it was killed by {name}{hint}"
    return f"it exited with status {code}"
