"""The UI's API client is generated from ``web/openapi.json``; it must be the server's schema."""

from __future__ import annotations

import json
from pathlib import Path

from loralab.api.app import create_app
from loralab.config import Settings

SNAPSHOT = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


def test_web_openapi_snapshot_matches_the_server(tmp_path):
    app = create_app(Settings(data_dir=tmp_path))
    try:
        live = app.openapi()
    finally:
        app.state.db.dispose()
    saved = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert saved == live, (
        "web/openapi.json is out of date with the server; regenerate the typed client: "
        "cd web && npm run api  (then commit web/openapi.json and web/src/api/schema.d.ts)"
    )
