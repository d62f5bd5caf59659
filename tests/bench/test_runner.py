"""The bench runner and report: interleaved whole processes, measured from outside, recorded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loralab.bench.report import record
from loralab.bench.runner import Proc, median_of, ratio_text, run_interleaved

ALLOCATE = (
    "import json, sys, time; block = bytearray({mb} * 2**20); "
    "print('noise'); print(json.dumps({{'round': int(sys.argv[1]), 'label': '{label}'}}))"
)


def _proc(label: str, mb: int) -> Proc:
    return Proc(label, [sys.executable, "-c", ALLOCATE.format(mb=mb, label=label), "{round}"])


def test_configurations_run_interleaved_as_processes_measured_from_outside():
    runs = run_interleaved([_proc("A", 16), _proc("B", 300)], repeats=2)

    assert [(r.label, r.round) for r in runs] == [("A", 0), ("B", 0), ("A", 1), ("B", 1)]
    # {round} reached the child's argv, and its last JSON line is its output.
    assert [r.out for r in runs] == [
        {"round": 0, "label": "A"},
        {"round": 0, "label": "B"},
        {"round": 1, "label": "A"},
        {"round": 1, "label": "B"},
    ]
    # Peak RSS is the child's own: the one that held 300 MB shows it, the other does not.
    assert all(r.peak_rss_mb >= 300 for r in runs if r.label == "B")
    assert all(r.peak_rss_mb < 200 for r in runs if r.label == "A")
    assert all(r.wall_s > 0 for r in runs)
    assert median_of(runs, "B", "peak_rss_mb") >= 300
    assert median_of(runs, "A", "label") is None  # not a number


def test_a_failing_configuration_says_which_and_why():
    bad = Proc("broken", [sys.executable, "-c", "import sys; sys.exit('no model here')"])
    with pytest.raises(RuntimeError, match=r"broken failed with exit code 1:\s+no model here"):
        run_interleaved([bad], repeats=1)


def test_ratios_read_as_times_faster():
    assert ratio_text(10.0, 4.0) == "2.50x faster"  # seconds: lower is better
    assert ratio_text(10.0, 20.0) == "0.50x (slower)"
    assert ratio_text(100.0, 250.0, higher_is_better=True) == "2.50x faster"  # tokens/s
    assert ratio_text(None, 3.0) == "n/a"


def test_recording_replaces_only_its_own_section(tmp_path: Path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nHand-written text.\n\n<!-- bench:end -->\n\nMore text.\n")

    record(doc, "sft-tiny", "### SFT tiny\n\nfirst figures\n")
    record(doc, "data", "### Data\n\ndata figures\n")
    record(doc, "sft-tiny", "### SFT tiny\n\nsecond figures\n")

    text = doc.read_text()
    assert "first figures" not in text
    assert text.count("second figures") == 1 and text.count("data figures") == 1
    assert text.index("second figures") < text.index("data figures") < text.index("bench:end")
    assert text.startswith("# Benchmarks\n\nHand-written text.") and "More text." in text
    assert not doc.with_suffix(".md.part").exists()
