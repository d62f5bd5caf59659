"""The ``data`` workload, quick: 2,000 FineTome rows validated and tokenized by loralab and by a
pandas + ``apply_chat_template`` script, each a whole process."""

from __future__ import annotations

import json
import math

import pytest

from loralab.bench.data_workload import QUICK_ROWS, build_finetome_jsonl, run
from loralab.bench.runner import BenchOptions


def test_built_file_has_the_rows_asked_for_and_no_repeats(tmp_path, formats_dir):
    out = build_finetome_jsonl(formats_dir / "finetome_sample.jsonl", tmp_path / "f.jsonl", 900)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 900
    assert len(set(lines)) == 900  # every copy is marked, so none repeats another
    assert all("conversations" in json.loads(line) for line in lines[:5])


@pytest.mark.slow
def test_loralab_and_pandas_tokenize_every_row_and_are_compared(tmp_path):
    result = run("data", BenchOptions(work_dir=tmp_path, repeats=1, quick=True, log=print))

    body = result.table.splitlines()[2:]
    assert [row.split("|")[1].strip() for row in body] == ["loralab", "pandas"]
    for row in body:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert int(cells[2].replace(",", "")) == QUICK_ROWS  # every row tokenized, none dropped
        assert math.isfinite(float(cells[3].replace(",", ""))) and float(cells[5]) > 0
    memory, speed = result.goals
    assert memory.target.startswith("<= 1.5 GB") and memory.met is not None
    ratio = float(speed.measured.removesuffix("x"))
    assert math.isfinite(ratio) and ratio > 0
    # Both sides produce the same tokens: the same chat template and tokenizer.
    runs = [line for line in result.details.splitlines()[2:]]
    tokens = {row.split("|")[-2].strip() for row in runs}
    assert len(tokens) == 1
