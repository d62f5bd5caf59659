"""The machine a run trains on: device, torch threads, library versions, hardware summary."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

__all__ = ["configure_threads", "hardware_summary", "library_versions", "training_device"]

_LIBRARIES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "loralab")


def training_device() -> str:
    """``"cuda"`` when a CUDA device is visible, else ``"cpu"`` (the Trainer picks the same)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def configure_threads(cpu_threads: int | None, device: str) -> int | None:
    """Set torch's intra-op threads for this process and return the number set.

    On CPU the default is 1: on 2-core machines one thread per process measured about 2x faster
    than two (FIELD-NOTES, torch 2.13). On GPU nothing changes unless ``cpu_threads`` is given.
    """
    import torch

    if device != "cpu" and cpu_threads is None:
        return None
    threads = cpu_threads or 1
    torch.set_num_threads(threads)
    return threads


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a run depends on (``"missing"`` if one is absent)."""
    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def hardware_summary() -> dict[str, Any]:
    """CPU, memory and GPUs, for the run card."""
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        # The GPUs the server pinned this job to (None when it ran outside the server or on CPU).
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:  # psutil is a dependency, but the card must never fail for want of it
        pass
    if torch.cuda.is_available():
        info["gpus"] = [
            {
                "name": torch.cuda.get_device_name(i),
                "memory_gb": round(torch.cuda.get_device_properties(i).total_memory / 2**30, 1),
            }
            for i in range(torch.cuda.device_count())
        ]
    else:
        info["gpus"] = []
    return info
