"""Runs inside the sandbox (standard library only, started with ``python -I -S -c``).

Started as ``python -I -S -c RUNNER MEMORY_BYTES CPU_SECONDS PROCESSES``: it sets those limits
on itself first, then reads one JSON request from stdin and writes one JSON answer to the
stdout it started with; user code that prints goes to stderr instead, so it cannot break the
answer.

- ``{"mode": "reward", "code": ..., "samples": [{prompt, completion, row}]}``: defines
  ``reward(prompt, completion, **row)`` from ``code`` and calls it once per sample;
  answers ``{"scores": [...]}`` or ``{"error": ..., "sample": i}``.
- ``{"mode": "tests", "code": ..., "tests": [...]}``: runs ``code`` (a completion's program),
  then each test in the same namespace; answers ``{"passed": [true, false, ...]}``
  or ``{"error": ...}`` when the program itself fails.
"""

import json
import os
import resource
import sys
import traceback


def _limit(memory, cpu, processes):
    for kind, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_FSIZE, 16 << 20),
        (resource.RLIMIT_CORE, 0),
    ):
        soft = value
        hard = value + 1 if kind == resource.RLIMIT_CPU else value  # SIGXCPU first, then KILL
        resource.setrlimit(kind, (soft, hard))


def _describe(exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<reward>"]
    where = f" (line {frames[-1].lineno})" if frames else ""
    if isinstance(exc, MemoryError):
        return "MemoryError: the reward ran out of its memory limit" + where
    return f"{type(exc).__name__}: {exc}"[:500] + where


def main():
    _limit(*(int(a) for a in sys.argv[1:4]))
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    request = json.loads(sys.stdin.read())
    try:
        answer = _run(request)
    except BaseException as exc:  # noqa: BLE001 - everything the user code raises is reported
        answer = {"error": _describe(exc)}
    with os.fdopen(answer_fd, "w") as out:
        out.write(json.dumps(answer))


def _run(request):
    namespace = {"__name__": "reward"}
    if request["mode"] == "tests":
        exec(compile(request["code"], "<completion>", "exec"), namespace)
        passed = []
        for test in request["tests"]:
            try:
                exec(compile(test, "<test>", "exec"), namespace)
                passed.append(True)
            except Exception:  # noqa: BLE001 - a failing test is a score, not an error
                passed.append(False)
        return {"passed": passed}
    exec(compile(request["code"], "<reward>", "exec"), namespace)
    reward = namespace.get("reward")
    if not callable(reward):
        return {"error": "the code defines no function `reward(prompt, completion, **row)`"}
    scores = []
    for i, sample in enumerate(request["samples"]):
        try:
            value = reward(sample["prompt"], sample["completion"], **sample["row"])
            scores.append(float(value))
        except BaseException as exc:  # noqa: BLE001
            return {"error": _describe(exc), "sample": i}
    return {"scores": scores}


main()
