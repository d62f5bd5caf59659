"""Secrets a job needs (a judge's API key, a hub token) kept out of the job's row, events,
logs and API answers: written to a file only the owner can read, in the job's own folder,
read by the worker, removed when the job ends."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["forget_secret", "keep_secret", "read_secret"]


def keep_secret(out: Path, name: str, value: str) -> str:
    """Write ``value`` to ``out/name`` with mode 0600; returns the file's path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return str(path)


def read_secret(path: str | None) -> str | None:
    """The secret at ``path`` (None when there is none)."""
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def forget_secret(path: str | None) -> None:
    """Remove the secret's file, if any."""
    if path:
        Path(path).unlink(missing_ok=True)
