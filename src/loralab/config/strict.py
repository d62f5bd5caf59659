"""``StrictModel``: the base of every schema a user fills in (RunConfig sections, API bodies).

Unknown keys are errors (``extra="forbid"``), and no string anywhere in the model may hold a NUL
character: PostgreSQL text refuses it, most tools truncate at it, and no real name, path or prompt
contains one. Refusing it here gives the user a 422 at the field instead of a database error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["StrictModel", "find_nul"]


def find_nul(value: Any) -> str | None:
    """Where a NUL character hides in ``value`` (``""`` for the value itself, ``"[2]"``,
    ``".key"``), or None when there is none. Walks strings, lists, tuples and dict keys/values."""
    if isinstance(value, str):
        return "" if "\x00" in value else None
    if isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            where = find_nul(item)
            if where is not None:
                return f"[{i}]{where}"
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                return f".{key!r}"
            where = find_nul(item)
            if where is not None:
                return f".{key}{where}"
    return None


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        where = find_nul(value)
        if where is not None:
            suffix = f" (at {where.lstrip('.')})" if where else ""
            raise ValueError(f"must not contain a NUL (\\x00) character{suffix}; remove it")
        return value
