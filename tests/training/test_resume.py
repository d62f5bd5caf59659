"""Stop and resume: a stop saves a complete checkpoint; resuming continues from the last complete
one (never a half-written one) with the same losses as an uninterrupted run."""

from __future__ import annotations

import pytest

from loralab.errors import Conflict
from loralab.training import (
    CheckpointSaved,
    ListReporter,
    LogLine,
    RunStarted,
    StepProgress,
    Stopped,
    train,
)
from loralab.training.checkpoints import list_checkpoints

from .conftest import STEPS, STOP_AT, tiny_config


def test_stop_saves_a_complete_checkpoint_and_reports_stopped(stop_resume_run):
    stopped = stop_resume_run.stopped

    assert stopped.result.status == "stopped"
    assert stopped.result.step == STOP_AT and stopped.result.adapter_dir is None
    assert stopped.result.checkpoint_dir.name == f"checkpoint-{STOP_AT}"
    event = stopped.reporter.of(Stopped)[0]
    assert event.step == STOP_AT and event.checkpoint_path == str(stopped.result.checkpoint_dir)
    assert [c.step for c in stopped.reporter.of(CheckpointSaved)] == [STOP_AT]
    card = stop_resume_run.stopped_card
    assert card["status"] == "stopped" and card["adapter_path"] is None


def test_resume_reaches_the_same_final_step_with_the_same_losses(stop_resume_run, full_run):
    resumed = stop_resume_run.resumed
    reference = full_run.losses()

    assert resumed.result.status == "completed" and resumed.result.step == STEPS
    after = resumed.losses()
    assert sorted(after) == list(range(STOP_AT + 1, STEPS + 1))
    for step, loss in after.items():
        assert loss == pytest.approx(reference[step], rel=1e-5, abs=1e-6), step
    before = stop_resume_run.stopped.losses()
    for step, loss in before.items():
        assert loss == pytest.approx(reference[step], rel=1e-5, abs=1e-6), step


def test_half_written_checkpoint_is_not_resumed_from(stop_resume_run):
    resumed = stop_resume_run.resumed

    started = resumed.reporter.of(RunStarted)[0]
    assert started.resumed_from == STOP_AT
    assert resumed.result.resumed_from == STOP_AT
    removed = [e.message for e in resumed.reporter.of(LogLine) if "incomplete" in e.message]
    assert removed and stop_resume_run.planted.name in removed[0]
    ckpts = list_checkpoints(resumed.result.output_dir / "checkpoints")
    assert all(c.complete for c in ckpts)
    assert STEPS in [c.step for c in ckpts]


def test_elapsed_continues_across_the_resume(stop_resume_run):
    stopped_steps = stop_resume_run.stopped.reporter.of(StepProgress)
    resumed_steps = stop_resume_run.resumed.reporter.of(StepProgress)

    # Elapsed starts from the checkpoint's, not zero; the ETA uses this session's steps only
    # (its maths is in test_progress.py).
    assert resumed_steps[0].elapsed_seconds >= stopped_steps[-1].elapsed_seconds
    assert resumed_steps[0].eta_basis and "last 1 step" in resumed_steps[0].eta_basis
    assert resumed_steps[-1].eta_seconds == 0


def test_existing_run_without_resume_is_a_conflict(full_run, tiny_model, finetome):
    reporter = ListReporter()
    config = tiny_config(tiny_model, finetome, full_run.result.output_dir)

    with pytest.raises(Conflict):
        train(config, reporter)
    assert reporter.events[-1].type == "failed" and reporter.events[-1].code == "conflict"
