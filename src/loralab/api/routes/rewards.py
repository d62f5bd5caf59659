"""``/api/rewards``: the reward presets, and testing rewards before a GRPO run."""

from __future__ import annotations

from fastapi import APIRouter

from loralab.api.deps import DbDep, SettingsDep
from loralab.services import rewards as service
from loralab.services.rewards import RewardInfo, RewardTestRequest, RewardTestResult

router = APIRouter(prefix="/api/rewards", tags=["rewards"])


@router.get("", response_model=list[RewardInfo])
def list_rewards(settings: SettingsDep) -> list[RewardInfo]:
    """The reward presets: name, title, description, score range, params schema, example."""
    return service.list_rewards(settings)


@router.post("/test", response_model=RewardTestResult)
def test_rewards(body: RewardTestRequest, db: DbDep, settings: SettingsDep) -> RewardTestResult:
    """Score a typed completion or a dataset's first rows (at most 20) with the rewards."""
    return service.test_rewards(db, settings, body)
