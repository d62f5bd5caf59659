"""``loralab serve``: the web server (REST API, WebSockets and the UI) on uvicorn.

Binds 127.0.0.1:7860 by default; no token is needed there. Bound to any other address, a
token is required (``LORALAB_TOKEN``, or a new random one) and printed with the URL to open.
With ``--tls-cert`` and ``--tls-key`` it serves https and wss. See docs/security.md.
"""

from __future__ import annotations

import functools
import logging
import re
import socket
from pathlib import Path

import typer

from loralab.errors import ConfigError, FieldProblem, LoralabError

_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s]*")


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


def _url(host: str, port: int, scheme: str = "http") -> str:
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"{scheme}://{shown}:{port}"


class _RedactToken(logging.Filter):
    """Keeps the token of the first page load (``/?token=...``) out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1<redacted>", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def _settings(**given):
    """``Settings`` from the options and the environment; a bad value is a clear error."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from loralab.config import Settings

    fix = "Correct the option or the LORALAB_* environment variable named above."
    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except SettingsError as exc:  # a variable that does not parse, e.g. a list that is not JSON
        raise ConfigError(
            f"The server settings are not valid: {exc}.",
            code="invalid_settings",
            fix=fix + " Lists are JSON, e.g. LORALAB_CORS_ORIGINS='[\"https://ui.example\"]'.",
        ) from None
    except ValidationError as exc:
        problems = [
            FieldProblem(
                loc=f"LORALAB_{str(err['loc'][0]).upper()}" if err["loc"] else "settings",
                message=err["msg"].removeprefix("Value error, "),
            )
            for err in exc.errors()
        ]
        raise ConfigError(
            "The server settings are not valid.",
            code="invalid_settings",
            problems=problems,
            fix=fix,
        ) from None


def _check_tls_files(cert: Path, key: Path) -> None:
    import ssl

    for path in (cert, key):
        if not path.is_file():
            raise LoralabError(
                f"TLS file {path} does not exist.",
                code="tls_file_missing",
                fix="Give the PEM certificate with --tls-cert and its key with --tls-key.",
            )
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        raise LoralabError(
            f"Cannot use {cert} with {key}: {exc}.",
            code="invalid_tls",
            fix="Give a PEM certificate (chain) and the PEM private key that belongs to it.",
        ) from None


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
    tls_cert: Path | None = typer.Option(
        None,
        "--tls-cert",
        help="PEM certificate (chain): serve https and wss [or LORALAB_TLS_CERT].",
    ),
    tls_key: Path | None = typer.Option(
        None, "--tls-key", help="The certificate's PEM private key [or LORALAB_TLS_KEY]."
    ),
    allow_remote_code: bool = typer.Option(
        False,
        "--allow-remote-code",
        help="Accept model.trust_remote_code: true from API requests: it runs the model "
        "repository's Python code on this machine [or LORALAB_ALLOW_REMOTE_CODE].",
        show_default=False,
    ),
) -> None:
    """Start the web server: the UI, the REST API (docs at /docs) and the job scheduler."""
    import uvicorn

    from loralab.api.app import create_app
    from loralab.api.security import resolve_token

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        tls_cert=tls_cert,
        tls_key=tls_key,
        allow_remote_code=allow_remote_code or None,  # off: as LORALAB_ALLOW_REMOTE_CODE says
    )
    if settings.tls_cert and settings.tls_key:
        _check_tls_files(settings.tls_cert, settings.tls_key)
    token = resolve_token(settings)
    if token and not settings.token:
        settings = settings.model_copy(update={"token": token})
    sock = _bind(settings.host, settings.port)
    bound_port = sock.getsockname()[1]
    url = _url(settings.host, bound_port, settings.scheme)
    # Plain echo, never wrapped: people copy these lines and tests read them.
    typer.echo(f"loralab {_version()} serving {url}")
    if token:
        typer.echo(f"open {url}/?token={token}")
        typer.echo("API clients send: Authorization: Bearer <the token above>")
    if not settings.is_loopback and settings.scheme == "http":
        typer.echo(
            "warning: plain http off loopback; the token crosses the network readable. Use "
            "--tls-cert/--tls-key or a TLS proxy (docs/security.md)."
        )
    if settings.allow_remote_code:
        typer.echo("warning: remote code allowed: API requests may run a model's own Python code")
    typer.echo(f"data dir {settings.data_dir}; API docs at {url}/docs")
    config = uvicorn.Config(
        functools.partial(create_app, settings),
        factory=True,
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=5,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
    )
    logging.getLogger("uvicorn.access").addFilter(_RedactToken())
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown; that is a normal stop
    finally:
        sock.close()


def _version() -> str:
    import loralab

    return loralab.__version__
