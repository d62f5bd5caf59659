"""Streaming readers for local files: JSON (arrays element by element), JSONL, CSV, Parquet.

Each yields ``Record``s; a row that cannot be read comes as a ``Record`` with an ``issue``, a file
that cannot be read at all raises ``DataError`` naming the file and line.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from loralab.data.records import Record, RowIssue
from loralab.errors import DataError, FieldProblem

__all__ = ["READERS"]

_CHUNK = 1 << 20
# Keys under which a JSON object may hold its rows: {"data": [...]} or {"train": [...], ...}.
_WRAPPER_KEYS = ("data", "rows", "examples", "records")


def _file_error(path: Path, message: str, *, line: int | None = None, fix: str | None = None):
    where = f"{path.name}, line {line}" if line is not None else path.name
    return DataError(
        f"{where}: {message}",
        fix=fix,
        problems=[FieldProblem(loc="file", message=message, line=line)],
    )


def _empty(path: Path) -> DataError:
    return _file_error(path, "the file is empty", fix="Upload a file with at least one row.")


def _encoding_issue(line: int, raw: bytes, exc: UnicodeDecodeError) -> RowIssue:
    byte = raw[exc.start : exc.start + 1].hex()
    return RowIssue(
        line=line,
        code="bad_encoding",
        message=(
            f"line {line} is not valid UTF-8 (byte 0x{byte} at column {exc.start + 1}); the file "
            "looks like Latin-1 or Windows-1252. Save it as UTF-8."
        ),
    )


def _iter_jsonl(path: Path) -> Iterator[Record]:
    seen = False
    with path.open("rb") as f:
        for line, raw in enumerate(f, 1):
            if line == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                seen = True
                yield Record(line, None, _encoding_issue(line, raw, exc))
                continue
            if not text.strip():
                continue
            seen = True
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                msg = f"line {line} is not valid JSON ({exc.msg}, column {exc.colno})"
                yield Record(line, None, RowIssue(line=line, code="bad_json", message=msg))
                continue
            if not isinstance(obj, dict):
                kind = "an array" if isinstance(obj, list) else type(obj).__name__
                msg = f"line {line} holds {kind}, not a JSON object with named fields"
                yield Record(line, None, RowIssue(line=line, code="not_object", message=msg))
                continue
            yield Record(line, obj)
    if not seen:
        raise _empty(path)


def _iter_json(path: Path) -> Iterator[Record]:
    stream = _JsonStream(path)
    try:
        first = stream.peek_char()
        if first is None:
            raise _empty(path)
        if first == "[":
            yield from stream.iter_array()
            return
    finally:
        stream.close()  # also when the reader stops early (a preview)
    if first != "{":
        raise _file_error(path, "expected a JSON array of objects, or an object holding one")
    # A wrapper object ({"data": [...]}) is read whole: such files are small in practice.
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise _file_error(path, f"not valid UTF-8 (byte at offset {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise _file_error(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from exc
    rows = _rows_in_object(doc)
    if rows is None:
        keys = ", ".join(list(doc)[:10]) or "none"
        raise _file_error(
            path,
            f"a JSON object with keys {keys} is not a table",
            fix='Use an array of rows, or {"data": [...]}.',
        )
    if not rows:
        raise _empty(path)
    for number, row in enumerate(rows, 1):
        yield _json_row(number, row)


def _rows_in_object(doc: dict) -> list | None:
    for key in _WRAPPER_KEYS:
        if isinstance(doc.get(key), list):
            return doc[key]
    lists = [v for v in doc.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    # {"train": [...]} and other single-table objects; several tables need an explicit choice.
    return lists[0] if len(lists) == 1 else None


def _json_row(number: int, row: object) -> Record:
    if isinstance(row, dict):
        return Record(number, row)
    msg = f"row {number} is {type(row).__name__}, not an object with named fields"
    return Record(number, None, RowIssue(line=number, code="not_object", message=msg))


class _JsonStream:
    """Reads a top-level JSON array one element at a time with ``raw_decode``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = path.open("rb")
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buf = ""
        self.pos = 0
        self.lines_before = 0  # newlines in text already dropped from the buffer
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.file.read(_CHUNK)
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self._line(len(self.buf)) + chunk[: exc.start].count(b"\n")
            raise _file_error(self.path, "not valid UTF-8 (save it as UTF-8)", line=line) from exc
        self.eof = not chunk
        self.buf += text
        return bool(chunk)

    def _compact(self) -> None:
        # Drop what has been parsed, keeping count of its lines for error messages.
        if self.pos > _CHUNK:
            self.lines_before += self.buf.count("\n", 0, self.pos)
            self.buf = self.buf[self.pos :]
            self.pos = 0

    def close(self) -> None:
        self.file.close()

    def _line(self, pos: int) -> int:
        return self.lines_before + self.buf.count("\n", 0, pos) + 1

    def peek_char(self) -> str | None:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos].isspace():
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return None

    def iter_array(self) -> Iterator[Record]:
        decoder = json.JSONDecoder()
        self.pos += 1  # "["
        number = 0
        if self.peek_char() == "]":
            raise _empty(self.path)
        while True:
            if self.peek_char() is None:
                raise _file_error(
                    self.path, "the JSON array is not closed", line=self._line(self.pos)
                )
            while True:
                try:
                    value, end = decoder.raw_decode(self.buf, self.pos)
                except json.JSONDecodeError as exc:
                    if self._fill():
                        continue
                    raise _file_error(
                        self.path, f"not valid JSON: {exc.msg}", line=self._line(exc.pos)
                    ) from exc
                # A number or literal cut at the end of the buffer may still be incomplete.
                if end == len(self.buf) and self._fill():
                    continue
                break
            self.pos = end
            self._compact()
            number += 1
            yield _json_row(number, value)
            sep = self.peek_char()
            if sep == ",":
                self.pos += 1
                continue
            if sep == "]":
                return
            raise _file_error(
                self.path,
                "expected ',' or ']' after an array element",
                line=self._line(self.pos),
            )


