"""Format detection, field mapping, overrides and conversion to canonical rows."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from loralab.config import DataConfig
from loralab.data import (
    SQUAD_NO_ANSWER,
    check_role_order,
    convert_row,
    detect_format,
    iter_records,
    open_dataset,
    resolve_format,
)
from loralab.data.fields import FORMAT_FIELDS
from loralab.errors import DataError

FORMATS_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "formats"

# What each sample imitates (../shared/data/README.md). A file added later without an entry
# here is still checked: it must be detected as some format and convert cleanly.
EXPECTED = {
    "alpaca_sample.json": "alpaca",
    "code_alpaca_sample.jsonl": "alpaca",
    "dolly_sample.csv": "dolly",
    "finetome_sample.jsonl": "conversations",
    "finetome_sample.parquet": "conversations",
    "gsm8k_test.jsonl": "question_answer",
    "gsm8k_test.parquet": "question_answer",
    "gsm8k_train.jsonl": "question_answer",
    "gsm8k_train.parquet": "question_answer",
    "openai_messages_sample.jsonl": "messages",
    "openmath_sample.parquet": "problem_solution",
    "orca_math_sample.jsonl": "question_answer",
    "preference_sample.jsonl": "preference",
    "prompt_completion_sample.jsonl": "prompt_completion",
    "squad_v2_sample.parquet": "squad",
    "ultrafeedback_sample.parquet": "preference",
}


def _sample_files() -> list[str]:
    return sorted(p.name for p in FORMATS_DIR.iterdir() if p.is_file())


def _texts(value) -> list[str]:
    """Every string inside a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return []


def _check_messages(messages):
    assert messages, "no messages"
    for message in messages:
        assert set(message) == {"role", "content"}
        assert message["role"] in ("system", "user", "assistant")
        assert isinstance(message["content"], str) and message["content"].strip()


@pytest.mark.parametrize("name", _sample_files())
def test_every_sample_file_is_detected_and_converts(name, formats_dir):
    path = formats_dir / name
    opened = open_dataset(DataConfig(source=str(path)))
    detection = opened.detection
    if name in EXPECTED:
        assert detection.format == EXPECTED[name]
    assert detection.format is not None
    assert detection.confidence >= 0.8
    assert detection.detected

    first = next(opened.records)
    row = convert_row(first.data, detection.format, detection.field_mapping)
    if detection.format == "unpaired_preference":
        assert set(row) == {"messages", "label"} and isinstance(row["label"], bool)
        _check_messages(row["messages"])
        assert row["messages"][-1]["role"] == "assistant"
    elif detection.task == "preference":
        assert set(row) == {"prompt", "chosen", "rejected"}
        _check_messages(row["prompt"])
        assert row["prompt"][-1]["role"] == "user"
        for side in ("chosen", "rejected"):
            _check_messages(row[side])
            assert all(m["role"] == "assistant" for m in row[side])
        assert row["chosen"] != row["rejected"]
    else:
        assert set(row) == {"messages"}
        _check_messages(row["messages"])
        assert row["messages"][-1]["role"] == "assistant"
        assert row["messages"][0]["role"] in ("system", "user")
    # Every mapped field's text (its longest string: a content, not a role) reaches the row.
    canonical = "\n".join(_texts(row))
    for field, column in detection.field_mapping.items():
        texts = _texts(first.data[column])
        if texts and field != "answers":
            assert max(texts, key=len) in canonical, (field, column)


def test_detection_and_conversion_of_first_rows_by_format(formats_dir):
    def first_row(name):
        opened = open_dataset(DataConfig(source=str(formats_dir / name)))
        record = next(opened.records)
        return record.data, convert_row(
            record.data, opened.detection.format, opened.detection.field_mapping
        )

    raw, row = first_row("alpaca_sample.json")
    assert row["messages"] == [
        {"role": "user", "content": f"{raw['instruction']}\n\n{raw['input']}"},
        {"role": "assistant", "content": raw["output"]},
    ]
    raw, row = first_row("finetome_sample.jsonl")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][1]["content"] == raw["conversations"][1]["value"]
    raw, row = first_row("openmath_sample.parquet")
    assert row["messages"][1]["content"] == raw["generated_solution"]
    raw, row = first_row("squad_v2_sample.parquet")
    assert raw["context"] in row["messages"][0]["content"]
    assert raw["question"] in row["messages"][0]["content"]
    assert row["messages"][1]["content"] == raw["answers"]["text"][0]
    raw, row = first_row("ultrafeedback_sample.parquet")
    assert row["prompt"] == [{"role": "user", "content": raw["prompt"]}]
    assert row["chosen"] == [raw["chosen"][-1]]
    raw, row = first_row("preference_sample.jsonl")
    assert row == {
        "prompt": [{"role": "user", "content": raw["prompt"]}],
        "chosen": [{"role": "assistant", "content": raw["chosen"]}],
        "rejected": [{"role": "assistant", "content": raw["rejected"]}],
    }


