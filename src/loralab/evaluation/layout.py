"""Where evaluation and batch jobs write, under ``<data dir>/evaluations/<job-id>/``:

- ``samples.jsonl``: an evaluation's samples (prompt, reference, both answers, metrics, judge)
- ``results.jsonl``: a batch's answers

Each is written beside its place and renamed when complete, so a file that is there is whole.
Plain Python: the server reads these files too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_FILE", "SAMPLES_FILE", "read_jsonl"]

SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.jsonl"


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every object of a JSON-lines file (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
