"""Free disk checks before big writes (uploads, exports, checkpoints).

A write that runs out of disk half-way leaves a partial file and a confusing ``OSError``. So a
writer first asks ``check_free_space`` for what it is about to write, plus ``RESERVE_BYTES`` kept
free for the database and logs, and gets ``InsufficientStorage`` (HTTP 507) with both numbers
when the disk cannot hold it. ``storage_error`` turns an ``ENOSPC`` met anyway (another process
filled the disk meanwhile) into the same error.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from loralab.errors import InsufficientStorage

__all__ = [
    "RESERVE_BYTES",
    "check_free_space",
    "format_bytes",
    "free_bytes",
    "is_disk_full",
    "storage_error",
]

RESERVE_BYTES = 64 * 1024 * 1024
"""Kept free after every write, for the database, logs and the events of running jobs."""

_FIX = "Free some disk space on the server, or move its data dir (--data-dir) to a bigger disk."


def format_bytes(n: int) -> str:
    """``n`` bytes for a person: ``512 B``, ``3.2 MB``, ``1.5 GB`` (powers of 1024)."""
    for unit, size in (("TB", 1024**4), ("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def free_bytes(path: str | Path) -> int:
    """Free bytes (for this user) on the disk that holds ``path`` or its nearest existing parent."""
    target = Path(path).expanduser().absolute()
    while not target.exists() and target != target.parent:
        target = target.parent
    return shutil.disk_usage(target).free


def check_free_space(
    path: str | Path, needed: int, *, what: str, reserve: int | None = None
) -> int:
    """Make sure ``needed`` bytes (plus the reserve) fit on the disk of ``path``.

    Args:
        path: where the bytes will be written (it need not exist yet).
        needed: how many bytes the write will take (0 checks the reserve alone).
        what: the write, for the message ("store the upload", "save checkpoint-200").
        reserve: bytes to leave free afterwards; ``RESERVE_BYTES`` when None.

    Returns:
        The free bytes measured.

    Raises:
        InsufficientStorage: the disk has less free than ``needed + reserve`` (507).
    """
    reserve = RESERVE_BYTES if reserve is None else reserve
    free = free_bytes(path)
    if needed + reserve <= free:
        return free
    raise InsufficientStorage(
        f"Not enough free disk space to {what}: it needs {format_bytes(needed)} "
        f"({needed} bytes) plus {format_bytes(reserve)} kept free, and only "
        f"{format_bytes(free)} ({free} bytes) are free.",
        fix=_FIX,
    )


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is the OS saying the disk (or the user's quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def storage_error(exc: OSError, *, what: str) -> InsufficientStorage:
    """The ``InsufficientStorage`` for a write that failed with ``ENOSPC``/``EDQUOT``."""
    return InsufficientStorage(
        f"The disk filled up while trying to {what} ({exc.strerror or exc}).", fix=_FIX
    )
