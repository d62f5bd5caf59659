"""The single-page web UI, served from the package's ``static/`` folder.

Files in the folder are served as they are; any other GET outside ``/api`` and ``/v1`` gets
``index.html`` so the UI's client-side routes (``/jobs/abc``) survive a reload. Before the UI
is built, a small page points to the API docs instead.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

__all__ = ["STATIC_DIR", "install_api_docs", "spa_response"]

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
_API_PREFIXES = ("/api/", "/v1/")

_PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loralab</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>loralab</h1>
<p>The server is running. The web UI is not built into this install yet
(run <code>make web</code>).</p>
<p>Meanwhile the REST API is documented at <a href="/docs">/docs</a>.</p>
</body></html>
"""


def _static_file(path: str, root: Path) -> Path | None:
    relative = path.lstrip("/")
    if not relative or "\x00" in relative:
        return None
    try:
        candidate = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def spa_response(request: Request, root: Path | None = None) -> Response | None:
    """The UI's response for a GET that matched no route, or None for an API path.

    ``root`` defaults to the app's ``state.static_dir`` (``STATIC_DIR`` unless a test sets it).
    """
    path = request.url.path
    if path in ("/api", "/v1") or path.startswith(_API_PREFIXES):
        return None
    if root is None:
        state = getattr(request.scope.get("app"), "state", None)
        root = getattr(state, "static_dir", None) or STATIC_DIR
    root = root.resolve()
    found = _static_file(path, root)
    if found is not None:
        return FileResponse(found)
    index = root / "index.html"
    if index.is_file():
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
    return HTMLResponse(_PLACEHOLDER)


def install_api_docs(app) -> None:
    """``/docs``: Swagger UI from the UI build's own copy, so it works without the internet."""
    from fastapi.openapi.docs import get_swagger_ui_html

    @app.get("/docs", include_in_schema=False)
    async def api_docs(request: Request) -> HTMLResponse:
        root = getattr(request.app.state, "static_dir", None) or STATIC_DIR
        local = (root / "swagger" / "swagger-ui-bundle.js").is_file()
        assets = (
            {
                "swagger_js_url": "/swagger/swagger-ui-bundle.js",
                "swagger_css_url": "/swagger/swagger-ui.css",
            }
            if local
            else {}  # not built yet: FastAPI's default CDN copy
        )
        return get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title="loralab API",
            swagger_favicon_url="/favicon.svg",
            **assets,
        )
