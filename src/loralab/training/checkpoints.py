"""Atomic checkpoints: a ``checkpoint-N`` folder counts only once its ``COMPLETE`` marker exists.

The Trainer writes ``checkpoint-N`` file by file (adapter, optimizer, scheduler, RNG state,
trainer state). A crash or kill in the middle leaves a folder that looks fine but cannot be
resumed from, or worse, resumes with a stale optimizer. So after the Trainer has written
everything, we fsync each file and then write ``COMPLETE`` atomically (temp file, fsync, rename,
fsync the folder). Resume and rotation look only at complete checkpoints.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loralab.diskspace import check_free_space

__all__ = [
    "COMPLETE_MARKER",
    "Checkpoint",
    "check_checkpoint_space",
    "last_complete_checkpoint",
    "list_checkpoints",
    "mark_complete",
    "read_marker",
    "remove_incomplete",
    "rotate_checkpoints",
    "unmark",
]

PREFIX = "checkpoint-"
COMPLETE_MARKER = "COMPLETE"


@dataclass(frozen=True)
class Checkpoint:
    """One ``checkpoint-N`` folder."""

    step: int
    path: Path
    complete: bool


def list_checkpoints(root: str | Path) -> list[Checkpoint]:
    """Every ``checkpoint-N`` folder under ``root``, oldest first (none if ``root`` is missing)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        suffix = child.name.removeprefix(PREFIX)
        if child.is_dir() and child.name.startswith(PREFIX) and suffix.isdigit():
            found.append(Checkpoint(int(suffix), child, (child / COMPLETE_MARKER).is_file()))
    return sorted(found, key=lambda c: c.step)


def last_complete_checkpoint(root: str | Path) -> Checkpoint | None:
    """The complete checkpoint with the highest step, or None."""
    complete = [c for c in list_checkpoints(root) if c.complete]
    return complete[-1] if complete else None


def _fsync_path(path: Path) -> None:
    flags = os.O_RDONLY
    if path.is_dir():
        flags |= getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # some filesystems refuse to open folders; the data files matter most
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_checkpoint_space(root: str | Path, step: int) -> None:
    """Before the Trainer writes ``checkpoint-{step}`` under ``root``: the disk must hold one
    more checkpoint as big as the last complete one (old ones are rotated out only after).

    Raises:
        InsufficientStorage: with the bytes needed and free, so the run fails with the reason
            instead of leaving a half-written checkpoint.
    """
    last = last_complete_checkpoint(root)
    needed = 0
    if last is not None:
        needed = sum(p.stat().st_size for p in last.path.rglob("*") if p.is_file())
    check_free_space(root, needed, what=f"save checkpoint-{step}")


def mark_complete(path: str | Path, info: dict[str, Any]) -> Path:
    """Flush every file of the checkpoint to disk, then write ``COMPLETE`` (JSON) atomically.

    Args:
        path: the ``checkpoint-N`` folder, fully written by the Trainer.
        info: what to keep with it (step, elapsed training seconds); read back by ``read_marker``.

    Returns:
        The marker's path.
    """
    path = Path(path)
    for file in sorted(path.rglob("*")):
        if file.is_file():
            _fsync_path(file)
    marker = path / COMPLETE_MARKER
    tmp = path / f".{COMPLETE_MARKER}.tmp"
    payload = {**info, "completed_at": time.time()}
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, marker)
    _fsync_path(path)
    return marker


def read_marker(path: str | Path) -> dict[str, Any]:
    """The ``info`` saved by ``mark_complete`` ({} if the marker is missing or unreadable)."""
    try:
        return json.loads((Path(path) / COMPLETE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def unmark(path: str | Path) -> None:
    """Remove a checkpoint's marker before it is rewritten, so it never looks complete mid-write."""
    (Path(path) / COMPLETE_MARKER).unlink(missing_ok=True)
    _fsync_path(Path(path))


def remove_incomplete(root: str | Path) -> list[Path]:
    """Delete checkpoint folders without a marker (left by a crash); returns what was removed."""
    removed = []
    for ckpt in list_checkpoints(root):
        if not ckpt.complete:
            shutil.rmtree(ckpt.path, ignore_errors=True)
            removed.append(ckpt.path)
    return removed


def rotate_checkpoints(root: str | Path, keep: int | None) -> list[Path]:
    """Keep the newest ``keep`` complete checkpoints; delete older ones and stale incomplete ones.

    Done here rather than by the Trainer's ``save_total_limit`` (transformers 5.23 rotates before
    our marker is written, and by mtime), so the last complete checkpoint is never deleted
    while the new one is still unmarked.

    Returns:
        The folders removed.
    """
    if keep is None:
        return []
    ckpts = list_checkpoints(root)
    complete = [c for c in ckpts if c.complete]
    if not complete:
        return []
    keep_steps = {c.step for c in complete[-keep:]}
    newest = complete[-1].step
    removed = []
    for ckpt in ckpts:
        stale_partial = not ckpt.complete and ckpt.step < newest
        if (ckpt.complete and ckpt.step not in keep_steps) or stale_partial:
            shutil.rmtree(ckpt.path, ignore_errors=True)
            removed.append(ckpt.path)
    return removed
