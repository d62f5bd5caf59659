"""Inference: the engine that loads base models, swaps adapters and generates; its worker process.

Importing this package never imports torch: ``params`` (what a request asks and what it answers)
is plain Python for the server; ``Engine`` imports the ML stack on first use
(``from loralab.inference import Engine``), inside the worker
(``python -m loralab.inference.worker``) or a job.
"""

from typing import TYPE_CHECKING, Any

from loralab.inference.params import (
    MAX_STOP_STRINGS,
    MAX_TOKENS_LIMIT,
    Generation,
    ModelTarget,
    SamplingParams,
    check_sampling,
)

if TYPE_CHECKING:
    from loralab.inference.engine import Engine

__all__ = [
    "MAX_STOP_STRINGS",
    "MAX_TOKENS_LIMIT",
    "Engine",
    "Generation",
    "ModelTarget",
    "SamplingParams",
    "check_sampling",
]


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from loralab.inference.engine import Engine

        return Engine
    raise AttributeError(f"module 'loralab.inference' has no attribute {name!r}")
