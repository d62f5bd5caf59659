"""Streaming readers for local files: JSONL, CSV, Parquet, and JSON (``json_reader``).

Each yields ``Record``s; a row that cannot be read comes as a ``Record`` with an ``issue``, a file
that cannot be read at all raises ``DataError`` naming the file and line. Every reader is total:
whatever the bytes, it yields records or raises ``DataError``. Rows deeper, longer or wider than
``loralab.data.limits`` allows are reported with the limit; UTF-16/UTF-32 files with a
byte-order mark are decoded; archives renamed to a text suffix are named as what they are.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from loralab.data import limits
from loralab.data.encodings import SAVE_AS_UTF8, encoding_hint, open_utf8, refuse_binary
from loralab.data.json_reader import iter_json
from loralab.data.records import Record, RowIssue, empty_file_error, file_error, issue_record

__all__ = ["READERS"]

_CHUNK = 1 << 20


def _encoding_issue(line: int, raw: bytes, exc: UnicodeDecodeError | None) -> RowIssue:
    if exc is None:  # valid UTF-8, but NUL bytes
        message = f"line {line} is not text: {encoding_hint(raw)}. {SAVE_AS_UTF8}"
    else:
        byte = raw[exc.start : exc.start + 1].hex()
        message = (
            f"line {line} is not valid UTF-8 (byte 0x{byte} at column {exc.start + 1}); "
            f"{encoding_hint(raw)}. {SAVE_AS_UTF8}"
        )
    return RowIssue(line=line, code="bad_encoding", message=message)


def _lines(f: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """``(number, raw)`` per line; ``raw`` is None for a line over ``MAX_LINE_BYTES``, which is
    skipped without being held in memory."""
    limit = limits.MAX_LINE_BYTES
    number = 0
    while raw := f.readline(limit + 1):
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = f.readline(_CHUNK)
            yield number, None
            continue
        yield number, raw


def _iter_jsonl(path: Path) -> Iterator[Record]:
    refuse_binary(path, "JSONL text")
    seen = False
    with open_utf8(path) as f:
        for line, raw in _lines(f):
            if raw is None:
                seen = True
                yield issue_record(line, "too_long", limits.too_long_message(f"line {line}"))
                continue
            if b"\x00" in raw:
                seen = True
                yield Record(line, None, _encoding_issue(line, raw, None))
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                seen = True
                yield Record(line, None, _encoding_issue(line, raw, exc))
                continue
            if not text.strip():
                continue
            seen = True
            yield _jsonl_record(line, text)
    if not seen:
        raise empty_file_error(path)


def _jsonl_record(line: int, text: str) -> Record:
    if limits.too_deep(text):
        return issue_record(line, "too_deep", limits.too_deep_message(f"line {line}"))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return issue_record(
            line, "bad_json", f"line {line} is not valid JSON ({exc.msg}, column {exc.colno})"
        )
    except RecursionError:
        return issue_record(line, "too_deep", limits.too_deep_message(f"line {line}"))
    except ValueError as exc:  # e.g. an integer longer than Python converts (4300 digits)
        return issue_record(line, "bad_json", f"line {line} is not valid JSON ({exc})")
    if not isinstance(obj, dict):
        kind = "an array" if isinstance(obj, list) else type(obj).__name__
        msg = f"line {line} holds {kind}, not a JSON object with named fields"
        return issue_record(line, "not_object", msg)
    return limits.checked_row(line, obj, f"line {line}", limits.has_odd_escape(text))


def _iter_csv(path: Path) -> Iterator[Record]:
    refuse_binary(path, "CSV text")
    # Long documents exceed csv's default 128 KiB field limit; a quote left open would
    # otherwise gather the rest of the file into one field.
    csv.field_size_limit(limits.MAX_LINE_BYTES)
    bad_lines: dict[int, RowIssue] = {}

    def lines() -> Iterator[str]:
        # Decoding line by line lets a bad byte be reported with its line, and the rest read.
        with open_utf8(path) as f:
            for number, raw in _lines(f):
                if raw is None:
                    issue = RowIssue(
                        line=number,
                        code="too_long",
                        message=limits.too_long_message(f"line {number}"),
                    )
                    bad_lines[number] = issue
                    yield "\n"
                    continue
                if b"\x00" in raw:
                    bad_lines[number] = _encoding_issue(number, raw, None)
                    raw = raw.replace(b"\x00", b"")
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad_lines.setdefault(number, _encoding_issue(number, raw, exc))
                    yield raw.decode("utf-8", errors="replace")

    source = lines()
    first = next(source, None)
    while first is not None and not first.strip():
        first = next(source, None)
    if first is None:
        raise empty_file_error(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _guess_delimiter(first)

    def all_lines() -> Iterator[str]:
        yield first
        yield from source

    reader = csv.reader(all_lines(), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as exc:
        raise file_error(
            path, f"the header is not valid CSV: {_csv_message(exc)}", line=1
        ) from None
    if 1 in bad_lines:
        raise file_error(path, bad_lines[1].message, line=1)
    if len(header) > limits.MAX_FIELDS:
        raise file_error(path, limits.too_wide_message("the header", len(header)), line=1)
    header = [name or f"column_{i + 1}" for i, name in enumerate(header)]
    dupes = sorted(name for name, n in Counter(header).items() if n > 1)
    if dupes:
        raise file_error(path, f"column names repeat in the header: {_names(dupes)}", line=1)
    end = reader.line_num
    rows = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise file_error(
                path, f"not valid CSV: {_csv_message(exc)}", line=reader.line_num
            ) from None
        end = reader.line_num
        # Popped before the blank check: a line of NUL bytes alone is bad, not blank.
        bad = [bad_lines.pop(n) for n in range(start, end + 1) if n in bad_lines]
        if bad:
            rows += 1
            yield Record(start, None, bad[0].model_copy(update={"line": start}))
            continue
        if not row or (len(row) == 1 and not row[0].strip() and len(header) > 1):
            continue  # blank line
        rows += 1
        if len(row) != len(header):
            msg = (
                f"line {start} has {len(row)} field{'s' if len(row) != 1 else ''}; the header has "
                f"{len(header)} ({_names(header)})"
            )
            yield issue_record(start, "ragged_row", msg)
            continue
        yield Record(start, dict(zip(header, row, strict=True)))
    if rows == 0:
        raise file_error(path, "the file has a header but no rows", line=1)


def _names(names: list[str], most: int = 10) -> str:
    shown = ", ".join(name[:50] for name in names[:most])
    return shown + (f", ... ({len(names) - most} more)" if len(names) > most else "")


def _csv_message(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        size = limits.size_text(limits.MAX_LINE_BYTES)
        return f"a field is longer than {size} (a quote left open?); loralab reads at most {size}"
    return str(exc)


def _guess_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


# What pyarrow raises on a damaged file besides its own errors (bad offsets, odd types).
_PARQUET_ERRORS = (OSError, ValueError, TypeError, OverflowError, IndexError, RecursionError)


def _iter_parquet(path: Path) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
    except (pa.ArrowException, *_PARQUET_ERRORS) as exc:
        raise file_error(
            path,
            f"not a readable Parquet file ({str(exc)[:300]})",
            fix="Export it again as Parquet, or upload JSONL or CSV.",
        ) from None
    try:
        if len(names) > limits.MAX_FIELDS:
            raise file_error(path, limits.too_wide_message("the file", len(names)))
        if any("\x00" in name for name in names):
            raise file_error(path, "a column name holds a NUL character")
        meta = parquet.metadata
        if meta.num_rows == 0:
            raise empty_file_error(path)
        _check_parquet_size(path, meta)
        number = 0
        try:
            for batch in parquet.iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    number += 1
                    yield Record(number, row)
        except (pa.ArrowException, *_PARQUET_ERRORS) as exc:
            raise file_error(
                path, f"cannot read row {number + 1} onwards ({str(exc)[:300]})"
            ) from None
    finally:
        parquet.close()


def _check_parquet_size(path: Path, meta) -> None:
    # Parquet compresses: a small file can claim billions of rows of one repeated value, or a
    # value of gigabytes. Rows stay within one per byte of file (as in any text format), and
    # what a row group holds uncompressed within MAX_ROW_GROUP_BYTES.
    size = path.stat().st_size
    if meta.num_rows > max(limits.MIN_PARQUET_ROWS, size):
        raise file_error(
            path,
            f"the file holds {meta.num_rows} rows in {size} bytes; loralab reads at most one "
            "row per byte of Parquet (is it a compression bomb?)",
        )
    for i in range(meta.num_row_groups):
        held = meta.row_group(i).total_byte_size
        if held > limits.MAX_ROW_GROUP_BYTES:
            cap = limits.size_text(limits.MAX_ROW_GROUP_BYTES)
            raise file_error(
                path,
                f"row group {i + 1} holds {held} bytes uncompressed; loralab reads at most "
                f"{cap} per row group",
                fix="Write the file again with smaller row groups (row_group_size).",
            )


READERS: dict[str, Callable[[Path], Iterator[Record]]] = {
    "json": iter_json,
    "jsonl": _iter_jsonl,
    "csv": _iter_csv,
    "parquet": _iter_parquet,
}
