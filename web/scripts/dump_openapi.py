"""Write the server's OpenAPI schema to web/openapi.json (the input of `npm run gen:api`).

Run with the project's venv:  .venv/bin/python web/scripts/dump_openapi.py [web/openapi.json]
The app is built against a throwaway data dir; nothing is served.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def main() -> None:
    out = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[1] / "openapi.json"
    )
    from loralab.api.app import create_app
    from loralab.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(data_dir=Path(tmp)))
        schema = app.openapi()
        app.state.db.dispose()
    out.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(schema.get('paths', {}))} paths)")


if __name__ == "__main__":
    main()
