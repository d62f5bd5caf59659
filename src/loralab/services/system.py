"""What the machine has and is doing: CPU, RAM, disk, GPUs, and the training verdict.

Torch-free: GPUs come from ``nvidia-smi`` through ``loralab.models.detect_hardware``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from typing import Literal

import psutil
from pydantic import BaseModel, Field

from loralab.config import Settings
from loralab.models import ACCELERATORS, accelerator_report, detect_hardware

__all__ = [
    "AcceleratorStatus",
    "CpuStatus",
    "DiskStatus",
    "GpuStatus",
    "MemoryStatus",
    "SystemInfo",
    "system_info",
]

GB = 1024**3


class CpuStatus(BaseModel):
    cores: int = Field(description="Logical CPUs this process may use.")
    percent: float = Field(description="CPU use since the previous request, 0-100.")


class MemoryStatus(BaseModel):
    total_gb: float
    available_gb: float
    percent: float


class DiskStatus(BaseModel):
    total_gb: float = Field(description="Size of the disk that holds the data dir.")
    free_gb: float


class GpuStatus(BaseModel):
    index: int
    name: str
    memory_total_gb: float
    memory_used_gb: float
    utilization: float | None = Field(description="GPU busy percent, when the driver says.")


class AcceleratorStatus(BaseModel):
    name: str
    active: bool
    reason: str


class SystemInfo(BaseModel):
    """A snapshot of the machine and whether it can train."""

    cpu: CpuStatus
    memory: MemoryStatus
    disk: DiskStatus
    gpus: list[GpuStatus]
    device: Literal["cuda", "cpu"]
    verdict: str = Field(description="One line: can train on GPU, or why only CPU.")
    accelerators: list[AcceleratorStatus]


def _disk_path(settings: Settings):
    path = settings.data_dir.expanduser().resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _accelerators(cuda: bool) -> list[AcceleratorStatus]:
    """Which accelerators training would use. With CUDA, ``accelerator_report`` imports them to
    check, and they import torch; the server only reads package metadata instead, and the
    worker that trains does the real check."""
    if not cuda:
        return [
            AcceleratorStatus(name=a.name, active=a.active, reason=a.reason)
            for a in accelerator_report(cuda=False)
        ]
    out = []
    for name, module, dist, install in ACCELERATORS:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        installed = version is not None or importlib.util.find_spec(module) is not None
        reason = (
            f"installed ({version or 'unknown version'}); the training worker loads it"
            if installed
            else f"not installed: {install}"
        )
        out.append(AcceleratorStatus(name=name, active=installed, reason=reason))
    return out


def system_info(settings: Settings) -> SystemInfo:
    """CPU, RAM and disk from psutil; GPUs from nvidia-smi; never raises for missing tools."""
    disk_path = _disk_path(settings)
    hw = detect_hardware(disk_path)
    mem = psutil.virtual_memory()
    disk = shutil.disk_usage(disk_path)
    return SystemInfo(
        cpu=CpuStatus(cores=hw.cpu_cores, percent=psutil.cpu_percent(interval=None)),
        memory=MemoryStatus(
            total_gb=round(mem.total / GB, 2),
            available_gb=round(mem.available / GB, 2),
            percent=mem.percent,
        ),
        disk=DiskStatus(total_gb=round(disk.total / GB, 2), free_gb=round(disk.free / GB, 2)),
        gpus=[
            GpuStatus(
                index=g.index,
                name=g.name,
                memory_total_gb=g.memory_total_gb,
                memory_used_gb=g.memory_used_gb,
                utilization=g.utilization_pct,
            )
            for g in hw.gpus
        ],
        device=hw.device,
        verdict=hw.verdict,
        accelerators=_accelerators(hw.device == "cuda"),
    )
