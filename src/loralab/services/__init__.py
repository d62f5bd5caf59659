"""Use cases: what a user does (register a dataset, save a config, submit a job). No FastAPI,
no torch; errors are ``loralab.errors`` exceptions. Import the modules: ``services.datasets``,
``services.models``, ``services.configs``, ``services.system``, ``services.jobs``."""

from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["UtcDateTime"]


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time loralab stores is UTC.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]
"""A datetime that always carries its UTC offset in API responses."""
