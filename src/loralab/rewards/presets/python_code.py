"""python: a reward written in Python, run in the bubblewrap sandbox.

Off unless the server sets ``LORALAB_ALLOW_CUSTOM_REWARDS=true``. The code defines
``reward(prompt, completion, **row)`` returning a number; it sees only the standard library,
no network, no files of the host, and runs under time and memory limits. One sandboxed process
scores a whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from loralab.config.strict import StrictModel
from loralab.rewards.base import Context, RewardPreset, Sample
from loralab.rewards.sandbox import SandboxLimits, run_reward_code


class PythonParams(StrictModel):
    code: str = Field(
        min_length=1,
        max_length=100_000,
        description="Defines `def reward(prompt, completion, **row): return <number>`.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Time limit per batch.")
    memory_mb: int = Field(default=512, ge=64, le=8192, description="Memory limit.")


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def score_batch(samples: Sequence[Sample], params: PythonParams, ctx: Context) -> list[float]:
    payload = [
        {
            "prompt": s.prompt,
            "completion": s.completion,
            "row": {str(k): _jsonable(v) for k, v in s.row.items()},
        }
        for s in samples
    ]
    limits = SandboxLimits(timeout_s=params.timeout_s, memory_mb=params.memory_mb)
    return run_reward_code(params.code, payload, limits)


PRESET = RewardPreset(
    name="python",
    title="Custom Python (sandboxed)",
    description="Your own `reward(prompt, completion, **row)`, run in the bubblewrap sandbox "
    "(no network, no host files, time and memory limits). Needs "
    "LORALAB_ALLOW_CUSTOM_REWARDS=true on the server. Its range is what your code returns.",
    score_range=None,
    params=PythonParams,
    score_batch=score_batch,
    runs_code=lambda params: True,
    sandboxed=True,
    label=lambda params: "python",
    example={
        "name": "python",
        "params": {
            "code": "def reward(prompt, completion, **row):\n    return len(completion) / 100"
        },
    },
)
