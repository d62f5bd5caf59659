"""What a source yields (``Record``) and what a bad row reports (``RowIssue``, ``RowError``).

A row problem is data, not a crash: sources yield it beside the good rows, converters raise
``RowError`` and the validator turns both into ``RowIssue`` entries with their line numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from loralab.errors import DataError, FieldProblem

__all__ = [
    "Record",
    "RowError",
    "RowIssue",
    "describe_value",
    "empty_file_error",
    "file_error",
    "issue_record",
]


class RowIssue(BaseModel):
    """One problem with one row.

    ``line`` is the file line (JSONL, CSV) or the 1-based row number (JSON array, Parquet, hub);
    ``loc`` the column or message field (``conversations[2].value``), ``None`` for the whole row;
    ``code`` a stable identifier (``bad_json``, ``bad_encoding``, ``not_object``,
    ``ragged_row``, ``missing_field``, ``empty_value``, ``wrong_type``, ``unknown_role``,
    ``no_assistant_turn``, ``template_error``, ``duplicate``, role-order codes ...).
    """

    line: int
    loc: str | None = None
    code: str
    message: str

    def to_problem(self) -> FieldProblem:
        return FieldProblem(loc=self.loc or "row", message=self.message, line=self.line)


@dataclass(frozen=True, slots=True)
class Record:
    """A row read from a source: its 1-based ``line`` and its ``data``; unpacks as
    ``line, data = record``.

    ``data`` is ``None`` and ``issue`` set when the row could not be read (a broken JSON line,
    bytes that are not UTF-8, a ragged CSV row); sources only yield such records when asked to.
    """

    line: int
    data: dict[str, Any] | None
    issue: RowIssue | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.line, self.data))


def issue_record(line: int, code: str, message: str) -> Record:
    """The ``Record`` of a row that cannot be read: no data, and its ``RowIssue``."""
    return Record(line, None, RowIssue(line=line, code=code, message=message))


def file_error(path: Path, message: str, *, line: int | None = None, fix: str | None = None):
    """The ``DataError`` of a file that cannot be read at all, naming the file and line."""
    where = f"{path.name}, line {line}" if line is not None else path.name
    return DataError(
        f"{where}: {message}",
        fix=fix,
        problems=[FieldProblem(loc="file", message=message, line=line)],
    )


def empty_file_error(path: Path) -> DataError:
    """The ``DataError`` of a file without rows."""
    return file_error(path, "the file is empty", fix="Upload a file with at least one row.")


class RowError(DataError):
    """A row that cannot become a canonical row; ``loc`` names the field, ``reason`` the code."""

    def __init__(self, loc: str | None, reason: str, message: str) -> None:
        super().__init__(message, problems=[FieldProblem(loc=loc or "row", message=message)])
        self.loc = loc
        self.reason = reason

    def issue(self, line: int) -> RowIssue:
        """This error as a ``RowIssue`` at ``line``."""
        return RowIssue(line=line, loc=self.loc, code=self.reason, message=self.message)


def describe_value(value: Any) -> str:
    """A short description of a JSON-like value's type for messages ("a number", "an array")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
