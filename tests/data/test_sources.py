"""Reading local files, folders and hub ids as streams of records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loralab.data import is_local_source, iter_records, source_fingerprint, source_kind
from loralab.errors import DataError, NotFound

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_local_or_hub_is_decided_by_path_and_suffix(tmp_path):
    existing = _write(tmp_path / "data.txt", "a,b\n1,2\n")
    assert is_local_source(str(existing))
    assert is_local_source("missing/file.jsonl")  # known suffix: local even when absent
    assert is_local_source("./folder")
    assert not is_local_source("mlabonne/FineTome-100k")
    assert source_kind("mlabonne/FineTome-100k") == "hub"
    assert source_kind(str(existing)) == "csv"  # sniffed: no known suffix


def test_missing_local_file_is_not_found():
    with pytest.raises(NotFound) as info:
        list(iter_records("nowhere/data.jsonl"))
    assert info.value.code == "not_found"
    assert info.value.problems[0].loc == "source"


def test_jsonl_lines_are_file_lines_and_blank_lines_are_skipped(tmp_path):
    path = _write(tmp_path / "d.jsonl", '{"a": 1}\n\n   \n{"a": 2}\n')
    assert [(r.line, r.data) for r in iter_records(str(path))] == [(1, {"a": 1}), (4, {"a": 2})]


def test_jsonl_with_bom_reads(tmp_path):
    path = _write(tmp_path / "d.jsonl", b'\xef\xbb\xbf{"a": 1}\n')
    assert [r.data for r in iter_records(str(path))] == [{"a": 1}]


def test_json_array_rows_are_numbered_and_streamed(tmp_path):
    rows = [{"i": i, "text": "x" * 50_000} for i in range(60)]  # several read chunks
    path = _write(tmp_path / "d.json", json.dumps(rows, indent=1))
    records = list(iter_records(str(path)))
    assert [r.line for r in records] == list(range(1, 61))
    assert [r.data["i"] for r in records] == list(range(60))


@pytest.mark.parametrize("key", ["data", "train"])
def test_json_wrapper_object_holds_the_rows(tmp_path, key):
    path = _write(tmp_path / "d.json", json.dumps({"version": 1, key: [{"a": 1}, {"a": 2}]}))
    assert [r.data for r in iter_records(str(path))] == [{"a": 1}, {"a": 2}]


def test_json_array_syntax_error_names_the_file_line(tmp_path):
    path = _write(tmp_path / "d.json", '[\n {"a": 1},\n {"a": 2,,}\n]\n')
    with pytest.raises(DataError) as info:
        list(iter_records(str(path)))
    assert info.value.problems[0].line == 3
    assert info.value.problems[0].loc == "file"


def test_json_array_element_that_is_not_an_object_is_a_row_issue(tmp_path):
    path = _write(tmp_path / "d.json", '[{"a": 1}, 5]')
    records = list(iter_records(str(path), on_error="yield"))
    assert records[1].issue.code == "not_object"
    assert records[1].issue.line == 2


def test_csv_lines_count_the_header_and_multiline_fields(tmp_path):
    path = _write(tmp_path / "d.csv", 'q,a\n"two\nlines",x\nsecond,y\n')
    records = list(iter_records(str(path)))
    assert [(r.line, r.data) for r in records] == [
        (2, {"q": "two\nlines", "a": "x"}),
        (4, {"q": "second", "a": "y"}),
    ]


def test_tsv_and_semicolon_csv_read(tmp_path):
    tsv = _write(tmp_path / "d.tsv", "q\ta\nhi\tthere\n")
    semi = _write(tmp_path / "d.csv", "q;a\nhi;there\n")
    for path in (tsv, semi):
        assert [r.data for r in iter_records(str(path))] == [{"q": "hi", "a": "there"}]


def test_bad_bytes_in_one_csv_line_are_reported_and_the_rest_read(tmp_path):
    path = _write(tmp_path / "d.csv", b"q,a\ncaf\xe9,x\nok,y\n")
    records = list(iter_records(str(path), on_error="yield"))
    assert records[0].issue.code == "bad_encoding" and records[0].line == 2
    assert records[1].data == {"q": "ok", "a": "y"}
    with pytest.raises(DataError) as info:
        list(iter_records(str(path)))
    assert info.value.problems[0].line == 2


def test_parquet_rows_are_numbered_across_batches(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"i": list(range(2500))}), path, row_group_size=700)
    records = list(iter_records(str(path)))
    assert len(records) == 2500
    assert records[-1].line == 2500 and records[-1].data == {"i": 2499}


def test_fingerprint_is_content_hash_for_files_and_identity_for_hub(tmp_path):
    a = _write(tmp_path / "a.jsonl", '{"a": 1}\n')
    b = _write(tmp_path / "b.jsonl", '{"a": 1}\n')
    c = _write(tmp_path / "c.jsonl", '{"a": 2}\n')
    assert source_fingerprint(str(a)) == source_fingerprint(str(b)) != source_fingerprint(str(c))
    assert source_fingerprint(str(a)).startswith("sha256:")
    hub = source_fingerprint("org/name", split="train")
    assert hub != source_fingerprint("org/name", split="test")
    assert hub != source_fingerprint("org/name", split="train", revision="abc")


def test_dataset_folder_reads_through_datasets_by_split(tmp_path, formats_dir):
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "train.jsonl").write_bytes((formats_dir / "gsm8k_train.jsonl").read_bytes())
    (folder / "test.jsonl").write_bytes((formats_dir / "gsm8k_test.jsonl").read_bytes())
    test_rows = list(iter_records(str(folder), split="test"))
    assert len(test_rows) == 60 and test_rows[0].line == 1
    assert set(test_rows[0].data) == {"question", "answer"}
    with pytest.raises(DataError) as info:
        list(iter_records(str(folder), split="validation"))
    assert info.value.problems[0].loc == "split"


def test_uncached_hub_dataset_offline_is_hub_unavailable(tmp_path):
    # A fresh process: datasets reads HF_HUB_OFFLINE when imported.
    code = (
        "from loralab.data import iter_records\n"
        "from loralab.errors import HubUnavailable\n"
        "try:\n"
        "    list(iter_records('loralab-test/not-cached', split='train'))\n"
        "except HubUnavailable as e:\n"
        "    print('CODE', e.code, e.status)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert "CODE hub_unavailable 503" in out.stdout, out.stderr


def test_importing_loralab_data_leaves_the_ml_stack_alone():
    code = (
        "import sys, loralab.data\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'peft', 'trl') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_json_array_errors_deep_in_a_large_file_name_the_right_line(tmp_path):
    rows = [json.dumps({"i": i, "text": "y" * 30_000}) for i in range(100)]
    rows[80] = '{"i": 80, "text": oops}'
    path = _write(tmp_path / "d.json", "[\n" + ",\n".join(rows) + "\n]\n")
    with pytest.raises(DataError) as info:
        list(iter_records(str(path)))
    assert info.value.problems[0].line == 82  # "[" is line 1, row 0 is line 2


def test_json_array_with_bad_bytes_names_the_line(tmp_path):
    path = _write(tmp_path / "d.json", b'[\n{"a": "ok"},\n{"a": "caf\xe9"}\n]\n')
    with pytest.raises(DataError) as info:
        list(iter_records(str(path)))
    assert info.value.problems[0].line == 3


def test_records_unpack_as_line_and_data(formats_dir):
    line, data = next(iter(iter_records(str(formats_dir / "gsm8k_test.parquet"))))
    assert line == 1 and set(data) == {"question", "answer"}


def test_server_dataset_reference_outside_the_server_says_what_it_is():
    from loralab.data import source_kind
    from loralab.errors import DataError

    with pytest.raises(DataError) as info:
        source_kind("dataset:0123456789abcdef0123456789abcdef")
    assert info.value.problems[0].loc == "source"
    assert info.value.fix