def test_unanswerable_squad_rows_get_the_abstain_reply(formats_dir):
    path = formats_dir / "squad_v2_sample.parquet"
    mapping = {"context": "context", "question": "question", "answers": "answers"}
    unanswerable = next(r for r in iter_records(str(path)) if not r.data["answers"]["text"])
    row = convert_row(unanswerable.data, "squad", mapping)
    assert row["messages"][-1]["content"] == SQUAD_NO_ANSWER


def test_column_names_match_by_normalised_name_never_substring():
    # "text" must not match inside "context" (Unsloth PR #11292); case and dashes don't matter.
    detection = detect_format(
        ["Instruction", "context-text", "RESPONSE"],
        [{"Instruction": "Say hi", "context-text": "", "RESPONSE": "hi"}],
    )
    assert detection.format == "dolly"
    assert detection.field_mapping == {"instruction": "Instruction", "response": "RESPONSE"}
    assert detect_format(["text", "contexts"], [{"text": "a", "contexts": "b"}]).format is None


def test_sharegpt_and_openai_lists_are_told_apart_by_their_keys():
    sharegpt = {"messages": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}
    openai = {
        "conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    }
    assert detect_format(["messages"], [sharegpt]).format == "conversations"
    assert detect_format(["conversations"], [openai]).format == "messages"


def test_unknown_columns_detect_nothing_with_a_note():
    detection = detect_format(["question_text", "reply"], [{"question_text": "x", "reply": "y"}])
    assert detection.format is None and detection.confidence == 0
    assert detection.notes


def test_explicit_mapping_overrides_the_guess(formats_dir):
    cfg = DataConfig(
        source=str(formats_dir / "malformed" / "missing_fields.jsonl"),
        field_mapping={"question": "question_text", "answer": "reply"},
    )
    opened = open_dataset(cfg)
    assert opened.detection.format == "question_answer"
    assert opened.detection.field_mapping == {"question": "question_text", "answer": "reply"}
    row = convert_row(next(opened.records).data, "question_answer", opened.detection.field_mapping)
    assert row["messages"] == [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "y"},
    ]


def test_explicit_format_overrides_the_guess(formats_dir):
    # GSM8K read as prompt/completion: the person says which column is which.
    cfg = DataConfig(
        source=str(formats_dir / "gsm8k_test.jsonl"),
        format="prompt_completion",
        field_mapping={"prompt": "question", "completion": "answer"},
    )
    detection = open_dataset(cfg).detection
    assert detection.format == "prompt_completion"
    assert not detection.detected


def test_partial_mapping_fills_the_rest_by_name(formats_dir):
    # OpenMath's expected_answer instead of the generated solution.
    cfg = DataConfig(
        source=str(formats_dir / "openmath_sample.parquet"),
        field_mapping={"solution": "expected_answer"},
    )
    detection = open_dataset(cfg).detection
    assert detection.format == "problem_solution"
    assert detection.field_mapping == {"problem": "problem", "solution": "expected_answer"}


def test_format_without_its_columns_names_the_field_to_map():
    with pytest.raises(DataError) as info:
        resolve_format(["question", "answer"], [{"question": "q", "answer": "a"}], format="alpaca")
    locs = {p.loc for p in info.value.problems}
    assert locs == {"field_mapping.instruction", "field_mapping.output"}
    assert info.value.code == "invalid_data"


def test_mapping_to_a_missing_column_is_an_error():
    with pytest.raises(DataError) as info:
        resolve_format(
            ["question", "answer"],
            [{"question": "q", "answer": "a"}],
            format="question_answer",
            field_mapping={"answer": "output"},
        )
    assert [p.loc for p in info.value.problems] == ["field_mapping.answer"]


def test_mapping_key_that_is_no_field_is_an_error():
    with pytest.raises(DataError) as info:
        resolve_format(
            ["q", "a"],
            [{"q": "x", "a": "y"}],
            format="question_answer",
            field_mapping={"query": "q"},
        )
    assert info.value.problems[0].loc == "field_mapping.query"
    with pytest.raises(DataError) as info:
        resolve_format(["q", "a"], [{"q": "x", "a": "y"}], field_mapping={"nonsense": "q"})
    assert info.value.problems[0].loc == "field_mapping.nonsense"


def test_undetectable_columns_raise_with_loc_format():
    with pytest.raises(DataError) as info:
        resolve_format(["foo"], [{"foo": "x"}])
    assert info.value.problems[0].loc == "format"


