"""``/api/inference``: the playground's API; one answer, whole or streamed, and the status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection

from loralab.api.deps import DbDep, SettingsDep
from loralab.jobs.inference_process import InferenceProcess
from loralab.services import inference as service
from loralab.services.inference import InferenceRequest, InferenceResult, InferenceStatus

__all__ = ["InferenceDep", "router", "sse"]

router = APIRouter(prefix="/api/inference", tags=["inference"])


def get_inference(conn: HTTPConnection) -> InferenceProcess:
    """The server's inference worker (started on first use)."""
    return conn.app.state.inference


InferenceDep = Annotated[InferenceProcess, Depends(get_inference)]

_STREAM_DOC = {
    200: {
        "content": {"text/event-stream": {}},
        "description": 'With stream: `data: {"delta"}` lines, then `data: {"done": true, '
        '"result"}`; an error part way is `data: {"error": problem}`.',
    }
}


def sse(events: Iterator[dict[str, Any]]) -> StreamingResponse:
    """Server-sent events, one JSON document per event."""

    def body() -> Iterator[bytes]:
        for event in events:
            yield f"data: {json.dumps(event, default=_dump)}\n\n".encode()

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _dump(value: Any) -> Any:
    return value.model_dump() if hasattr(value, "model_dump") else str(value)


@router.post("", response_model=InferenceResult, responses=_STREAM_DOC)
def infer(body: InferenceRequest, db: DbDep, process: InferenceDep):
    """Answer a prompt or a conversation with a model or an adapter (streamed with `stream`)."""
    if body.stream:
        return sse(service.stream_inference(db, process, body))
    return service.run_inference(db, process, body)


@router.get("/status", response_model=InferenceStatus)
def status(db: DbDep, settings: SettingsDep, process: InferenceDep) -> InferenceStatus:
    """Whether the inference worker runs, its device and why, and the models it holds."""
    return service.inference_status(db, settings, process)
