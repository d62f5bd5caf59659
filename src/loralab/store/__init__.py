"""Persistence: SQLAlchemy tables, sessions, query functions and Alembic migrations."""

from loralab.store.db import Database, normalize_url
from loralab.store.migrate import migrate
from loralab.store.tables import Base, ConfigRow, DatasetRow, EventRow, JobRow, ModelRow, utcnow

__all__ = [
    "Base",
    "ConfigRow",
    "Database",
    "DatasetRow",
    "EventRow",
    "JobRow",
    "ModelRow",
    "migrate",
    "normalize_url",
    "utcnow",
]
