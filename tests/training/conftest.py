"""Shared tiny training runs: trained once per session, inspected by many tests.

Each run trains the tiny Qwen2 model for a few steps on 48 FineTome conversations on the CPU.
The model loader is wrapped (not replaced) so tests can inspect the very model that trained.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loralab.config import RunConfig, parse_run_config
from loralab.training import ListReporter, RunResult, StepProgress, train

os.environ.setdefault("HF_HUB_OFFLINE", "1")

STEPS = 6
STOP_AT = 3


def tiny_config(model: Path, data: Path, out: Path, **train_overrides: Any) -> RunConfig:
    """A run config small enough for a few-second CPU run."""
    return parse_run_config(
        {
            "model": {"name_or_path": str(model)},
            "data": {"source": str(data), "max_samples": 48},
            "lora": {"r": 8, "alpha": 16},  # no dropout: the fused LoRA layers, as by default
            "train": {
                "max_steps": STEPS,
                "batch_size": 2,
                "gradient_accumulation_steps": 2,
                "learning_rate": 3e-3,
                "warmup_ratio": 0.0,
                "gradient_checkpointing": False,
                "max_seq_length": 256,
                "save_steps": 100,
                "logging_steps": 1,
                **train_overrides,
            },
            "output": {"dir": str(out)},
        }
    )


@dataclass
class TrainedRun:
    config: RunConfig
    result: RunResult
    reporter: ListReporter
    model: Any = None  # the model object that trained (LoRA injected in place)
    tokenizer: Any = None

    def losses(self) -> dict[int, float]:
        return {e.step: e.loss for e in self.reporter.of(StepProgress) if e.loss is not None}


def _train_spying(config: RunConfig, **kwargs) -> TrainedRun:
    import loralab.models as models

    real = models.load_model_and_tokenizer
    seen: dict[str, Any] = {}

    def spy(model_cfg, **kw):
        seen["model"], seen["tokenizer"] = real(model_cfg, **kw)
        return seen["model"], seen["tokenizer"]

    reporter = kwargs.pop("reporter", None)
    if reporter is None:  # not `or`: an empty ListReporter is falsy
        reporter = ListReporter()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(models, "load_model_and_tokenizer", spy)
        result = train(config, reporter, **kwargs)
    return TrainedRun(config, result, reporter, seen.get("model"), seen.get("tokenizer"))


@pytest.fixture(scope="session")
def finetome(formats_dir: Path) -> Path:
    return formats_dir / "finetome_sample.parquet"


@pytest.fixture(scope="session")
def full_run(tiny_model, finetome, tmp_path_factory) -> TrainedRun:
    """An uninterrupted run of STEPS steps."""
    out = tmp_path_factory.mktemp("full-run")
    return _train_spying(tiny_config(tiny_model, finetome, out))


class _StopAfter(ListReporter):
    """Sets ``stop`` once step ``step`` is reported; the run then stops at the next step's end."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step
        self.stop = threading.Event()

    def report(self, event) -> None:
        super().report(event)
        if isinstance(event, StepProgress) and event.step >= self.step:
            self.stop.set()


@dataclass
class StopResume:
    stopped: TrainedRun
    resumed: TrainedRun
    planted: Path  # a half-written checkpoint placed before resuming
    stopped_card: dict  # run_card.json as the stop left it (the resume rewrites it)


@pytest.fixture(scope="session")
def stop_resume_run(tiny_model, finetome, tmp_path_factory) -> StopResume:
    """The same run stopped at STOP_AT, a half-written later checkpoint planted, then resumed."""
    out = tmp_path_factory.mktemp("stop-resume")
    config = tiny_config(tiny_model, finetome, out)
    stopper = _StopAfter(STOP_AT - 1)
    stopped = _train_spying(config, reporter=stopper, stop=stopper.stop)
    card = json.loads(stopped.result.run_card.read_text())

    # A crash while writing a later checkpoint: files present, no COMPLETE marker.
    ckpt = Path(stopped.result.checkpoint_dir)
    planted = ckpt.parent / f"checkpoint-{STOP_AT + 2}"
    shutil.copytree(ckpt, planted)
    (planted / "COMPLETE").unlink()
    (planted / "optimizer.pt").write_bytes(b"")

    resumed = _train_spying(config, resume=True)
    return StopResume(stopped, resumed, planted, card)
