"""RFC 9457 ``application/problem+json`` for every error the API answers.

- ``LoralabError``: its own status and ``code`` (``to_problem()``).
- Request validation: 422 with ``errors[].loc`` as dotted field paths (``config.lora.r``);
  the code is ``invalid_config`` when the body holds a RunConfig, else ``invalid_request``.
  RunConfig's cross-field rules arrive here too (its model validator), each at its own field
  and with its ``fix``.
- Starlette's HTTP errors (unknown route, wrong method): a problem with a code per status.
  A GET for an unknown path outside ``/api`` falls through to the single-page app instead.
- ``OSError`` for a full disk (``ENOSPC``, ``EDQUOT``): 507 ``insufficient_storage``.
- Anything else: 500 ``internal_error``, logged with its traceback, nothing leaked.
"""

from __future__ import annotations

import logging
import types
import typing
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from loralab.config import RunConfig
from loralab.diskspace import is_disk_full, storage_error
from loralab.errors import LoralabError

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem_response"]

log = logging.getLogger("loralab.api")

PROBLEM_JSON = "application/problem+json"

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
    507: "insufficient_storage",
}


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    fix: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response built from parts (for middleware and handlers)."""
    doc: dict[str, Any] = {
        "type": f"https://loralab.dev/errors/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if fix:
        doc["fix"] = fix
    if errors:
        doc["errors"] = errors
    return JSONResponse(doc, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(parts: tuple[Any, ...] | list[Any]) -> str:
    parts = list(parts)
    if parts and parts[0] == "body":
        parts = parts[1:]
    # RunConfig already leaves the training method's tag out ("train.learning_rate").
    return ".".join(str(p) for p in parts) or "body"


def _holds_run_config(tp: Any, seen: set[int] | None = None) -> bool:
    seen = seen if seen is not None else set()
    if id(tp) in seen:
        return False
    seen.add(id(tp))
    if tp is RunConfig:
        return True
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return any(_holds_run_config(f.annotation, seen) for f in tp.model_fields.values())
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType or origin is typing.Annotated:
        return any(_holds_run_config(a, seen) for a in typing.get_args(tp))
    return False


def _route_takes_run_config(request: Request) -> bool:
    route = request.scope.get("route")
    body = getattr(route, "body_field", None)
    if body is None:
        return False
    cached = getattr(route, "_loralab_run_config_body", None)
    if cached is None:
        cached = _holds_run_config(body.field_info.annotation)
        route._loralab_run_config_body = cached  # type: ignore[union-attr]
    return cached


def _message(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    return msg if len(msg) <= 500 else msg[:500] + "..."


def _error_item(err: dict[str, Any]) -> dict[str, Any]:
    item = {"loc": _loc(err.get("loc", ())), "message": _message(err)}
    fix = (err.get("ctx") or {}).get("fix")
    if isinstance(fix, str) and fix:
        item["fix"] = fix
    return item


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_error_item(err) for err in exc.errors()]
    if _route_takes_run_config(request):
        code, detail = "invalid_config", f"The run config has {len(errors)} problem(s)."
    else:
        code, detail = "invalid_request", f"The request has {len(errors)} problem(s)."
    return problem_response(422, code, detail, errors=errors)


async def _on_loralab_error(_request: Request, exc: LoralabError) -> JSONResponse:
    return JSONResponse(exc.to_problem(), status_code=exc.status, media_type=PROBLEM_JSON)


async def _on_http_error(request: Request, exc: StarletteHTTPException):
    if exc.status_code == 404 and request.method in ("GET", "HEAD"):
        from loralab.api.static import spa_response

        page = spa_response(request)
        if page is not None:
            return page
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 404:
        detail = f"No such endpoint: {request.method} {request.url.path}"
    return problem_response(exc.status_code, code, detail, headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        "internal_error",
        "An unexpected error occurred. The details are in the server log.",
    )


async def _on_os_error(request: Request, exc: OSError) -> JSONResponse:
    if not is_disk_full(exc):
        return await _on_unexpected(request, exc)
    log.error("disk full on %s %s", request.method, request.url.path, exc_info=exc)
    error = storage_error(exc, what=f"answer {request.method} {request.url.path}")
    return JSONResponse(error.to_problem(), status_code=error.status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(LoralabError, _on_loralab_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(OSError, _on_os_error)
    app.add_exception_handler(Exception, _on_unexpected)
