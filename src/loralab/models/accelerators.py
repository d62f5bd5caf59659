"""Which optional GPU accelerators are active, and why the others are not.

bitsandbytes, unsloth, liger-kernel and flash-attn are imported only when a CUDA device is
present (importing some of them without one prints warnings or fails). Without CUDA this module
only looks at installed package metadata, so it is torch-free and safe in the server.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util

from pydantic import BaseModel

from loralab.models.hardware import HardwareInfo, detect_hardware

__all__ = ["ACCELERATORS", "AcceleratorStatus", "accelerator_report"]

# name shown, import name, distribution name, how to install
ACCELERATORS: tuple[tuple[str, str, str, str], ...] = (
    ("bitsandbytes", "bitsandbytes", "bitsandbytes", "pip install loralab[gpu]"),
    ("liger-kernel", "liger_kernel", "liger-kernel", "pip install loralab[gpu]"),
    ("unsloth", "unsloth", "unsloth", "pip install loralab[unsloth]"),
    ("flash-attn", "flash_attn", "flash-attn", "pip install flash-attn --no-build-isolation"),
)


class AcceleratorStatus(BaseModel):
    """One accelerator: installed version, whether it is in use, and why (not)."""

    name: str
    installed: bool
    version: str | None = None
    active: bool
    reason: str


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def accelerator_report(
    hardware: HardwareInfo | None = None, *, cuda: bool | None = None
) -> list[AcceleratorStatus]:
    """The state of each optional GPU accelerator.

    Args:
        hardware: an earlier ``detect_hardware()`` result, to skip detecting again.
        cuda: whether a CUDA device is present, overriding ``hardware``; when both are None
            it is found with ``nvidia-smi``.

    Returns:
        One ``AcceleratorStatus`` per entry of ``ACCELERATORS``: active when installed, CUDA is
        present and it imports; otherwise the first reason that applies: "no CUDA device",
        "not installed: <how to install>", "import failed: <error>".
    """
    if cuda is None:
        cuda = (hardware or detect_hardware()).device == "cuda"
    report = []
    for name, module, dist, install in ACCELERATORS:
        version = _version(dist)
        installed = version is not None or importlib.util.find_spec(module) is not None
        active = False
        if not cuda:
            reason = "no CUDA device"
        elif not installed:
            reason = f"not installed: {install}"
        else:
            try:
                importlib.import_module(module)
            except Exception as exc:  # broken builds raise anything from ImportError to OSError
                reason = f"import failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            else:
                reason, active = "active", True
        report.append(
            AcceleratorStatus(
                name=name, installed=installed, version=version, active=active, reason=reason
            )
        )
    return report
