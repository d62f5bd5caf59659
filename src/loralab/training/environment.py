"""The machine a run trains on: device, torch threads, library versions, hardware summary."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CPU_JOBS_ENV",
    "ThreadChoice",
    "apply_threads",
    "choose_threads",
    "configure_threads",
    "hardware_summary",
    "library_versions",
    "training_device",
    "usable_physical_cores",
]

# How many training jobs share this machine's CPU (for the server's launcher to set).
CPU_JOBS_ENV = "LORALAB_CPU_JOBS"

_LIBRARIES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "loralab")


def training_device() -> str:
    """``"cuda"`` when a CUDA device is visible, else ``"cpu"`` (the Trainer picks the same)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass(frozen=True)
class ThreadChoice:
    """How many torch threads a run uses, and why (for the run card)."""

    threads: int | None  # None: torch's own default, left alone
    reason: str

    def facts(self) -> dict[str, Any]:
        """For the run card."""
        return {"value": self.threads, "reason": self.reason}


def choose_threads(cpu_threads: int | None, device: str) -> ThreadChoice:
    """The torch intra-op thread count for this process, decided from the machine at run time.

    ``cpu_threads`` wins when set. Otherwise, on CPU: the physical cores this process may use
    (its CPU affinity, counted by core, and the cgroup CPU quota), divided among the CPU jobs
    that share them: ``$LORALAB_CPU_JOBS`` (training jobs the server runs at once on this CPU)
    and the processes of a ``torchrun`` group on this node (``$LOCAL_WORLD_SIZE``). On GPU
    nothing is chosen (torch's default stays).

    Measured (FIELD-NOTES, torch 2.13): machines differ, so this is never a constant; on a
    2-core EPYC two threads trained in 12.9 s where one took 17.6 s.
    """
    if cpu_threads is not None:
        return ThreadChoice(cpu_threads, "train.cpu_threads")
    if device != "cpu":
        return ThreadChoice(None, f"torch's default on {device}")
    cores, why = usable_physical_cores()
    sharers = [(n, what) for n, what in _cpu_sharers() if n > 1]
    jobs = 1
    for n, _ in sharers:
        jobs *= n
    threads = max(1, cores // jobs)
    if sharers:
        why += ", shared by " + " x ".join(what for _, what in sharers)
    return ThreadChoice(threads, why)


def configure_threads(cpu_threads: int | None, device: str) -> int | None:
    """Set torch's intra-op threads as ``choose_threads`` decides; returns the number set
    (None when torch's default is left alone, on GPU without ``cpu_threads``)."""
    return apply_threads(choose_threads(cpu_threads, device))


def apply_threads(choice: ThreadChoice) -> int | None:
    """Set torch's intra-op threads to ``choice.threads`` (unless None); returns it."""
    import torch

    if choice.threads is not None:
        torch.set_num_threads(choice.threads)
    return choice.threads


def usable_physical_cores() -> tuple[int, str]:
    """Physical cores this process may run on, and how they were counted ("2 physical cores").

    The CPUs in the process's affinity are counted by core (Linux topology files; SMT
    siblings are one core), then capped by a cgroup CPU quota (v2 ``cpu.max``, v1
    ``cpu.cfs_quota_us``) when one is set.
    """
    import psutil

    allowed = _affinity()
    logical = len(allowed) if allowed else (os.cpu_count() or 1)
    cores = _cores_of(allowed) if allowed else None
    if cores is None:  # no topology files: scale by the machine's SMT ratio
        physical = psutil.cpu_count(logical=False) or logical
        per_core = max(1, (psutil.cpu_count(logical=True) or logical) // physical)
        cores = max(1, logical // per_core)
    why = f"{cores} physical core{'s' if cores != 1 else ''}"
    quota = _cgroup_cpu_quota()
    if quota is not None and int(quota) < cores:
        cores = max(1, int(quota))
        why += f", cgroup CPU quota {quota:g}"
    return cores, why


def _affinity() -> set[int] | None:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return None


def _cores_of(cpus: set[int]) -> int | None:
    """Distinct (package, core) pairs among ``cpus``; None without Linux topology files."""
    seen = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            return None
        seen.add((package, core))
    return len(seen) or None


def _cgroup_cpu_quota() -> float | None:
    """CPUs the cgroup quota allows (e.g. 1.5), or None when unlimited or unreadable."""
    root = Path("/sys/fs/cgroup")
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]  # cgroup v2: "max 100000"
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    for folder in (root / "cpu", root / "cpu,cpuacct"):  # cgroup v1
        try:
            quota_us = int((folder / "cpu.cfs_quota_us").read_text())
            period_us = int((folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None


def _cpu_sharers() -> list[tuple[int, str]]:
    """Processes sharing these cores that each train with their own threads."""
    out = []
    for var, what in (
        (CPU_JOBS_ENV, "CPU jobs at once"),
        ("LOCAL_WORLD_SIZE", "torchrun processes"),
    ):
        try:
            n = int(os.environ.get(var, ""))
        except ValueError:
            continue
        out.append((n, f"{n} {what}"))
    return out


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
