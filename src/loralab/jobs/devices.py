"""How many jobs may run at once: one per GPU, or one on a CPU-only machine.

Counted without torch (the server never imports it): the NVIDIA driver lists its GPUs under
``/proc/driver/nvidia/gpus``, and ``CUDA_VISIBLE_DEVICES`` narrows what a process may use.
"""

from __future__ import annotations

import os
from pathlib import Path

from loralab.config import Settings

__all__ = ["assign_devices", "gpu_count", "max_concurrent_jobs", "visible_gpu_count"]

_NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def visible_gpu_count() -> int:
    """GPUs this process may use (0 without an NVIDIA driver)."""
    try:
        present = sum(1 for _ in _NVIDIA_GPUS.iterdir())
    except OSError:
        present = 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return present
    ids = [part for part in visible.split(",") if part.strip() and part.strip() != "-1"]
    return min(len(ids), present)


def gpu_count(settings: Settings) -> int:
    """The GPUs device jobs are scheduled on: ``settings.gpus``, else the visible ones."""
    return settings.gpus if settings.gpus is not None else visible_gpu_count()


def max_concurrent_jobs(settings: Settings) -> int:
    """``settings.max_concurrent_jobs``, or one per GPU, or 1 on CPU."""
    if settings.max_concurrent_jobs:
        return settings.max_concurrent_jobs
    return max(1, gpu_count(settings))


def _parse(devices: str | None) -> set[int]:
    return {int(p) for p in (devices or "").split(",") if p.strip().isdigit()}


def assign_devices(total: int, busy: list[str | None], wanted: int) -> list[str | None]:
    """GPU ids for up to ``wanted`` new device jobs, one GPU each, none already ``busy``.

    With no GPUs (``total`` 0) every job gets None (it trains on the CPU, unpinned). Returns as
    many assignments as there are free GPUs, at most ``wanted``.
    """
    if total <= 0:
        return [None] * wanted
    used = set().union(*(_parse(d) for d in busy)) if busy else set()
    free = [gpu for gpu in range(total) if gpu not in used]
    return [str(gpu) for gpu in free[:wanted]]
