"""Host allow-list, token check and Origin check, for HTTP and WebSocket alike.

- **Host**: 127.0.0.1, localhost, ::1, the bind host, ``settings.allowed_hosts`` and, when bound
  to a wildcard address (0.0.0.0 or ::), this machine's names and addresses. Any other ``Host``
  header gets 400 ``invalid_host`` (this stops DNS-rebinding pages).
- **Token**: needed on every route but ``/api/health`` when the server is bound to a non-loopback
  address, or whenever ``settings.token`` is set. It is accepted as ``Authorization: Bearer
  <token>`` or as the ``loralab_token`` cookie. ``?token=<token>`` is taken only when a page
  (not ``/api/*``, ``/v1/*`` or a WebSocket) is opened in the browser: it sets that cookie
  (HttpOnly, SameSite=Strict, Secure over https) and redirects to the same URL without the
  token, so the UI and its WebSockets never carry it in a URL. Anywhere else ``?token=`` is
  refused with 401 ``token_in_url``: URLs end up in access logs, proxies and browser history.
- **Body size**: request bodies other than uploads (which stream under ``max_upload_mb``) are
  JSON of a few kB; more than ``MAX_BODY_BYTES`` gets 413 ``too_large``.
- **Origin**: a WebSocket handshake, and any HTTP request that can change state (not GET, HEAD
  or OPTIONS), carrying an ``Origin`` header must come from the same host and port or from one
  of ``settings.cors_origins``; others get 403 ``forbidden_origin``. Clients that send no Origin
  (curl, SDKs) are not browsers and are judged by the token alone.
"""

from __future__ import annotations

import secrets
import socket
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from loralab.api.problems import problem_response
from loralab.config import Settings

__all__ = ["TOKEN_COOKIE", "SecurityMiddleware", "allowed_host_names", "resolve_token"]

TOKEN_COOKIE = "loralab_token"
PUBLIC_PATHS = frozenset({"/api/health"})
API_PREFIXES = ("/api/", "/v1/")  # never take ?token=: only the cookie or the header
STREAMED_PATHS = frozenset({"/api/datasets/upload"})  # these enforce their own limit
MAX_BODY_BYTES = 2 * 1024 * 1024
_MAX_MB = MAX_BODY_BYTES // (1024 * 1024)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def resolve_token(settings: Settings) -> str | None:
    """The token the server requires: ``settings.token``, a new one off loopback, else None."""
    if settings.token:
        return settings.token
    if not settings.is_loopback:
        return secrets.token_urlsafe(32)
    return None


def _machine_names() -> set[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        import psutil

        for addrs in psutil.net_if_addrs().values():
            for addr in addrs:
                if addr.family in (socket.AF_INET, socket.AF_INET6):
                    names.add(addr.address.split("%", 1)[0])
    except Exception:  # pragma: no cover - psutil without permission to read interfaces
        pass
    return names


def allowed_host_names(settings: Settings) -> frozenset[str]:
    """Host names (lower case, no port) the server answers to."""
    names = {"127.0.0.1", "localhost", "::1", settings.host}
    names.update(settings.allowed_hosts)
    if settings.host in _WILDCARDS:
        names.update(_machine_names())
    return frozenset(n.lower().strip("[]") for n in names if n and n not in _WILDCARDS)


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:7860
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.rsplit(":", 1)[0]
    return host


class SecurityMiddleware:
    """Pure ASGI middleware, so it guards WebSocket handshakes as well as HTTP requests."""

    def __init__(self, app: ASGIApp, *, settings: Settings, token: str | None) -> None:
        self.app = app
        self.token = token
        self.hosts = allowed_host_names(settings)
        self.origins = frozenset(o.rstrip("/").lower() for o in settings.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        response = self._check(scope, headers)
        if response is None and scope["type"] == "http" and scope["path"] not in STREAMED_PATHS:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_BODY_BYTES:
                response = _too_large()
            else:
                receive = _limited(receive)
        if response is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            # Closing before accept makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008, "reason": response})
        else:
            await response(scope, receive, send)

    def _check(self, scope: Scope, headers: Headers):
        """None to let the request through; else a response (HTTP) or a close reason (WS)."""
        is_ws = scope["type"] == "websocket"
        host = headers.get("host", "")
        if _host_name(host) not in self.hosts:
            return _deny(
                is_ws,
                400,
                "invalid_host",
                f"Host '{host[:100]}' is not allowed.",
                "Open the server by its address, or add the name to LORALAB_ALLOWED_HOSTS.",
            )
        method = scope.get("method", "GET")
        origin = headers.get("origin")
        checks_origin = origin is not None and (is_ws or method not in SAFE_METHODS)
        if checks_origin and not self._origin_ok(origin, host):
            return _deny(
                is_ws,
                403,
                "forbidden_origin",
                f"Requests from origin '{origin[:100]}' are not allowed.",
                "Add the origin to LORALAB_CORS_ORIGINS if it should be.",
            )
        if self.token is None or scope["path"] in PUBLIC_PATHS:
            return None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query:
            is_page = not is_ws and method in ("GET", "HEAD") and not _is_api(scope["path"])
            if is_page and self._matches(query["token"]):
                return self._set_cookie_redirect(scope)
            if not is_page:
                return _deny(
                    is_ws,
                    401,
                    "token_in_url",
                    "The token is not accepted in the URL of API and WebSocket requests: URLs "
                    "end up in logs and browser history.",
                    "Send 'Authorization: Bearer <token>', or open the UI once with ?token=... "
                    "so the browser keeps it in a cookie.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        if self._matches(_bearer(headers)) or self._matches(_cookie(headers)):
            return None
        return _deny(
            is_ws,
            401,
            "unauthorized",
            "This server needs its access token.",
            "Open the URL printed by `loralab serve` (it ends in ?token=...), or send "
            "'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _matches(self, candidate: str | None) -> bool:
        assert self.token is not None
        return bool(candidate) and secrets.compare_digest(
            candidate.encode("utf-8", "replace"), self.token.encode("utf-8")
        )

    def _origin_ok(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        return bool(parts.netloc) and parts.netloc == host.strip().lower()

    def _set_cookie_redirect(self, scope: Scope) -> RedirectResponse:
        query = [
            (k, v)
            for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
            if k != "token"
        ]
        # One leading slash: "//host" would be a protocol-relative redirect off this server.
        target = "/" + scope["path"].lstrip("/") + (f"?{urlencode(query)}" if query else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            TOKEN_COOKIE,
            self.token or "",
            httponly=True,
            samesite="strict",
            secure=scope.get("scheme") == "https",
        )
        return response


def _is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES) or path in ("/api", "/v1")


def _too_large():
    return problem_response(
        413,
        "too_large",
        f"The request body is over {_MAX_MB} MB.",
        fix="Upload data files through /api/datasets/upload.",
    )


def _limited(receive: Receive) -> Receive:
    """``receive`` that raises TooLarge (413) once a body without Content-Length grows too big."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                # An HTTPException passes FastAPI's body parsing (anything else becomes a 400);
                # the problem handler answers it as 413 too_large.
                raise HTTPException(413, f"The request body is over {_MAX_MB} MB.")
        return message

    return wrapped


def _deny(
    is_ws: bool,
    status: int,
    code: str,
    detail: str,
    fix: str,
    headers: dict[str, str] | None = None,
):
    if is_ws:
        return code  # the close reason of a refused handshake
    return problem_response(status, code, detail, fix=fix, headers=headers)


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _cookie(headers: Headers) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get(TOKEN_COOKIE)
    return morsel.value if morsel else None
