"""Run benchmark configurations as whole processes, interleaved, and report medians as ratios.

Every workload of ``loralab bench`` is a list of ``Proc`` configurations (a command line each).
``run_interleaved`` starts each one as a fresh process, A B C A B C, ``repeats`` times, so that
drift on the machine (another job starting, the CPU warming up) hits every configuration alike.
The runner itself measures what it can compare across implementations that share no code: the
wall time of the whole process (imports, model load and tokenizing included) and its peak RSS
(``os.wait4``'s ``ru_maxrss`` of that one child). A configuration's own figures (tokens/s,
final loss ...) are the last JSON line it prints on stdout.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BenchOptions",
    "Goal",
    "Proc",
    "Run",
    "WorkloadResult",
    "markdown_table",
    "median_of",
    "ratio_text",
    "run_interleaved",
    "run_process",
    "sample_file",
]


@dataclass(frozen=True)
class BenchOptions:
    """What every workload is given: where to work, how many rounds, and how big."""

    work_dir: Path
    repeats: int = 3
    quick: bool = False  # a smoke run: fewer rows and steps, for tests; never recorded as figures
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))


@dataclass(frozen=True)
class Proc:
    """One configuration: a label for the table and the command that runs it."""

    label: str
    argv: Sequence[str]  # "{round}" in an argument becomes the round's number (0, 1, ...)
    env: dict[str, str] | None = None  # added to the bench's own environment
    cwd: str | None = None

    def argv_for(self, round: int) -> list[str]:
        return [arg.replace("{round}", str(round)) for arg in self.argv]


@dataclass
class Run:
    """One process of one configuration."""

    label: str
    round: int
    wall_s: float
    peak_rss_mb: float
    out: dict  # the configuration's last JSON line on stdout
    returncode: int = 0


@dataclass
class Goal:
    """One goal of the issue for this workload and what this run measured against it."""

    name: str  # "wall vs plain TRL"
    target: str  # ">= 2.5x faster"
    measured: str  # "1.84x faster"
    met: bool | None  # None: not measured here (note says why)
    note: str = ""


@dataclass
class WorkloadResult:
    """What a workload reports: a Markdown table, its goals, and every run for the record."""

    name: str
    title: str
    table: str
    goals: list[Goal] = field(default_factory=list)
    details: str = ""  # every run, for a <details> block
    notes: list[str] = field(default_factory=list)


# Linux carries a process's peak RSS across fork and exec (the new program's ``ru_maxrss``
# starts at the parent's peak), so a child of this big process would report at least our own
# peak. A small launcher, exec'd first, forks the configuration from its fresh small image and
# reports that grandchild's own peak, as GNU time does.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_process(proc: Proc, *, round: int = 0, timeout: float | None = None) -> Run:
    """Start ``proc`` and wait for it; its wall time and peak RSS are measured from outside,
    so a program we did not write (LLaMA-Factory's CLI) is measured the same way as ours."""
    import tempfile

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.update(proc.env or {})
    with tempfile.TemporaryDirectory(prefix="loralab-bench-run-") as tmp:
        rss_file = Path(tmp) / "maxrss"
        argv = [sys.executable, "-c", _LAUNCHER, str(rss_file), *proc.argv_for(round)]
        started = time.perf_counter()
        child = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=proc.cwd,
            start_new_session=True,  # a timeout kills the launcher and its configuration
        )
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)
            child.communicate()
            raise RuntimeError(f"{proc.label}: no result after {timeout:.0f} s") from None
        wall = time.perf_counter() - started
        maxrss_kb = float(rss_file.read_text()) if rss_file.exists() else float("nan")
    if child.returncode != 0:
        raise RuntimeError(
            f"{proc.label} failed with exit code {child.returncode}:\n{stderr[-3000:]}"
        )
    return Run(
        label=proc.label,
        round=round,
        wall_s=round_(wall, 2),
        peak_rss_mb=round_(maxrss_kb / 1024, 0),  # Linux reports kilobytes
        out=_last_json(stdout),
    )


def run_interleaved(
    plan: Sequence[Proc],
    repeats: int,
    *,
    log: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> list[Run]:
    """Each configuration of ``plan`` once per round, in order, for ``repeats`` rounds."""
    runs: list[Run] = []
    for r in range(max(1, repeats)):
        for proc in plan:
            run = run_process(proc, round=r, timeout=timeout)
            runs.append(run)
            if log:
                log(f"  round {r + 1}: {proc.label}: {run.wall_s:.2f} s, {run.peak_rss_mb:.0f} MB")
    return runs


def median_of(runs: Sequence[Run], label: str, key: str = "wall_s") -> float | None:
    """The median of ``key`` (a Run attribute, or a key of its JSON output) over one label."""
    values = []
    for run in runs:
        if run.label != label:
            continue
        value = getattr(run, key, None) if hasattr(run, key) else run.out.get(key)
        if isinstance(value, int | float) and value == value:  # not NaN
            values.append(float(value))
    return statistics.median(values) if values else None


def ratio_text(baseline: float | None, value: float | None, *, higher_is_better=False) -> str:
    """``"2.31x faster"`` / ``"0.80x (slower)"``: how many times better ``value`` is."""
    if not baseline or not value:
        return "n/a"
    ratio = value / baseline if higher_is_better else baseline / value
    return f"{ratio:.2f}x " + ("faster" if ratio >= 1 else "(slower)")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if value.is_integer() and abs(value) >= 100:  # MB, rows: no ".00"
            return f"{value:,.0f}"
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


def _last_json(stdout: str) -> dict:
    for line in reversed((stdout or "").strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {}


def round_(value: float, digits: int) -> float:
    return float(f"{value:.{digits}f}")


def peak_rss_mb() -> int:
    """This process's peak RSS in MB (Linux reports kilobytes)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def write_json_line(payload: dict) -> None:
    """What a configuration prints last: its figures as one JSON line."""
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def module_argv(module: str, *args: str) -> list[str]:
    """Run a module of this package with the same interpreter: ``python -m loralab.bench.x``."""
    return [sys.executable, "-m", module, *args]


def sample_file(relative: str) -> Path:
    """A file of the sample datasets: ``$LORALAB_SHARED_DATA/relative``, else ``../shared/data``
    beside the checkout (where the tests find it too).

    Raises:
        FileNotFoundError: neither holds it; the message says what to set.
    """
    env = os.environ.get("LORALAB_SHARED_DATA")
    if env:
        candidates = [Path(env) / relative]
    else:
        here = Path(__file__).resolve()
        candidates = [parent.parent / "shared" / "data" / relative for parent in here.parents]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    where = f"LORALAB_SHARED_DATA ({env})" if env else "../shared/data beside the checkout"
    raise FileNotFoundError(
        f"The sample file {relative} is not in {where}; set LORALAB_SHARED_DATA to the folder "
        "that holds formats/."
    )


def read_record(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""