def test_system_prompt_goes_first_unless_the_row_has_its_own():
    mapping = {"question": "q", "answer": "a"}
    row = convert_row({"q": "hi", "a": "yo"}, "question_answer", mapping, system_prompt="Be brief.")
    assert row["messages"][0] == {"role": "system", "content": "Be brief."}
    own = {
        "c": [
            {"from": "system", "value": "Pirate."},
            {"from": "human", "value": "hi"},
            {"from": "gpt", "value": "arr"},
        ]
    }
    row = convert_row(own, "conversations", {"conversations": "c"}, system_prompt="Be brief.")
    assert [m["content"] for m in row["messages"]] == ["Pirate.", "hi", "arr"]
    pref = convert_row(
        {"p": "hi", "c": "a", "r": "b"},
        "preference",
        {"prompt": "p", "chosen": "c", "rejected": "r"},
        system_prompt="S",
    )
    assert pref["prompt"][0] == {"role": "system", "content": "S"}


@pytest.mark.parametrize(
    ("row", "loc", "code"),
    [
        ({"c": []}, "c", "empty_value"),
        ({"c": "nope"}, "c", "wrong_type"),
        ({"c": [{"from": "human", "value": "hi"}]}, "c", "no_assistant_turn"),
        ({"c": [{"from": "wizard", "value": "hi"}]}, "c[0].from", "unknown_role"),
        ({"c": [{"from": "human", "value": " "}]}, "c[0].value", "empty_value"),
        ({"c": [{"from": "human"}]}, "c[0].content", "missing_field"),
        ({}, "c", "missing_field"),
    ],
)
def test_conversation_row_errors_name_the_field(row, loc, code):
    from loralab.data import RowError

    with pytest.raises(RowError) as info:
        convert_row(row, "conversations", {"conversations": "c"})
    assert (info.value.loc, info.value.reason) == (loc, code)


def test_openai_content_parts_and_json_text_lists_are_read():
    parts = {
        "m": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": "yo"},
        ]
    }
    assert convert_row(parts, "messages", {"messages": "m"})["messages"][0]["content"] == "hi"
    as_text = {"m": '[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]'}
    assert len(convert_row(as_text, "messages", {"messages": "m"})["messages"]) == 2


def test_preference_rows_with_different_prompts_are_rejected():
    from loralab.data import RowError

    row = {
        "chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "x"}],
        "rejected": [{"role": "user", "content": "b"}, {"role": "assistant", "content": "y"}],
    }
    with pytest.raises(RowError) as info:
        convert_row(row, "preference", {"chosen": "chosen", "rejected": "rejected"})
    assert info.value.reason == "prompt_mismatch"


def test_role_order_problems():
    def roles(*names):
        return [{"role": n, "content": "x"} for n in names]

    assert check_role_order(roles("system", "user", "assistant")) == []
    codes = [c for c, _ in check_role_order(roles("user", "user", "assistant", "user"))]
    assert codes == ["consecutive_roles", "not_ending_with_assistant"]
    assert [c for c, _ in check_role_order(roles("assistant", "user", "system"))] == [
        "system_not_first",
        "assistant_first",
        "not_ending_with_assistant",
    ]


def test_every_format_has_a_required_field():
    for fmt, specs in FORMAT_FIELDS.items():
        assert any(s.required for s in specs), fmt
    assert len(set(itertools.chain(FORMAT_FIELDS))) == len(FORMAT_FIELDS)


# --- unpaired preference (KTO): one reply a row, labelled good or bad --------------------------


