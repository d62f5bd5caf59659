"""Reporter events serialise to JSON-ready dicts; List and Multi reporters fan them out."""

from __future__ import annotations

import json

from loralab.training import (
    Failed,
    ListReporter,
    MultiReporter,
    Phase,
    Reporter,
    RunStarted,
    StepProgress,
)


def test_events_to_dict_have_type_and_time_and_are_json():
    events = [
        Phase(name="tokenizing", message="Tokenizing", current=3, total=10),
        StepProgress(step=2, total_steps=5, epoch=0.4, loss=1.5, eta_seconds=3.0),
        Failed(reason="boom", code="invalid_data"),
    ]
    dicts = [e.to_dict() for e in events]

    assert [d["type"] for d in dicts] == ["phase", "step", "failed"]
    assert all(isinstance(d["time"], float) for d in dicts)
    assert dicts[1]["loss"] == 1.5 and dicts[0]["current"] == 3
    json.dumps(dicts)


def test_multi_reporter_sends_every_event_to_each_in_order():
    a, b = ListReporter(), ListReporter()
    multi = MultiReporter(a, b)
    started = RunStarted(
        method="sft",
        total_steps=3,
        num_epochs=1.0,
        train_examples=10,
        eval_examples=0,
        effective_batch_size=4,
        trainable_params=10,
        total_params=100,
        output_dir="/tmp/x",
    )
    multi.report(started)
    multi.report(StepProgress(step=1, total_steps=3, epoch=0.3))

    assert isinstance(multi, Reporter) and isinstance(a, Reporter)
    assert a.events == b.events and len(a.events) == 2 and list(a) == a.events
    assert a.of(RunStarted) == [started]
    assert [e.step for e in a.of(StepProgress)] == [1]
