"""What a batch or an evaluation job answered, as a JSON or CSV download.

A batch (``generate``) gives its ``results.jsonl`` rows; an evaluation (``evaluate``) its
samples, one row a sample with both answers and their metrics. CSV cells are quoted by the
``csv`` module (commas, quotes and newlines in answers survive); a text cell that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so a spreadsheet
does not run it as a formula. The JSON download is the rows verbatim.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Literal

from loralab.errors import Conflict, LoralabError, NotFound
from loralab.evaluation.layout import RESULTS_FILE, SAMPLES_FILE, read_jsonl
from loralab.evaluation.metrics import METRICS
from loralab.store import Database, reading
from loralab.store import jobs as store

__all__ = ["RESULT_FORMATS", "ResultsDownload", "finished_job_rows", "job_results"]

RESULT_FORMATS = ("json", "csv")
ResultFormat = Literal["json", "csv"]
_FILES = {"generate": RESULTS_FILE, "evaluate": SAMPLES_FILE}
_BATCH_COLUMNS = (
    "id",
    "prompt",
    "expected",
    "text",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "ttft_s",
    "tokens_per_second",
    "exact_match",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ResultsDownload:
    """A download: its bytes, media type and file name."""

    def __init__(self, body: bytes, media_type: str, filename: str) -> None:
        self.body, self.media_type, self.filename = body, media_type, filename


def _evaluation_columns() -> tuple[str, ...]:
    metrics = tuple(f"{side}_{m}" for side in ("base", "tuned") for m in METRICS)
    return ("id", "prompt", "reference", "base_text", "tuned_text", *metrics, "judge_winner")


def _evaluation_row(sample: dict[str, Any]) -> dict[str, Any]:
    metrics = sample.get("metrics") or {}
    row = {
        "id": sample.get("id"),
        "prompt": sample.get("prompt"),
        "reference": sample.get("reference"),
        "base_text": (sample.get("base") or {}).get("text"),
        "tuned_text": (sample.get("tuned") or {}).get("text"),
        "judge_winner": (sample.get("judge") or {}).get("winner"),
    }
    for side in ("base", "tuned"):
        for m in METRICS:
            row[f"{side}_{m}"] = (metrics.get(side) or {}).get(m)
    return row


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode("utf-8")


def finished_job_rows(
    row: Any, name: str, *, what: str, codes: tuple[str, str], fix: str | None = None
) -> list[dict[str, Any]]:
    """The JSONL rows a completed job wrote to ``name`` in its folder.

    Raises Conflict (409 ``codes[0]``) until the job completes, and 410 ``codes[1]`` when the
    file was removed.
    """
    if row.status != "completed":
        raise Conflict(
            f"Job '{row.id}' is {row.status}; its {what} come when it completes.", code=codes[0]
        )
    path = Path(row.output_dir or "") / name
    if not row.output_dir or not path.is_file():
        raise LoralabError(
            f"The {what} of job '{row.id}' are gone from {path}.",
            code=codes[1],
            status=410,
            fix=fix,
        )
    return read_jsonl(path)


def job_results(db: Database, job_id: str, fmt: ResultFormat = "json") -> ResultsDownload:
    """The answers of a completed ``generate`` or ``evaluate`` job.

    Raises NotFound (404 ``job_not_found``; ``results_not_found`` for a kind that has none),
    Conflict (409 ``results_not_ready`` until the job completes), and 410
    ``results_files_gone`` when the file was removed.
    """
    with reading(db) as session:
        row = store.get_job(session, job_id)
    if row is None:
        raise NotFound(f"Job '{job_id}' does not exist.", code="job_not_found")
    name = _FILES.get(row.kind)
    if name is None:
        raise NotFound(
            f"Job '{job_id}' is a {row.kind} job; only batch tests and evaluations have results.",
            code="results_not_found",
        )
    rows = finished_job_rows(
        row, name, what="results", codes=("results_not_ready", "results_files_gone")
    )
    stem = f"{'results' if row.kind == 'generate' else 'evaluation'}-{job_id[:8]}"
    if fmt == "json":
        body = json.dumps(rows, ensure_ascii=False, indent=1).encode("utf-8")
        return ResultsDownload(body, "application/json", f"{stem}.json")
    if row.kind == "evaluate":
        body = _csv([_evaluation_row(s) for s in rows], _evaluation_columns())
    else:
        body = _csv(rows, _BATCH_COLUMNS)
    return ResultsDownload(body, "text/csv; charset=utf-8", f"{stem}.csv")
