"""Workload results as Markdown, and ``--record``: each workload's section in docs/benchmarks.md.

A recorded section sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``; recording
again replaces it, so running one workload never erases the figures of another.
"""

from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

from loralab.bench.runner import Goal, WorkloadResult, markdown_table

__all__ = ["machine_line", "record", "render", "render_goals"]


def machine_line() -> str:
    import torch

    from loralab.training.environment import usable_physical_cores

    cores, _why = usable_physical_cores()
    cpu = _cpu_name()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {cores} physical cores ({os.cpu_count()} logical), {gpu}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _met(goal: Goal) -> str:
    if goal.met is None:
        return "not measured"
    return "met" if goal.met else "**not met**"


def render_goals(goals: list[Goal]) -> str:
    return markdown_table(
        ["goal", "target", "measured", "result", "note"],
        [[g.name, g.target, g.measured, _met(g), g.note] for g in goals],
    )


def render(result: WorkloadResult, *, command: str, machine: str, quick: bool) -> str:
    head = f"### {result.title} (`{result.name}`, {date.today().isoformat()})"
    parts = [head, "", f"```\n{command}\n```", "", f"Machine: {machine}."]
    if quick:
        parts += ["", "**A quick smoke run: sizes are cut down, the figures are not results.**"]
    for note in result.notes:
        parts += ["", note]
    parts += ["", result.table]
    if result.goals:
        parts += ["", render_goals(result.goals)]
    if result.details:
        parts += ["", "<details><summary>Every run</summary>", "", result.details, "", "</details>"]
    return "\n".join(parts) + "\n"


def record(path: Path, name: str, section: str) -> None:
    """Write ``section`` as workload ``name``'s part of ``path``, replacing an earlier one."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{section.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        anchor = "<!-- bench:end -->"
        if anchor in text:
            text = text.replace(anchor, f"{block}\n\n{anchor}", 1)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
