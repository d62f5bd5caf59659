"""The HTTP surface: the FastAPI app factory, routes (one file per resource), dependencies,
problem+json handlers, security middleware and the static single-page UI."""

from loralab.api.app import create_app

__all__ = ["create_app"]
