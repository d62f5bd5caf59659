"""Reading a ``.json`` file: a top-level array streamed element by element, or an object that
holds the rows (``{"data": [...]}``), read whole up to ``limits.MAX_WHOLE_JSON_BYTES``.

Rows over the depth, size and width limits are reported with the limit; an element so deep that
its end cannot be found, or longer than the row limit, stops the file with its line.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

from loralab.data import limits
from loralab.data.encodings import SAVE_AS_UTF8, encoding_hint, open_utf8, refuse_binary
from loralab.data.records import Record, empty_file_error, file_error, issue_record

__all__ = ["iter_json"]

_CHUNK = 1 << 20
# Keys under which a JSON object may hold its rows: {"data": [...]} or {"train": [...], ...}.
_WRAPPER_KEYS = ("data", "rows", "examples", "records")


def iter_json(path: Path) -> Iterator[Record]:
    """The rows of a JSON file (see the module docstring); raises ``DataError`` naming the line."""
    refuse_binary(path, "JSON text")
    stream = _JsonStream(path)
    try:
        first = stream.peek_char()
        if first is None:
            raise empty_file_error(path)
        if first == "[":
            yield from stream.iter_array()
            return
    finally:
        stream.close()  # also when the reader stops early (a preview)
    if first != "{":
        raise file_error(path, "expected a JSON array of objects, or an object holding one")
    yield from _iter_json_object(path)


def _iter_json_object(path: Path) -> Iterator[Record]:
    # A wrapper object ({"data": [...]}) is read whole: such files are small in practice.
    size = path.stat().st_size
    if size > limits.MAX_WHOLE_JSON_BYTES:
        cap = limits.size_text(limits.MAX_WHOLE_JSON_BYTES)
        raise file_error(
            path,
            f"a JSON file holding one object is read whole, and this one is larger than {cap}; "
            f"loralab reads at most {cap} that way",
            fix="Save the rows as a JSON array or as JSONL: those are read row by row.",
        )
    with open_utf8(path) as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        hint = encoding_hint(raw[exc.start : exc.start + 64])
        raise file_error(path, f"not valid UTF-8 ({hint})", line=line, fix=SAVE_AS_UTF8) from None
    # The rows sit two levels down ({"data": [row, ...]}), so the object may be two deeper.
    if limits.too_deep(text, extra=2):
        raise file_error(path, limits.too_deep_message("a row of the JSON object"))
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise file_error(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise file_error(path, limits.too_deep_message("a row of the JSON object")) from None
    except ValueError as exc:
        raise file_error(path, f"not valid JSON: {exc}") from None
    rows = _rows_in_object(doc)
    if rows is None:
        keys = ", ".join(k[:50] for k in list(doc)[:10]) or "none"
        raise file_error(
            path,
            f"a JSON object with keys {keys} is not a table",
            fix='Use an array of rows, or {"data": [...]}.',
        )
    if not rows:
        raise empty_file_error(path)
    odd_escape = limits.has_odd_escape(text)
    for number, row in enumerate(rows, 1):
        yield _json_row(number, row, odd_escape)


def _rows_in_object(doc: dict) -> list | None:
    for key in _WRAPPER_KEYS:
        if isinstance(doc.get(key), list):
            return doc[key]
    lists = [v for v in doc.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    # {"train": [...]} and other single-table objects; several tables need an explicit choice.
    return lists[0] if len(lists) == 1 else None


def _json_row(number: int, row: object, odd_escape: bool) -> Record:
    if isinstance(row, dict):
        return limits.checked_row(number, row, f"row {number}", odd_escape)
    msg = f"row {number} is {type(row).__name__}, not an object with named fields"
    return issue_record(number, "not_object", msg)


class _JsonStream:
    """Reads a top-level JSON array one element at a time with ``raw_decode``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open_utf8(path)
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.lines_before = 0  # newlines in text already dropped from the buffer
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        # Reading as much again as is buffered keeps re-parsing a long element linear.
        chunk = self.file.read(max(_CHUNK, min(len(self.buf) - self.pos, limits.MAX_LINE_BYTES)))
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = self._line(len(self.buf)) + chunk[: exc.start].count(b"\n")
            hint = encoding_hint(chunk[exc.start : exc.start + 64])
            raise file_error(
                self.path, f"not valid UTF-8 ({hint})", line=line, fix=SAVE_AS_UTF8
            ) from None
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

    def _maybe_cut(self, exc: json.JSONDecodeError) -> bool:
        # Whether the element may just continue past the buffer: an open string, or an error
        # in the last few characters (a literal, number or escape cut in two).
        return exc.msg.startswith("Unterminated string") or exc.pos >= len(self.buf) - 16

    def _decode(self, decoder: json.JSONDecoder, number: int) -> tuple[object, int]:
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._maybe_cut(exc):
                    if len(self.buf) - self.pos > limits.MAX_LINE_BYTES:
                        where = self._line(self.pos)
                        raise file_error(
                            self.path, limits.too_long_message(f"row {number}"), line=where
                        ) from None
                    if self._fill():
                        continue
                raise file_error(
                    self.path, f"not valid JSON: {exc.msg}", line=self._line(exc.pos)
                ) from None
            except RecursionError:
                raise file_error(
                    self.path, limits.too_deep_message(f"row {number}"), line=self._line(self.pos)
                ) from None
            except ValueError as exc:  # an integer longer than Python converts
                raise file_error(
                    self.path, f"not valid JSON: {exc}", line=self._line(self.pos)
                ) from None
            # A number or literal cut at the end of the buffer may still be incomplete.
            if end == len(self.buf) and self._fill():
                continue
            return value, end

    def iter_array(self) -> Iterator[Record]:
        decoder = json.JSONDecoder()
        self.pos += 1  # "["
        number = 0
        if self.peek_char() == "]":
            raise empty_file_error(self.path)
        while True:
            if self.peek_char() is None:
                raise file_error(
                    self.path, "the JSON array is not closed", line=self._line(self.pos)
                )
            number += 1
            start = self.pos
            value, end = self._decode(decoder, number)
            if end - start > limits.MAX_LINE_BYTES:
                record = issue_record(number, "too_long", limits.too_long_message(f"row {number}"))
            elif limits.too_deep(self.buf, start, end):
                record = issue_record(number, "too_deep", limits.too_deep_message(f"row {number}"))
            elif isinstance(value, dict):
                odd = limits.has_odd_escape(self.buf, start, end)
                record = limits.checked_row(number, value, f"row {number}", odd)
            else:
                record = _json_row(number, value, False)
            self.pos = end
            self._compact()
            yield record
            sep = self.peek_char()
            if sep == ",":
                self.pos += 1
                continue
            if sep == "]":
                return
            raise file_error(
                self.path,
                "expected ',' or ']' after an array element",
                line=self._line(self.pos),
            )
