"""The validation report: counts, problems by line, duplicates, lengths, bounded memory."""

from __future__ import annotations

import json
import random
import time
import tracemalloc

import pytest

from loralab.config import DataConfig
from loralab.data import (
    ValidationReport,
    load_chat_template,
    load_light_tokenizer,
    validate_dataset,
)
from loralab.data.stats import LengthCounter


def _chat(*turns: str) -> dict:
    return {
        "conversations": [
            {"from": "human" if i % 2 == 0 else "gpt", "value": t} for i, t in enumerate(turns)
        ]
    }


def _lines(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


@pytest.fixture
def hand_made(tmp_path):
    long_question = "word " * 300
    path = tmp_path / "chats.jsonl"
    path.write_text(
        _lines(
            _chat("hi", "hello"),  # 1
            _chat("hi", "hello"),  # 2: repeats line 1
            {
                "conversations": [  # 3: two user turns in a row
                    {"from": "human", "value": "a"},
                    {"from": "human", "value": "b"},
                    {"from": "gpt", "value": "c"},
                ]
            },
            _chat("q", "r", "trailing"),  # 4: ends with a user turn
            _chat("only a question"),  # 5: no assistant turn -> invalid
            _chat("", "x"),  # 6: empty message -> invalid
            '{"conversations": [',  # 7: broken JSON -> invalid
            _chat(long_question, "ok"),  # 8: longer than the token limit
        ),
        encoding="utf-8",
    )
    return path, long_question


def test_report_counts_problems_by_line(hand_made):
    path, long_question = hand_made
    report = validate_dataset(DataConfig(source=str(path)))
    assert report.format == "conversations"
    assert report.kind == "jsonl"
    assert report.columns == ["conversations"]
    assert (report.total_rows, report.valid_rows, report.invalid_rows) == (8, 5, 3)
    assert [(i.line, i.code, i.loc) for i in report.errors] == [
        (5, "no_assistant_turn", "conversations"),
        (6, "empty_value", "conversations[0].value"),
        (7, "bad_json", None),
    ]
    assert report.errors_by_code == {"no_assistant_turn": 1, "empty_value": 1, "bad_json": 1}
    assert report.duplicate_rows == 1
    assert [(d.line, d.message) for d in report.duplicates] == [(2, "same content as line 1")]
    assert report.role_order == {"consecutive_roles": 1, "not_ending_with_assistant": 1}
    assert [(e.line, e.code) for e in report.role_order_examples] == [
        (3, "consecutive_roles"),
        (4, "not_ending_with_assistant"),
    ]
    lengths = sorted([7, 7, 3, len("qrtrailing"), len(long_question) + 2])
    assert report.chars.count == 5
    assert (report.chars.min, report.chars.max) == (lengths[0], lengths[-1])
    assert report.chars.p50 == lengths[2]
    assert sum(b.count for b in report.chars.histogram) == 5
    assert report.tokens is None and report.truncated_share is None
    assert report.fingerprint.startswith("sha256:")
    assert ValidationReport.model_validate_json(report.model_dump_json()) == report


def test_report_with_tokenizer_gives_token_lengths_and_truncation(hand_made, tiny_model):
    path, _ = hand_made
    tokenizer = load_light_tokenizer(tiny_model)
    template = load_chat_template(tiny_model)
    report = validate_dataset(
        DataConfig(source=str(path)), tokenizer=tokenizer, chat_template=template, max_seq_length=64
    )
    assert report.tokens is not None and report.tokens.count == 5
    assert report.tokens.max > 64 > report.tokens.p50
    assert report.truncated_rows == 1
    assert report.truncated_share == pytest.approx(0.2)
    assert report.tokens.histogram[-1].end > 64  # the histogram reaches the limit
    assert sum(b.count for b in report.tokens.histogram) == 5
    assert report.chat_template and report.chat_template.endswith("chat_template.jinja")
    assert any("truncated" in w for w in report.warnings)


def test_rows_the_template_rejects_are_invalid(tmp_path):
    strict = (
        "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('roles must alternate') }}{% endif %}{{ m['content'] }}{% endfor %}"
    )
    path = tmp_path / "c.jsonl"
    path.write_text(
        _lines(
            _chat("a", "b"),
            {
                "conversations": [
                    {"from": "human", "value": "a"},
                    {"from": "human", "value": "b"},
                    {"from": "gpt", "value": "c"},
                ]
            },
        )
    )
    report = validate_dataset(DataConfig(source=str(path)), chat_template=strict)
    assert report.valid_rows == 1
    assert [(i.line, i.code) for i in report.errors] == [(2, "template_error")]


def test_empty_optional_and_required_fields_are_counted(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(
        json.dumps(
            [
                {"instruction": "a", "input": "", "output": "x"},
                {"instruction": "b", "input": "ctx", "output": "y"},
                {"instruction": "c", "input": None, "output": ""},
            ]
        )
    )
    report = validate_dataset(DataConfig(source=str(path)))
    assert report.format == "alpaca"
    assert report.empty_fields == {"instruction": 0, "input": 2, "output": 1}
    assert [(i.line, i.code, i.loc) for i in report.errors] == [(3, "empty_value", "output")]


def test_system_prompt_and_mapping_from_the_config_apply(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("q,a\nwhat,that\n")
    report = validate_dataset(
        DataConfig(
            source=str(path),
            format="question_answer",
            field_mapping={"question": "q", "answer": "a"},
            system_prompt="Be brief.",
        )
    )
    assert report.valid_rows == 1
    assert report.chars.max == len("Be brief.whatthat")
    assert not report.detection.detected


def test_length_counter_quantiles_are_exact_below_4096_and_close_above():
    rng = random.Random(1)
    values = [rng.randrange(1, 4000) for _ in range(5000)]
    counter = LengthCounter()
    for v in values:
        counter.add(v)
    ordered = sorted(values)
    assert counter.quantile(0.5) == ordered[2499]
    assert counter.quantile(0.95) == ordered[4749]
    big = LengthCounter()
    large = [rng.randrange(10_000, 200_000) for _ in range(2000)]
    for v in large:
        big.add(v)
    exact = sorted(large)[1899]
    assert abs(big.quantile(0.95) - exact) / exact < 0.004
    assert big.max == max(large)
    stats = big.stats()
    assert sum(b.count for b in stats.histogram) == 2000
    assert len(stats.histogram) <= 21


@pytest.mark.slow
def test_100k_rows_validate_in_bounded_memory(tmp_path, formats_dir):
    """100k rows (about 57 MB) are streamed: the traced peak stays under 48 MB, far below
    what holding the rows would take (several times the file size)."""
    rows = [json.loads(line) for line in (formats_dir / "finetome_sample.jsonl").open()]
    rng = random.Random(0)
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(100_000):
            row = json.loads(json.dumps(rng.choice(rows)))
            row["conversations"][-1]["value"] += f" (#{i})"  # every row unique: worst case
            f.write(json.dumps(row) + "\n")
    size_mb = path.stat().st_size / 2**20

    started = time.monotonic()
    report = validate_dataset(DataConfig(source=str(path)))
    elapsed = time.monotonic() - started
    assert (report.total_rows, report.valid_rows, report.duplicate_rows) == (100_000, 100_000, 0)
    assert report.chars.count == 100_000
    # About 5 s on an idle 2-core machine; the bound leaves room for a busy one.
    assert elapsed < 60, f"{elapsed:.0f} s"

    tracemalloc.start()
    try:
        validate_dataset(DataConfig(source=str(path)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    peak_mb = peak / 2**20
    assert peak_mb < 48, f"peak {peak_mb:.1f} MB for a {size_mb:.0f} MB file"


def _unpaired(tmp_path, labels) -> str:
    path = tmp_path / "kto.jsonl"
    rows = [
        {"prompt": f"question {i}", "completion": f"reply {i}", "label": label}
        for i, label in enumerate(labels)
    ]
    path.write_text(_lines(*rows), encoding="utf-8")
    return str(path)


def test_unpaired_rows_are_counted_by_label(tmp_path):
    # Two good, three bad, one with a label that is neither: it is invalid and not counted.
    source = _unpaired(tmp_path, [True, "bad", 0, "good", "maybe", "no"])
    report = validate_dataset(DataConfig(source=source, format="unpaired_preference"))
    assert (report.valid_rows, report.invalid_rows) == (5, 1)
    assert report.labels == {"good": 2, "bad": 3}
    assert not any("labelled" in w for w in report.warnings)
    assert ValidationReport.model_validate(report.model_dump(mode="json")).labels == report.labels


@pytest.mark.parametrize(("labels", "missing"), [([True, 1, "yes"], "bad"), ([0, "bad"], "good")])
def test_one_sided_labels_are_warned_about(tmp_path, labels, missing):
    report = validate_dataset(DataConfig(source=_unpaired(tmp_path, labels)))
    assert report.format == "unpaired_preference"
    assert report.labels[missing] == 0 and sum(report.labels.values()) == len(labels)
    assert [w for w in report.warnings if f"labelled {missing}" in w]


def test_formats_without_labels_report_none(hand_made):
    report = validate_dataset(DataConfig(source=str(hand_made[0])))
    assert report.labels is None
