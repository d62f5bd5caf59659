"""Fixtures for store tests: the same fresh SQLite / PostgreSQL databases as the API tests."""

from __future__ import annotations

from api.conftest import database_url, postgres_database

__all__ = ["database_url", "postgres_database"]
