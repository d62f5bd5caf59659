"""How many jobs may run at once: one per GPU, or one on a CPU-only machine.

Counted without torch (the server never imports it): the NVIDIA driver lists its GPUs under
``/proc/driver/nvidia/gpus``, and ``CUDA_VISIBLE_DEVICES`` narrows what a process may use.
"""

from __future__ import annotations

import os
from pathlib import Path

from loralab.config import Settings

__all__ = ["max_concurrent_jobs", "visible_gpu_count"]

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


def max_concurrent_jobs(settings: Settings) -> int:
    """``settings.max_concurrent_jobs``, or one per visible GPU, or 1 on CPU."""
    if settings.max_concurrent_jobs:
        return settings.max_concurrent_jobs
    return max(1, visible_gpu_count())