def _iter_csv(path: Path) -> Iterator[Record]:
    # Long documents exceed csv's default 128 KiB field limit.
    csv.field_size_limit(1 << 30)
    bad_lines: dict[int, RowIssue] = {}

    def lines() -> Iterator[str]:
        # Decoding line by line lets a bad byte be reported with its line, and the rest read.
        with path.open("rb") as f:
            for number, raw in enumerate(f, 1):
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad_lines[number] = _encoding_issue(number, raw, exc)
                    yield raw.decode("utf-8", errors="replace")

    source = lines()
    first = next(source, None)
    while first is not None and not first.strip():
        first = next(source, None)
    if first is None:
        raise _empty(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _guess_delimiter(first)

    def all_lines() -> Iterator[str]:
        yield first
        yield from source

    reader = csv.reader(all_lines(), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as exc:
        raise _file_error(path, f"the header is not valid CSV: {exc}", line=1) from exc
    if 1 in bad_lines:
        raise _file_error(path, bad_lines[1].message, line=1)
    header = [name or f"column_{i + 1}" for i, name in enumerate(header)]
    dupes = sorted({name for name in header if header.count(name) > 1})
    if dupes:
        raise _file_error(path, f"column names repeat in the header: {', '.join(dupes)}", line=1)
    end = reader.line_num
    rows = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _file_error(path, f"not valid CSV: {exc}", line=reader.line_num) from exc
        end = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip() and len(header) > 1):
            continue  # blank line
        rows += 1
        bad = [bad_lines.pop(n) for n in range(start, end + 1) if n in bad_lines]
        if bad:
            yield Record(start, None, bad[0].model_copy(update={"line": start}))
            continue
        if len(row) != len(header):
            msg = (
                f"line {start} has {len(row)} field{'s' if len(row) != 1 else ''}; the header has "
                f"{len(header)} ({', '.join(header)})"
            )
            yield Record(start, None, RowIssue(line=start, code="ragged_row", message=msg))
            continue
        yield Record(start, dict(zip(header, row, strict=True)))
    if rows == 0:
        raise _file_error(path, "the file has a header but no rows", line=1)


def _guess_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _iter_parquet(path: Path) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise _file_error(
            path,
            f"not a readable Parquet file ({exc})",
            fix="Export it again as Parquet, or upload JSONL or CSV.",
        ) from exc
    if parquet.metadata.num_rows == 0:
        raise _empty(path)
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield Record(number, row)
    except (pa.ArrowException, OSError) as exc:
        raise _file_error(path, f"cannot read row {number + 1} onwards ({exc})") from exc
    finally:
        parquet.close()


READERS: dict[str, Callable[[Path], Iterator[Record]]] = {
    "json": _iter_json,
    "jsonl": _iter_jsonl,
    "csv": _iter_csv,
    "parquet": _iter_parquet,
}
