"""Persistence: SQLAlchemy tables, sessions, query functions and Alembic migrations."""

from loralab.store.db import Database, as_utc, new_id, normalize_url, reading
from loralab.store.migrate import migrate
from loralab.store.tables import (
    AdapterRow,
    Base,
    ConfigRow,
    DatasetRow,
    EventRow,
    JobRow,
    ModelRow,
    utcnow,
)

__all__ = [
    "AdapterRow",
    "Base",
    "ConfigRow",
    "Database",
    "DatasetRow",
    "EventRow",
    "JobRow",
    "ModelRow",
    "as_utc",
    "migrate",
    "new_id",
    "normalize_url",
    "reading",
    "utcnow",
]
