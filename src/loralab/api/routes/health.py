"""``/api/health``: liveness, the one route that never needs a token."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

import loralab

router = APIRouter(prefix="/api", tags=["system"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness check: answers as soon as the server is up. Needs no token."""
    return Health(version=loralab.__version__)
