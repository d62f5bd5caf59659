"""FastAPI dependencies: the process's settings and database, kept on ``app.state``.

They take an ``HTTPConnection``, so HTTP and WebSocket routes can both use them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from loralab.config import Settings
from loralab.store import Database

__all__ = ["DbDep", "SettingsDep", "get_db", "get_settings"]


def get_settings(conn: HTTPConnection) -> Settings:
    """The settings ``create_app`` was built with."""
    return conn.app.state.settings


def get_db(conn: HTTPConnection) -> Database:
    """The process's one Database (engine and session factories)."""
    return conn.app.state.db


SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
