"""``/api/system``: CPU, RAM, disk, GPUs and whether this machine can train."""

from __future__ import annotations

from fastapi import APIRouter

from loralab.api.deps import SettingsDep
from loralab.services import system as service
from loralab.services.system import SystemInfo

router = APIRouter(prefix="/api", tags=["system"])


@router.get("/system", response_model=SystemInfo)
def get_system(settings: SettingsDep) -> SystemInfo:
    """CPU, memory, disk and GPU use, the device training would use, and the accelerators."""
    return service.system_info(settings)
