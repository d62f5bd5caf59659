"""The loralab error hierarchy.

Every error a person can act on carries a stable ``code``, an HTTP ``status``, a ``message``
saying what is wrong and where, and, where there is one, a ``fix``. The API turns them into
RFC 9457 ``application/problem+json``; the CLI prints ``error[code]: message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Busy",
    "ConfigError",
    "Conflict",
    "DataError",
    "FieldProblem",
    "HubUnavailable",
    "InsufficientStorage",
    "InvalidRequest",
    "LoralabError",
    "ModelError",
    "NotFound",
    "TooLarge",
    "Unauthorized",
    "Unsupported",
]


@dataclass(frozen=True)
class FieldProblem:
    """One problem at one place: a config field path (``lora.r``), a file line, a column."""

    loc: str
    message: str
    line: int | None = None
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"loc": self.loc, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        if self.fix:
            out["fix"] = self.fix
        return out


class LoralabError(Exception):
    """Base of all errors meant for a person. Subclasses set ``code`` and ``status``."""

    code = "loralab_error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        problems: list[FieldProblem] | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.problems = list(problems or [])
        if code:
            self.code = code
        if status:
            self.status = status

    def __str__(self) -> str:
        text = self.message
        for p in self.problems:
            where = f"{p.loc}" + (f" (line {p.line})" if p.line is not None else "")
            text += f"\n  - {where}: {p.message}"
            if p.fix:
                text += f" (fix: {p.fix})"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text

    def to_problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        doc: dict[str, Any] = {
            "type": f"https://loralab.dev/errors/{self.code}",
            "title": self.code.replace("_", " "),
            "status": self.status,
            "detail": self.message,
            "code": self.code,
        }
        if self.fix:
            doc["fix"] = self.fix
        if self.problems:
            doc["errors"] = [p.to_dict() for p in self.problems]
        return doc


class ConfigError(LoralabError):
    """A RunConfig (YAML, request body or ``--set``) is invalid; ``problems`` has every field."""

    code = "invalid_config"
    status = 422


class DataError(LoralabError):
    """A dataset cannot be read or converted; ``problems`` name the line and field."""

    code = "invalid_data"
    status = 422


class InvalidRequest(LoralabError):
    """A value in the request cannot be stored or looked up (e.g. a number out of range)."""

    code = "invalid_request"
    status = 422


class ModelError(LoralabError):
    """A model cannot be found, loaded or built."""

    code = "model_error"
    status = 422


class HubUnavailable(LoralabError):
    """The Hugging Face hub cannot be reached and the thing asked for is not cached."""

    code = "hub_unavailable"
    status = 503


class NotFound(LoralabError):
    """The resource does not exist."""

    code = "not_found"
    status = 404


class Conflict(LoralabError):
    """The request clashes with the resource's current state (e.g. deleting a dataset in use)."""

    code = "conflict"
    status = 409


class TooLarge(LoralabError):
    """An upload or request is over its size limit."""

    code = "too_large"
    status = 413


class Unauthorized(LoralabError):
    """A token is missing or wrong."""

    code = "unauthorized"
    status = 401


class Unsupported(LoralabError):
    """Valid input that this machine or version cannot do (e.g. 4-bit without CUDA)."""

    code = "unsupported"
    status = 422


class Busy(LoralabError):
    """A resource is busy; try again later."""

    code = "busy"
    status = 503


class InsufficientStorage(LoralabError):
    """Not enough free disk for a write (an upload, an export, a checkpoint); says how much."""

    code = "insufficient_storage"
    status = 507