def unpaired_rows(formats_dir: Path, n: int = 12) -> list[dict]:
    """TRL's unpaired shape built from the preference sample: each pair's chosen reply labelled
    good, its rejected one bad, the labels spelled in several common ways."""
    spellings = [(True, False), ("good", "bad"), (1, 0), ("True", "false")]
    rows = []
    for i, record in enumerate(
        itertools.islice(iter_records(str(formats_dir / "preference_sample.jsonl")), n)
    ):
        good, bad = spellings[i % len(spellings)]
        pair = record.data
        rows.append({"prompt": pair["prompt"], "completion": pair["chosen"], "label": good})
        rows.append({"prompt": pair["prompt"], "completion": pair["rejected"], "label": bad})
    return rows


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_unpaired_labels_are_detected_and_converted(formats_dir, tmp_path):
    rows = unpaired_rows(formats_dir)
    opened = open_dataset(DataConfig(source=str(write_jsonl(tmp_path / "kto.jsonl", rows))))
    detection = opened.detection
    assert detection.format == "unpaired_preference" and detection.task == "preference"
    assert detection.field_mapping == {
        "prompt": "prompt",
        "completion": "completion",
        "label": "label",
    }
    assert detection.confidence >= 0.8
    converted = [
        convert_row(r.data, detection.format, detection.field_mapping) for r in opened.records
    ]
    assert [r["label"] for r in converted] == [True, False] * (len(rows) // 2)
    assert converted[0]["messages"] == [
        {"role": "user", "content": rows[0]["prompt"]},
        {"role": "assistant", "content": rows[0]["completion"]},
    ]


def test_conversational_unpaired_rows_from_parquet(formats_dir, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # UltraFeedback's message lists, unpaired: the prompt as messages, the reply as messages.
    pairs = pq.read_table(formats_dir / "ultrafeedback_sample.parquet").to_pylist()[:4]
    rows = [
        {"prompt": p["chosen"][:-1], "completion": p[side][-1:], "label": side == "chosen"}
        for p in pairs
        for side in ("chosen", "rejected")
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "kto.parquet")
    opened = open_dataset(DataConfig(source=str(tmp_path / "kto.parquet")))
    assert opened.detection.format == "unpaired_preference"
    row = convert_row(
        next(opened.records).data, "unpaired_preference", opened.detection.field_mapping
    )
    assert row["label"] is True
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][-1] == {
        "role": "assistant",
        "content": pairs[0]["chosen"][-1]["content"],
    }


def test_prompt_completion_without_labels_stays_sft(formats_dir):
    opened = open_dataset(DataConfig(source=str(formats_dir / "prompt_completion_sample.jsonl")))
    assert opened.detection.format == "prompt_completion" and opened.detection.task == "sft"


MAPPING = {"prompt": "prompt", "completion": "completion", "label": "label"}


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0.0, False),
        ("good", True),
        (" BAD ", False),
        ("yes", True),
        ("0", False),
        ("desirable", True),
        ("negative", False),
    ],
)
def test_label_spellings(label, expected):
    row = convert_row(
        {"prompt": "p", "completion": "c", "label": label}, "unpaired_preference", MAPPING
    )
    assert row["label"] is expected


@pytest.mark.parametrize(
    ("row", "loc", "code"),
    [
        ({"prompt": "p", "completion": "c", "label": "maybe"}, "label", "bad_label"),
        ({"prompt": "p", "completion": "c", "label": 2}, "label", "bad_label"),
        ({"prompt": "p", "completion": "c", "label": None}, "label", "empty_value"),
        ({"prompt": "p", "completion": "c"}, "label", "missing_field"),
        ({"prompt": "p", "completion": " ", "label": True}, "completion", "empty_value"),
        (
            {"prompt": "p", "completion": [{"role": "user", "content": "u"}], "label": True},
            "completion",
            "not_a_reply",
        ),
        (
            {"prompt": [{"role": "assistant", "content": "a"}], "completion": "c", "label": True},
            "prompt",
            "prompt_ends_with_reply",
        ),
    ],
)
def test_unpaired_row_errors_name_the_field(row, loc, code):
    from loralab.data import RowError

    with pytest.raises(RowError) as info:
        convert_row(row, "unpaired_preference", MAPPING)
    assert (info.value.loc, info.value.reason) == (loc, code)


def test_unpaired_validation_reports_bad_rows_by_line_and_counts(formats_dir, tmp_path):
    from loralab.data import validate_dataset

    rows = unpaired_rows(formats_dir, n=4)
    rows[2]["label"] = "perhaps"  # line 3
    rows[5]["completion"] = ""  # line 6
    rows.append(dict(rows[0]))  # line 9 repeats line 1
    path = write_jsonl(tmp_path / "kto.jsonl", rows)
    report = validate_dataset(DataConfig(source=str(path)))
    assert report.format == "unpaired_preference" and report.task == "preference"
    assert (report.total_rows, report.valid_rows, report.invalid_rows) == (9, 7, 2)
    assert [(e.line, e.loc, e.code) for e in report.errors] == [
        (3, "label", "bad_label"),
        (6, "completion", "empty_value"),
    ]
    assert report.duplicate_rows == 1 and report.duplicates[0].line == 9
    assert report.role_order == {}
    assert report.chars.count == 7


def test_unpaired_preview_trains_on_the_reply_and_shows_the_label(formats_dir, tmp_path):
    from loralab.data import preview_samples

    path = write_jsonl(tmp_path / "kto.jsonl", unpaired_rows(formats_dir, n=1))
    good, bad = preview_samples(DataConfig(source=str(path)), n=2)
    assert (good.label, bad.label) == (True, False)
    assert good.rejected_segments is None
    for sample in (good, bad):
        trained = [s.text for s in sample.segments if s.trained]
        assert trained == [sample.row["messages"][-1]["content"] + "<|im_end|>"]
