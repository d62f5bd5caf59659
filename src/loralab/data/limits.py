"""How deep, how long and how wide a row may be, and the cheap checks that enforce it.

The readers check these before (or instead of) handing text to ``json``: Python's parser
recurses once per nesting level, a line without a newline would be read whole into memory, and
every later step walks a row's columns. A row over a limit is reported with the limit's number,
never a ``RecursionError`` or a hang. The limits are read at call time, so a test can lower them.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

from loralab.data.records import Record, issue_record

__all__ = [
    "MAX_DEPTH",
    "MAX_FIELDS",
    "MAX_LINE_BYTES",
    "MAX_ROW_GROUP_BYTES",
    "MAX_WHOLE_JSON_BYTES",
    "MIN_PARQUET_ROWS",
    "checked_row",
    "nesting_depth",
    "has_odd_escape",
    "row_problem",
    "size_text",
    "too_deep",
    "too_deep_message",
    "too_long_message",
    "too_wide_message",
]

MAX_DEPTH = 100
"""Nesting levels of arrays and objects in one row (the row's own object is level 1)."""
MAX_LINE_BYTES = 64 * 1024 * 1024
"""Bytes of one JSONL line, one element of a JSON array, one CSV line or field."""
MAX_WHOLE_JSON_BYTES = 256 * 1024 * 1024
"""Bytes of a JSON file that is one object ({"data": [...]}), which is read whole."""
MAX_FIELDS = 1000
"""Columns of one row (top-level keys of a JSON object, CSV columns, Parquet columns)."""
MAX_ROW_GROUP_BYTES = 1 << 30
"""Bytes a Parquet row group holds uncompressed (it is decompressed whole)."""
MIN_PARQUET_ROWS = 10_000
"""Rows a Parquet file may always hold; beyond that, at most one row per byte of file."""

# A JSON string, escapes included; an unclosed one runs to the end (so a match never fails and
# the regex never backtracks, whatever the input).
_STRING = re.compile(r'"[^"\\]*(?:\\.?[^"\\]*)*(?:"|\Z)', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}
# \u0000 and surrogate escapes: the only ways JSON text can hold what is not printable text.
_ODD_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def size_text(n: int) -> str:
    """A limit in bytes for messages: ``64 MB``, ``512 KB``, ``100 bytes``."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[]``/``{}`` in JSON ``text``, brackets inside strings left out."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(0, *accumulate(map(_DELTA.__getitem__, brackets)))


def too_deep(text: str, start: int = 0, end: int | None = None, *, extra: int = 0) -> bool:
    """Whether JSON ``text[start:end]`` nests deeper than ``MAX_DEPTH + extra`` levels.

    Counting the opening brackets first keeps this free for ordinary rows.
    """
    limit = MAX_DEPTH + extra
    end = len(text) if end is None else end
    if text.count("[", start, end) + text.count("{", start, end) <= limit:
        return False
    return nesting_depth(text[start:end]) > limit


def has_odd_escape(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether JSON ``text[start:end]`` spells ``\\u0000`` or a surrogate (see ``row_problem``)."""
    end = len(text) if end is None else end
    return text.find("\\u", start, end) >= 0 and _ODD_ESCAPE.search(text, start, end) is not None


def row_problem(row: object) -> str | None:
    """Why a decoded JSON row cannot be shown or stored, or None.

    JSON can spell an unpaired surrogate (``"\\ud800"``), which is not text and cannot be
    printed or sent as UTF-8, and NUL in a column name (``"\\u0000"``). Ask only for rows whose
    text ``has_odd_escape``.
    """
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "holds an unpaired UTF-16 surrogate escape (like \\ud800), which is not text"
    if isinstance(row, dict) and any("\x00" in key for key in row):
        return "has a column name holding a NUL character (\\u0000)"
    return None


def too_long_message(what: str) -> str:
    """``line 3 is longer than 64 MB; loralab reads at most 64 MB per row``."""
    size = size_text(MAX_LINE_BYTES)
    return f"{what} is longer than {size}; loralab reads at most {size} per row"


def too_deep_message(what: str) -> str:
    """``line 3 nests deeper than 100 levels; loralab reads at most 100``."""
    return f"{what} nests deeper than {MAX_DEPTH} levels; loralab reads at most {MAX_DEPTH}"


def too_wide_message(what: str, n: int) -> str:
    """``line 3 has 5000 columns; loralab reads at most 1000``."""
    return f"{what} has {n} columns; loralab reads at most {MAX_FIELDS}"


def checked_row(number: int, row: dict, what: str, odd_escape: bool) -> Record:
    """``row`` as a ``Record``, or the issue that it is too wide or holds what is not text.

    Args:
        number: its line or row number; ``what`` names it in messages ("line 3", "row 2").
        odd_escape: whether its JSON text ``has_odd_escape`` (only then is it looked into).
    """
    if len(row) > MAX_FIELDS:
        return issue_record(number, "too_wide", too_wide_message(what, len(row)))
    problem = row_problem(row) if odd_escape else None
    if problem is not None:
        return issue_record(number, "bad_encoding", f"{what} {problem}")
    return Record(number, row)
