"""Every malformed sample gives a clear DataError or a report whose invalid rows name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loralab.config import DataConfig
from loralab.data import iter_records, load_conversations, validate_dataset
from loralab.errors import DataError, LoralabError

MALFORMED_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "formats" / "malformed"

# file -> ("raise", loc, line) or ("report", [(line, code, loc), ...]). A file added later
# without an entry is still checked by the generic rule in the test.
EXPECTED = {
    "binary.parquet": ("raise", "file", None),
    "empty.jsonl": ("raise", "file", None),
    "latin1.jsonl": ("raise", "row", 1),
    "missing_fields.jsonl": ("raise", "format", None),
    "not_a_table.json": ("raise", "file", None),
    "broken_lines.jsonl": (
        "report",
        [(2, "bad_json", None), (3, "bad_json", None), (4, "not_object", None)],
    ),
    "empty_values.jsonl": (
        "report",
        [(1, "empty_value", "instruction"), (2, "empty_value", "instruction")],
    ),
    "ragged.csv": ("report", [(3, "ragged_row", None), (4, "ragged_row", None)]),
    "wrong_types.jsonl": (
        "report",
        [(1, "empty_value", "completion"), (2, "wrong_type", "prompt[0]")],
    ),
}


def _files() -> list[str]:
    return sorted(p.name for p in MALFORMED_DIR.iterdir() if p.is_file())


@pytest.mark.parametrize("name", _files())
def test_malformed_file_gives_a_clear_error(name):
    path = MALFORMED_DIR / name
    expected = EXPECTED.get(name)
    try:
        report = validate_dataset(DataConfig(source=str(path)))
    except LoralabError as exc:
        assert isinstance(exc, DataError), type(exc)
        assert exc.code == "invalid_data"
        assert exc.problems, "the error must say where"
        problem = exc.problems[0]
        assert problem.loc and (problem.line is not None or problem.loc in ("file", "format"))
        if expected is not None:
            assert expected[0] == "raise", f"expected a report, got {exc}"
            assert (problem.loc, problem.line) == expected[1:]
        return
    assert report.invalid_rows > 0
    assert all(issue.line >= 1 and issue.code for issue in report.errors)
    if expected is not None:
        assert expected[0] == "report"
        got = [(i.line, i.code, i.loc) for i in report.errors]
        assert got == expected[1]
        assert report.invalid_rows == len(expected[1])
        assert sum(report.errors_by_code.values()) == report.invalid_rows


def test_latin1_line_is_reported_as_an_encoding_problem():
    records = list(iter_records(str(MALFORMED_DIR / "latin1.jsonl"), on_error="yield"))
    assert [(r.line, r.issue.code) for r in records] == [(1, "bad_encoding")]


def test_latin1_line_among_good_ones_is_an_invalid_row(tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = b'{"prompt": "hi", "completion": "there"}\n'
    path.write_bytes(good + (MALFORMED_DIR / "latin1.jsonl").read_bytes() + good)
    report = validate_dataset(DataConfig(source=str(path)))
    assert (report.total_rows, report.valid_rows) == (3, 2)
    assert [(i.line, i.code) for i in report.errors] == [(2, "bad_encoding")]


def test_loading_a_file_without_valid_rows_raises_with_the_lines():
    with pytest.raises(DataError) as info:
        load_conversations(DataConfig(source=str(MALFORMED_DIR / "empty_values.jsonl")))
    assert [p.line for p in info.value.problems] == [1, 2]
    assert info.value.problems[0].loc == "instruction"


def test_loading_skips_and_counts_broken_lines():
    loaded = load_conversations(DataConfig(source=str(MALFORMED_DIR / "broken_lines.jsonl")))
    train, eval_rows = loaded
    assert len(train) == 2 and eval_rows == []
    assert loaded.skipped == 3
    assert [i.line for i in loaded.issues] == [2, 3, 4]
