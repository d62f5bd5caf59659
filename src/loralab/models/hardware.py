"""What this machine has for training: CPU, RAM, disk, NVIDIA GPUs. Torch-free.

The server calls this, so it must not import torch: GPUs are found with ``nvidia-smi``, memory
and CPUs with ``psutil``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Literal

import psutil
from pydantic import BaseModel, Field

__all__ = ["GpuInfo", "HardwareInfo", "detect_hardware", "parse_nvidia_smi"]

GB = 1024**3
_NVIDIA_SMI_QUERY = "index,name,memory.total,memory.used,utilization.gpu,compute_cap"
# A GPU below this much memory cannot hold even a 0.5B model with LoRA comfortably.
_MIN_GPU_GB = 4.0


class GpuInfo(BaseModel):
    """One NVIDIA GPU as ``nvidia-smi`` reports it."""

    index: int
    name: str
    memory_total_gb: float
    memory_used_gb: float
    utilization_pct: float | None = None
    compute_capability: str | None = Field(
        default=None, description="e.g. 8.0; bfloat16 needs 8.0 or newer."
    )

    @property
    def memory_free_gb(self) -> float:
        return max(self.memory_total_gb - self.memory_used_gb, 0.0)

    @property
    def supports_bf16(self) -> bool:
        try:
            return float(self.compute_capability or 0) >= 8.0
        except ValueError:
            return False


class HardwareInfo(BaseModel):
    """A snapshot of the machine, with the device training would use and why."""

    cpu_cores: int = Field(description="Logical CPUs usable by this process.")
    cpu_physical_cores: int | None = None
    ram_total_gb: float
    ram_available_gb: float
    disk_path: str
    disk_free_gb: float
    gpus: list[GpuInfo] = Field(default_factory=list)
    device: Literal["cuda", "cpu"]
    verdict: str = Field(description="One line: can train on GPU, or why only CPU.")

    @property
    def device_memory_gb(self) -> float:
        """Memory a run can use: the first GPU's free memory, or available RAM on CPU."""
        if self.device == "cuda" and self.gpus:
            return self.gpus[0].memory_free_gb
        return self.ram_available_gb


def _number(text: str) -> float | None:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return None  # "[N/A]", "[Not Supported]"


def parse_nvidia_smi(csv_text: str) -> list[GpuInfo]:
    """Parse ``nvidia-smi --query-gpu=<_NVIDIA_SMI_QUERY> --format=csv,noheader,nounits``."""
    gpus = []
    for line in csv_text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            continue
        total, used = _number(parts[2]), _number(parts[3])
        if total is None:
            continue
        gpus.append(
            GpuInfo(
                index=int(_number(parts[0]) or 0),
                name=parts[1],
                memory_total_gb=round(total / 1024, 2),  # nvidia-smi reports MiB
                memory_used_gb=round((used or 0.0) / 1024, 2),
                utilization_pct=_number(parts[4]) if len(parts) > 4 else None,
                compute_capability=parts[5] if len(parts) > 5 and _number(parts[5]) else None,
            )
        )
    return gpus


def _query_gpus() -> tuple[list[GpuInfo], str | None]:
    """GPUs and, when there are none, the reason."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return [], "no NVIDIA GPU found (nvidia-smi is not on PATH)"
    cmd = [exe, f"--query-gpu={_NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"nvidia-smi failed to run ({exc})"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        return [], f"nvidia-smi failed: {detail[0] if detail else f'exit {proc.returncode}'}"
    gpus = parse_nvidia_smi(proc.stdout)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        # Training sees only these; nvidia-smi lists every GPU regardless.
        wanted = {v.strip() for v in visible.split(",") if v.strip()}
        gpus = [g for g in gpus if str(g.index) in wanted]
        if not gpus:
            return [], f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    if not gpus:
        return [], "nvidia-smi lists no GPUs"
    return gpus, None


def detect_hardware(path: str | Path | None = None) -> HardwareInfo:
    """Look at this machine: CPUs, RAM, free disk at ``path``, and NVIDIA GPUs.

    Args:
        path: where runs will be written (free disk is measured there); defaults to the
            current directory. The nearest existing parent is used if it does not exist yet.

    Returns:
        ``HardwareInfo`` with ``device`` "cuda" when a usable GPU is present, else "cpu", and a
        one-line ``verdict``. Never raises for missing GPUs or tools.
    """
    disk = Path(path or ".").expanduser().resolve()
    while not disk.exists() and disk != disk.parent:
        disk = disk.parent
    mem = psutil.virtual_memory()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1

    gpus, reason = _query_gpus()
    device: Literal["cuda", "cpu"] = "cpu"
    if gpus:
        best = gpus[0]
        if best.memory_total_gb < _MIN_GPU_GB:
            verdict = (
                f"only CPU: {best.name} has {best.memory_total_gb:.1f} GB, "
                f"under the {_MIN_GPU_GB:.0f} GB needed to train"
            )
        else:
            device = "cuda"
            verdict = (
                f"can train on GPU: {best.name}, {best.memory_free_gb:.1f} of "
                f"{best.memory_total_gb:.1f} GB free"
            )
    else:
        verdict = f"only CPU: {reason}; fine for tiny models, slow from about 0.5B parameters"

    return HardwareInfo(
        cpu_cores=cores,
        cpu_physical_cores=psutil.cpu_count(logical=False),
        ram_total_gb=round(mem.total / GB, 2),
        ram_available_gb=round(mem.available / GB, 2),
        disk_path=str(disk),
        disk_free_gb=round(shutil.disk_usage(disk).free / GB, 2),
        gpus=gpus,
        device=device,
        verdict=verdict,
    )
