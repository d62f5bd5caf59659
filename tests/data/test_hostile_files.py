"""Hostile files never crash a reader: ``loralab data inspect`` gives a report or a clear error.

The three findings of issue 11 first (a JSONL line nested tens of thousands of levels deep, a
UTF-16 CSV with a byte-order mark, see also the file-name one in ``tests/api``), then each limit
at its real size, then generated hostile files (``hostile.py``) through the command in-process,
and a few through the real ``loralab`` program as a person runs it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from loralab.cli import data_cmd
from loralab.data import limits
from loralab.errors import DataError, LoralabError

from .hostile import PARQUET_FILES, SMALL_LIMITS, hostile_files

REPO = Path(__file__).resolve().parents[2]
GOOD = '{"prompt": "What is 2 + 2?", "completion": "4"}\n'
CSV = "instruction,response\nWhat is 2 + 2?,4\nName a colour.,Blue\n"
# Exit codes of `loralab data inspect`: a report (0), a report with no valid row (1), a loralab
# error (2: printed as error[code], see docs/cli.md).
EXIT_CODES = {0, 1, 2}

_root = typer.Typer()
_root.add_typer(data_cmd.app, name="data")
_runner = CliRunner()


def inspect(path: Path, *args: str) -> tuple[int, str, LoralabError | None]:
    """Run ``loralab data inspect`` in-process as ``loralab.cli.main`` would: exit code, output,
    and the LoralabError it would print as ``error[code]`` (exit 2). Any other exception fails."""
    result = _runner.invoke(_root, ["data", "inspect", str(path), *args], catch_exceptions=True)
    exc = result.exception
    if exc is None or isinstance(exc, SystemExit):
        return result.exit_code, result.output, None
    if isinstance(exc, LoralabError):
        return 2, result.output, exc
    raise AssertionError(f"{path.name} crashed `data inspect`") from exc


def report_of(path: Path) -> dict:
    code, out, exc = inspect(path, "--json", "-n", "0")
    assert exc is None, str(exc)
    assert code in (0, 1)
    return json.loads(out)


def _loralab() -> list[str]:
    script = Path(sys.executable).with_name("loralab")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from loralab.cli import main; main()"]


# The findings ----------------------------------------------------------------------------------


def test_line_nested_fifty_thousand_deep_is_an_invalid_row_naming_the_limit(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text(GOOD + '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}\n" + GOOD)
    report = report_of(path)
    assert (report["total_rows"], report["valid_rows"]) == (3, 2)
    [issue] = report["errors"]
    assert (issue["line"], issue["code"]) == (2, "too_deep")
    assert f"deeper than {limits.MAX_DEPTH} levels" in issue["message"]


def test_nesting_up_to_the_limit_is_read_and_one_more_is_not(tmp_path):
    inner = limits.MAX_DEPTH - 1  # the row's own object is the first level
    at_limit = '{"prompt": "a", "completion": "b", "x": ' + "[" * inner + "]" * inner + "}\n"
    over = at_limit.replace("[", "[[", 1).replace("]", "]]", 1)
    path = tmp_path / "edge.jsonl"
    path.write_text(at_limit + over)
    report = report_of(path)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(2, "too_deep")]
    assert report["valid_rows"] == 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be", "utf-8-sig"])
def test_csv_with_a_byte_order_mark_is_decoded(tmp_path, encoding):
    utf8 = tmp_path / "plain.csv"
    utf8.write_text(CSV + "Café?,Oui ☕\n", encoding="utf-8")
    wide = tmp_path / "wide.csv"
    data = (CSV + "Café?,Oui ☕\n").encode(encoding)
    if encoding.endswith("-be"):  # Python writes no mark for an explicit byte order
        bom = "\ufeff".encode(encoding)
        data = bom + data
    wide.write_bytes(data)
    plain, decoded = report_of(utf8), report_of(wide)
    assert decoded["valid_rows"] == plain["valid_rows"] == 3
    assert decoded["columns"] == plain["columns"] == ["instruction", "response"]
    assert decoded["chars"] == plain["chars"]


def test_utf16_json_and_jsonl_with_a_byte_order_mark_are_decoded(tmp_path):
    (tmp_path / "a.jsonl").write_bytes((GOOD * 2).encode("utf-16"))
    (tmp_path / "a.json").write_bytes(("[" + GOOD + "," + GOOD + "]").encode("utf-32"))
    (tmp_path / "o.json").write_bytes(('{"data": [' + GOOD + "]}").encode("utf-16"))
    for name, rows in (("a.jsonl", 2), ("a.json", 2), ("o.json", 1)):
        assert report_of(tmp_path / name)["valid_rows"] == rows, name


def test_utf16_without_a_byte_order_mark_is_named_not_called_latin1(tmp_path):
    path = tmp_path / "nobom.csv"
    path.write_bytes(CSV.encode("utf-16-le"))
    code, _, exc = inspect(path)
    assert code == 2 and isinstance(exc, DataError)
    assert "UTF-16" in exc.message and "Latin-1" not in exc.message
    assert exc.problems[0].line == 1


def test_broken_utf16_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_bytes((GOOD * 3).encode("utf-16") + b"\x00\xd8\x41\x00")  # a lone surrogate
    code, _, exc = inspect(path)
    assert code == 2 and isinstance(exc, DataError)
    assert "UTF-16" in exc.message and exc.problems[0].line == 4


# Limits at their real size -----------------------------------------------------------------------


def test_line_over_the_size_limit_is_skipped_without_reading_it_whole(tmp_path):
    path = tmp_path / "huge.jsonl"
    with path.open("w") as f:
        f.write(GOOD)
        f.write('{"prompt": "' + "x" * limits.MAX_LINE_BYTES + '", "completion": "y"}\n')
        f.write(GOOD.replace("4", "four"))
    report = report_of(path)
    assert (report["total_rows"], report["valid_rows"]) == (3, 2)
    [issue] = report["errors"]
    assert (issue["line"], issue["code"]) == (2, "too_long")
    assert limits.size_text(limits.MAX_LINE_BYTES) in issue["message"]


def test_json_object_over_the_whole_file_limit_is_refused_with_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_WHOLE_JSON_BYTES", 1024)
    path = tmp_path / "wrapped.json"
    path.write_text('{"data": [' + ", ".join([GOOD.strip()] * 40) + "]}")
    code, _, exc = inspect(path)
    assert code == 2 and exc is not None and exc.code == "invalid_data"
    assert "1 KB" in exc.message
    # The same rows as an array are read row by row, whatever the file size.
    path.write_text("[" + ", ".join([GOOD.strip()] * 40) + "]")
    assert report_of(path)["valid_rows"] == 40


def test_json_array_element_over_the_row_limit_is_an_invalid_row_or_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 4096)
    path = tmp_path / "long.json"
    path.write_text("[\n" + GOOD.strip() + ',\n{"prompt": "' + "x" * 10_000 + '"}]')
    report = report_of(path)  # read whole already: the row is skipped, the rest read
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(2, "too_long")]
    assert "4 KB" in report["errors"][0]["message"]
    # Longer than what is read at once: the reader stops there instead of reading on.
    path.write_text("[\n" + GOOD.strip() + ',\n{"prompt": "' + "x" * 3_000_000 + '"}]')
    code, _, exc = inspect(path)
    assert code == 2 and exc is not None
    assert "row 2" in exc.message and "4 KB" in exc.message and exc.problems[0].line == 3


def test_csv_quote_left_open_stops_at_the_field_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 4096)
    path = tmp_path / "open.csv"
    path.write_text(CSV + '"never closed,x\n' + "more text\n" * 1000)
    code, _, exc = inspect(path)
    assert code == 2 and exc is not None
    assert "quote left open" in exc.message and exc.problems[0].line is not None


def test_row_with_too_many_columns_is_an_invalid_row(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_FIELDS", 10)
    wide = {f"c{i}": i for i in range(20)}
    path = tmp_path / "wide.jsonl"
    path.write_text(GOOD + json.dumps(wide) + "\n")
    report = report_of(path)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(2, "too_wide")]
    assert "at most 10" in report["errors"][0]["message"]


def test_big_integer_surrogate_and_nul_escapes_are_invalid_rows(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text(
        GOOD
        + '{"prompt": '
        + "9" * 5000
        + ', "completion": "b"}\n'
        + '{"prompt": "a\\udc00", "completion": "b"}\n'
        + '{"prompt\\u0000": "a", "completion": "b"}\n'
        + '{"prompt": "a\\ud83d\\ude00", "completion": "b"}\n'  # a real pair: an emoji
    )
    report = report_of(path)
    got = [(e["line"], e["code"]) for e in report["errors"]]
    assert got == [(2, "bad_json"), (3, "bad_encoding"), (4, "bad_encoding")]
    assert report["valid_rows"] == 2


def test_parquet_claiming_more_rows_than_bytes_is_refused(tmp_path):
    # 200,000 copies of one row compress to a few KB: read, they would take minutes.
    path = tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"prompt": ["a"] * 200_000, "completion": ["b"] * 200_000}), path)
    assert path.stat().st_size < 200_000
    code, _, exc = inspect(path)
    assert code == 2 and exc is not None
    assert "200000 rows" in exc.message and "one row per byte" in exc.message


def test_parquet_row_group_over_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ROW_GROUP_BYTES", 1024)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"prompt": ["x" * 5000], "completion": ["y"]}), path)
    code, _, exc = inspect(path)
    assert code == 2 and exc is not None and "1 KB per row group" in exc.message


def test_csv_line_of_nul_bytes_is_an_invalid_row_not_a_blank_one(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(CSV.encode() + b"\x00\x00\x00\n" + b"Last?,Yes\n")
    report = report_of(path)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(4, "bad_encoding")]
    assert "NUL" in report["errors"][0]["message"] and report["valid_rows"] == 3


def _zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("train.jsonl", data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "what"),
    [
        ("data.jsonl", lambda: _zip(GOOD.encode()), "ZIP archive"),
        ("data.csv", lambda: gzip.compress(CSV.encode()), "gzip"),
        ("data.json", lambda: PARQUET_FILES[0], "Parquet"),
    ],
)
def test_archive_renamed_to_a_text_suffix_is_named(tmp_path, name, make, what):
    path = tmp_path / name
    path.write_bytes(make())
    code, _, exc = inspect(path)
    assert code == 2 and isinstance(exc, DataError)
    assert what in exc.message and exc.fix


def test_column_names_that_look_like_markup_are_printed(tmp_path):
    path = tmp_path / "markup.csv"
    path.write_text("instruction,response,[/x]\nhi,there,[bold]\nragged,[/red]\n")
    code, out, exc = inspect(path, "-n", "1")
    assert exc is None and code == 0
    assert "[/x]" in out and "ragged_row" in out


# Generated hostile files -----------------------------------------------------------------------


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    file=hostile_files(suffixes=[".jsonl", ".json", ".csv", ".tsv", ".parquet", ".ndjson", ""]),
    as_json=st.booleans(),
)
def test_generated_hostile_file_gets_a_report_or_a_clear_error(
    tmp_path, monkeypatch, file, as_json
):
    for name, value in SMALL_LIMITS.items():
        monkeypatch.setattr(limits, name, value)
    suffix, content = file
    path = tmp_path / f"hostile{suffix}"
    path.write_bytes(content)
    code, out, exc = inspect(path, *(["--json"] if as_json else []), "-n", "2")
    assert code in EXIT_CODES
    assert "Traceback" not in out
    if exc is not None:
        assert exc.code and exc.message and exc.status < 500
        assert exc.problems, "the error must say where"
        assert all(p.loc for p in exc.problems)
        return
    if as_json:
        report = json.loads(out)
        assert report["total_rows"] == report["valid_rows"] + report["invalid_rows"]
        assert all(e["line"] >= 1 and e["code"] for e in report["errors"])
        assert (code == 1) == (report["valid_rows"] == 0)


# The real program --------------------------------------------------------------------------------


def _hostile_set(folder: Path) -> list[Path]:
    files = {
        "deep.jsonl": (GOOD + "[" * 40_000 + "]" * 40_000 + "\n").encode(),
        "utf16.csv": CSV.encode("utf-16"),
        "archive.jsonl": _zip(GOOD.encode()),
        "markup.csv": b"instruction,response,[/x]\nhi,there,[bold]\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


def test_real_command_prints_no_traceback_for_hostile_files(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    for path in _hostile_set(tmp_path):
        result = subprocess.run(
            [*_loralab(), "data", "inspect", str(path), "-n", "1"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = result.stdout + result.stderr
        assert result.returncode in EXIT_CODES, out
        assert "Traceback" not in out, out
        if result.returncode == 2:
            assert "error[invalid_data]" in result.stderr and path.name in result.stderr
