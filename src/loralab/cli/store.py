"""What the commands that work on a data dir share: the ``--data-dir`` option and the store.

The store (SQLAlchemy and the migrations) is imported when a command opens it, so a command
that never does (``loralab models list``) does not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from loralab.config import Settings
    from loralab.store import Database

__all__ = ["DataDir", "open_store"]

DataDir = typer.Option(
    None, "--data-dir", help="The data dir to work on (default ~/.loralab, or LORALAB_DATA_DIR)."
)


@contextmanager
def open_store(data_dir: Path | None) -> Iterator[tuple[Settings, Database]]:
    """The data dir's settings and its migrated database, disposed of afterwards."""
    from loralab.config import Settings
    from loralab.store import Database, migrate

    settings = Settings(**({"data_dir": data_dir} if data_dir is not None else {}))
    db = Database(settings.resolved_database_url)
    try:
        migrate(db)
        yield settings, db
    finally:
        db.dispose()
