"""A job's files under ``data_dir/runs/<job-id>/``: the worker log, checkpoints, the run card.

Read by the server, so nothing here imports the training stack. The ``checkpoint-N`` folder and
``COMPLETE`` marker conventions are the ones ``loralab.training.checkpoints`` writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "CheckpointInfo",
    "list_checkpoints",
    "log_path",
    "read_run_card",
    "run_dir",
    "runs_root",
]

CHECKPOINT_PREFIX = "checkpoint-"
COMPLETE_MARKER = "COMPLETE"
RUN_CARD_NAME = "run_card.json"


@dataclass(frozen=True)
class CheckpointInfo:
    """One ``checkpoint-N`` folder of a run."""

    step: int
    path_name: str
    complete: bool
    created_at: datetime


def runs_root(data_dir: str | Path) -> Path:
    """``data_dir/runs``: every job's folder lives here."""
    return Path(data_dir).expanduser().resolve() / "runs"


def run_dir(data_dir: str | Path, job_id: str) -> Path:
    """The job's own folder (its ``output.dir``)."""
    return runs_root(data_dir) / job_id


def log_path(output_dir: str | Path) -> Path:
    """Where the worker's stdout and stderr go."""
    return Path(output_dir) / "logs" / "worker.log"


def list_checkpoints(output_dir: str | Path) -> list[CheckpointInfo]:
    """The run's checkpoints, oldest step first; ``complete`` once the marker is written."""
    root = Path(output_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        suffix = child.name.removeprefix(CHECKPOINT_PREFIX)
        if not (child.is_dir() and child.name.startswith(CHECKPOINT_PREFIX) and suffix.isdigit()):
            continue
        marker = child / COMPLETE_MARKER
        complete = marker.is_file()
        stamp = (marker if complete else child).stat().st_mtime
        found.append(
            CheckpointInfo(
                step=int(suffix),
                path_name=child.name,
                complete=complete,
                created_at=datetime.fromtimestamp(stamp, tz=timezone.utc),
            )
        )
    return sorted(found, key=lambda c: c.step)


def read_run_card(output_dir: str | Path) -> dict[str, Any] | None:
    """The run card, or None until the run has written it."""
    try:
        return json.loads((Path(output_dir) / RUN_CARD_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
