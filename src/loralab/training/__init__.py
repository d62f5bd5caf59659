"""Training recipes: ``train(config, reporter)`` runs one fine-tuning job in this process.

The recipes report through a ``Reporter`` and never touch the database. Importing this package
does not import torch; ``train`` loads the ML stack when it runs.
"""

from loralab.training.checkpoints import COMPLETE_MARKER, last_complete_checkpoint
from loralab.training.layout import RunLayout
from loralab.training.reporter import (
    CheckpointSaved,
    EvalResult,
    Event,
    Failed,
    Finished,
    ListReporter,
    LogLine,
    MultiReporter,
    Phase,
    Reporter,
    RunStarted,
    StepProgress,
    Stopped,
    describe_event,
)
from loralab.training.run import RunResult, StopEvent, train

__all__ = [
    "COMPLETE_MARKER",
    "CheckpointSaved",
    "EvalResult",
    "Event",
    "Failed",
    "Finished",
    "ListReporter",
    "LogLine",
    "MultiReporter",
    "Phase",
    "Reporter",
    "RunLayout",
    "RunResult",
    "RunStarted",
    "StepProgress",
    "Stopped",
    "StopEvent",
    "describe_event",
    "last_complete_checkpoint",
    "train",
]
