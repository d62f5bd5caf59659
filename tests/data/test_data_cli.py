"""``loralab data inspect`` through Typer's runner (independent of the other command groups)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from loralab.cli import data_cmd
from loralab.errors import ConfigError, DataError, NotFound


@pytest.fixture(scope="module")
def cli():
    root = typer.Typer()
    root.add_typer(data_cmd.app, name="data")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(root, ["data", *args], catch_exceptions=True)

    return invoke


def test_inspect_prints_format_counts_and_samples(cli, formats_dir):
    result = cli("inspect", str(formats_dir / "dolly_sample.csv"), "-n", "1")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "dolly" in out
    assert "150 valid" in out
    assert "line 2" in out  # the first sample: CSV line 2
    assert "<|im_start|>assistant" in out


def test_inspect_with_model_shows_tokens_and_truncation(cli, formats_dir, tiny_model):
    result = cli(
        "inspect",
        str(formats_dir / "finetome_sample.jsonl"),
        "--model",
        str(tiny_model),
        "--max-seq-length",
        "64",
        "-n",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "tokens" in result.output
    assert "longer than 64 tokens" in result.output


def test_inspect_json_lists_invalid_rows_by_line(cli, formats_dir):
    result = cli("inspect", str(formats_dir / "malformed" / "broken_lines.jsonl"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [e["line"] for e in report["errors"]] == [2, 3, 4]
    assert report["valid_rows"] == 2


def test_inspect_mapping_and_format_options(cli, formats_dir):
    result = cli(
        "inspect",
        str(formats_dir / "malformed" / "missing_fields.jsonl"),
        "--format",
        "question_answer",
        "--map",
        "question=question_text",
        "--map",
        "answer=reply",
        "--system-prompt",
        "Be brief.",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["field_mapping"] == {"question": "question_text", "answer": "reply"}
    assert report["valid_rows"] == 5 and report["duplicate_rows"] == 4


@pytest.mark.parametrize(
    ("args", "error", "loc"),
    [
        (["nowhere.jsonl"], NotFound, "source"),
        (["{formats}/malformed/binary.parquet"], DataError, "file"),
        (["{formats}/malformed/missing_fields.jsonl"], DataError, "format"),
        (
            ["{formats}/gsm8k_test.jsonl", "--format", "alpaca"],
            DataError,
            "field_mapping.instruction",
        ),
        (["{formats}/gsm8k_test.jsonl", "--map", "nonsense"], ConfigError, "--map"),
        (["{formats}/gsm8k_test.jsonl", "--format", "bogus"], ConfigError, "format"),
    ],
)
def test_inspect_raises_loralab_errors_for_the_root_to_print(cli, formats_dir, args, error, loc):
    result = cli("inspect", *[a.format(formats=formats_dir) for a in args])
    assert result.exit_code != 0
    assert isinstance(result.exception, error), result.output
    assert result.exception.problems[0].loc == loc


def test_inspect_unpaired_labels_counts_and_marks_each_sample(cli, tmp_path):
    rows = [
        {"prompt": "2+2?", "completion": "4", "label": True},
        {"prompt": "2+2?", "completion": "5", "label": False},
        {"prompt": "3+3?", "completion": "6", "label": "good"},
    ]
    path = tmp_path / "kto.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = cli("inspect", str(path), "-n", "2")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "unpaired_preference" in out
    assert "2 good, 1 bad" in out
    assert "line 1 · good" in out and "line 2 · bad" in out

    report = json.loads(cli("inspect", str(path), "--json").output)
    assert report["labels"] == {"good": 2, "bad": 1}
