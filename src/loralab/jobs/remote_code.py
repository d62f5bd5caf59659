"""Remote code only with the server's consent.

``model.trust_remote_code: true`` makes transformers import and run Python files from the
model's repository in the worker. From the API that is anyone who can reach the server running
code on it, so a request that asks for it is refused unless the server was started with
``--allow-remote-code`` (``LORALAB_ALLOW_REMOTE_CODE=true``). The API checks on submit and on
resume, and the worker checks again before it runs a job: one queued while the server allowed
it and started after a restart without the flag is refused there. ``loralab train`` runs on the
user's own machine and keeps the field as the YAML sets it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from loralab.config import Settings
from loralab.errors import ConfigError, FieldProblem

__all__ = ["FLAG", "refuse_remote_code"]

FLAG = "trust_remote_code"


def _flagged(value: Any, loc: tuple[str, ...]) -> Iterator[str]:
    """The dotted paths of every ``trust_remote_code`` set to true in a spec or a plain dict."""
    if isinstance(value, BaseModel):
        value = {name: getattr(value, name) for name in type(value).model_fields}
    if isinstance(value, dict):
        for key, item in value.items():
            if key == FLAG and item is True:
                yield ".".join((*loc, key))
            else:
                yield from _flagged(item, (*loc, str(key)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _flagged(item, (*loc, str(index)))


def refuse_remote_code(settings: Settings, spec: Any, *, loc: str = "config") -> None:
    """Raise unless the server allows remote code or ``spec`` asks for none.

    Args:
        settings: the server's settings (``allow_remote_code``).
        spec: a validated spec (any kind's pydantic model) or the config dict of a job row.
        loc: where the spec sits in the request, for ``errors[].loc``.

    Raises:
        ConfigError: 422 ``remote_code_not_allowed`` naming every flagged field.
    """
    if settings.allow_remote_code:
        return
    paths = list(_flagged(spec, (loc,) if loc else ()))
    if not paths:
        return
    fix = (
        "Start the server with --allow-remote-code (LORALAB_ALLOW_REMOTE_CODE=true) if you "
        "trust the model's code, or set model.trust_remote_code to false."
    )
    raise ConfigError(
        "model.trust_remote_code runs the model repository's Python code on this server, and "
        "this server does not allow it.",
        code="remote_code_not_allowed",
        problems=[
            FieldProblem(loc=path, message="needs a server started with --allow-remote-code")
            for path in paths
        ],
        fix=fix,
    )
