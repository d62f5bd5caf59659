"""The ``estimator`` workload, quick: a real SFT run of the tiny model in its own process,
measured against ``estimate_memory`` for the same config."""

from __future__ import annotations

import json
import math

import pytest

from loralab.bench.estimator_workload import MAX_LENGTH, build_long_conversations, run
from loralab.bench.runner import BenchOptions


def test_long_conversations_are_over_the_length_limit(tmp_path, formats_dir, tiny_model):
    from transformers import AutoTokenizer

    out = build_long_conversations(formats_dir / "finetome_sample.jsonl", tmp_path / "l.jsonl", 8)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    for line in out.read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        assert len(ids) > MAX_LENGTH


@pytest.mark.slow
def test_estimate_is_compared_with_the_measured_peak_of_a_real_run(tmp_path):
    result = run("estimator", BenchOptions(work_dir=tmp_path, repeats=1, quick=True, log=print))

    (row,) = result.table.splitlines()[2:]
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[0] == "tiny Qwen2"
    assert cells[1] == cells[2] == "2048"  # the worst case is what the run really trained on
    assert cells[3] == "on"  # chunked loss, auto on the CPU
    estimate, measured = float(cells[5].replace(",", "")), float(cells[6].replace(",", ""))
    assert math.isfinite(estimate) and estimate > 0 and measured > 0
    (goal,) = result.goals
    assert goal.target == "within 20%" and goal.met is not None
    assert "activations" in goal.note
