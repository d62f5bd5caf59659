"""Import a training recipe's ML stack with Python's cyclic garbage collector paused.

Importing torch, transformers, PEFT and TRL creates about 700,000 objects that live as long as
the process (modules, classes, functions). With the collector on, each of its passes over that
growing heap costs time and frees almost nothing: on 2 CPU cores a ``loralab train`` process on
the tiny Llama took about 1.6 s longer with it than without (4 alternated pairs;
docs/benchmarks.md has the figures). So the recipe module is imported with the
collector off, and what the import left alive is then frozen (``gc.freeze``): later passes, the
full one accelerate runs before training included, skip it.

Freezing without collecting first keeps the import's few cycles of garbage (about 12,000
objects, under 2 MB, measured after the stack's imports) for the life of the process; a
collection over the whole heap would cost a third of a second every run. Only a first import
with the collector on pauses and freezes: once the process holds the module (a second run in
one process, later runs of a test session) nothing changes, and a caller that turned the
collector off itself keeps it off.
"""

from __future__ import annotations

import gc
import importlib
import sys
from types import ModuleType

__all__ = ["import_paused"]


def import_paused(name: str) -> ModuleType:
    """``importlib.import_module(name)``, with the collector paused when it is a first import."""
    if name in sys.modules or not gc.isenabled():
        return importlib.import_module(name)
    gc.disable()
    try:
        module = importlib.import_module(name)
    finally:
        gc.freeze()
        gc.enable()
    return module
