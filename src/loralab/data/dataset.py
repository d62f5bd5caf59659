"""Open a configured dataset: its records, columns and resolved format, ready to convert."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from loralab.config import DataConfig
from loralab.data.convert import convert_row
from loralab.data.formats import FormatDetection, resolve_format
from loralab.data.records import Record, RowError, RowIssue
from loralab.data.sources import SourceKind, iter_records, source_kind
from loralab.errors import DataError

__all__ = ["SAMPLE_ROWS", "OpenedDataset", "convert_record", "open_dataset"]

# Rows read ahead to detect the format; they are replayed, so nothing is read twice.
SAMPLE_ROWS = 100


@dataclass
class OpenedDataset:
    """A dataset being read: ``records`` streams every row, the first ones included."""

    source: str
    kind: SourceKind
    columns: list[str]
    sample: list[dict[str, Any]]
    detection: FormatDetection
    records: Iterator[Record]


def open_dataset(
    config: DataConfig, *, source: str | None = None, split: str | None = None
) -> OpenedDataset:
    """Start reading ``config.source`` (or ``source``/``split``, e.g. the eval data) and resolve
    its format from the first rows and the config's ``format`` and ``field_mapping``.

    Raises:
        NotFound, HubUnavailable: the source cannot be found or reached.
        DataError: the file is empty or unreadable, none of the first rows can be read (the
            problems name their lines), or the format cannot be resolved.
    """
    source = source or config.source
    split = split or config.split
    kind = source_kind(source)
    records = iter_records(source, split=split, subset=config.subset, on_error="yield")
    head = list(itertools.islice(records, SAMPLE_ROWS))
    sample = [r.data for r in head if r.data is not None]
    if not sample:
        issues = [r.issue for r in head if r.issue is not None]
        raise DataError(
            f"No row of {source} can be read (the first {len(head)} checked).",
            fix="Fix the lines listed, or export the file again as UTF-8 JSONL, CSV or Parquet.",
            problems=[i.to_problem() for i in issues[:10]],
        )
    seen: dict[str, None] = {}  # insertion-ordered and linear, even for very wide rows
    for row in sample:
        seen.update(dict.fromkeys(row))
    columns = list(seen)
    detection = resolve_format(
        columns, sample, format=config.format, field_mapping=config.field_mapping
    )
    return OpenedDataset(
        source=source,
        kind=kind,
        columns=columns,
        sample=sample,
        detection=detection,
        records=itertools.chain(head, records),
    )


def convert_record(
    record: Record, detection: FormatDetection, *, system_prompt: str | None = None
) -> tuple[dict[str, Any] | None, RowIssue | None]:
    """``(canonical_row, None)`` for a good record, ``(None, issue)`` for a bad one."""
    if record.issue is not None or record.data is None:
        return None, record.issue
    assert detection.format is not None
    try:
        row = convert_row(
            record.data, detection.format, detection.field_mapping, system_prompt=system_prompt
        )
    except RowError as exc:
        return None, exc.issue(record.line)
    return row, None
