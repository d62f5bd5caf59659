"""``loralab serve``: the web server (REST API, WebSockets and the UI) on uvicorn.

Binds 127.0.0.1:7860 by default; no token is needed there. Bound to any other address, a
token is required (``LORALAB_TOKEN``, or a new random one) and printed with the URL to open.
"""

from __future__ import annotations

import functools
import socket
from pathlib import Path

import typer

from loralab.errors import LoralabError


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the root app."""
    app.command("serve")(serve_command)


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket now, so a busy port is a clear error and port 0 is resolved."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host in ("::", ""):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
    except OSError as exc:
        raise LoralabError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
            code="cannot_bind",
            fix="Pick another port with --port, or stop the program using this one.",
        ) from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}"


def serve_command(
    host: str | None = typer.Option(
        None, "--host", help="Address to bind [default: 127.0.0.1, or LORALAB_HOST]."
    ),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Port [default: 7860, or LORALAB_PORT]."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Database, uploads and runs [default: ~/.loralab]."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level."),
) -> None:
    """Start the web server: the UI, the REST API (docs at /docs) and the job scheduler."""
    import uvicorn

    from loralab.api.app import create_app
    from loralab.api.security import resolve_token
    from loralab.config import Settings

    given = {"host": host, "port": port, "data_dir": data_dir}
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    token = resolve_token(settings)
    if token and not settings.token:
        settings = settings.model_copy(update={"token": token})
    sock = _bind(settings.host, settings.port)
    bound_port = sock.getsockname()[1]
    url = _url(settings.host, bound_port)
    # Plain echo, never wrapped: people copy these lines and tests read them.
    typer.echo(f"loralab {_version()} serving {url}")
    if token:
        typer.echo(f"open {url}/?token={token}")
        typer.echo("API clients send: Authorization: Bearer <the token above>")
    typer.echo(f"data dir {settings.data_dir}; API docs at {url}/docs")
    config = uvicorn.Config(
        functools.partial(create_app, settings),
        factory=True,
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown; that is a normal stop
    finally:
        sock.close()


def _version() -> str:
    import loralab

    return loralab.__version__
