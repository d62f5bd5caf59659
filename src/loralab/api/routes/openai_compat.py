"""``/v1``: the OpenAI-compatible API (models, chat completions, completions), streamed or not.

Any OpenAI client works with ``base_url="http://host:port/v1"``; the model is ``model:<id>``,
``adapter:<id>``, a registered model's or adapter's unique name, or a hub id. Errors are
OpenAI's shape, ``{"error": {message, type, param, code}}``. The token rule is the one of
``/api`` (``Authorization: Bearer <token>`` when the server is bound off loopback).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from loralab.api.deps import DbDep
from loralab.api.routes.inference import InferenceDep
from loralab.errors import LoralabError
from loralab.inference import MAX_TOKENS_LIMIT
from loralab.services import inference as service
from loralab.services.inference import ChatMessage, InferenceRequest, InferenceResult

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["openai"])


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


class _TextPart(BaseModel):
    type: Literal["text"]
    text: str


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls...: not used here
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_TextPart] | None = None


class _Common(BaseModel):
    # OpenAI's own fields that change nothing here are accepted at their neutral values.
    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1, max_length=1100)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    top_k: int = Field(default=0, ge=0, le=100_000, description="An extra: 0 is off.")
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: Literal[1] = 1
    user: str | None = None
    presence_penalty: Literal[0] = 0
    frequency_penalty: Literal[0] = 0
    logprobs: Literal[False] | None = None


class _ChatBody(_Common):
    messages: list[_Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_LIMIT)


class _CompletionBody(_Common):
    prompt: str | list[str]
    max_tokens: int | None = Field(default=16, ge=1, le=MAX_TOKENS_LIMIT)  # OpenAI's default
    echo: Literal[False] = False


def _error(status: int, message: str, code: str, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 401:
        kind = "authentication_error"
    doc = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JSONResponse(doc, status_code=status)


def _from_loralab(exc: LoralabError) -> JSONResponse:
    param = exc.problems[0].loc if exc.problems else None
    message = str(exc)
    if param == "model":
        return _error(404, message, "model_not_found", "model")
    return _error(400 if exc.status == 422 else exc.status, message, exc.code, param)


def _from_validation(exc: ValidationError) -> JSONResponse:
    first = exc.errors()[0]
    param = ".".join(str(p) for p in first.get("loc", ())) or None
    parts = [
        f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg')}"
        for e in exc.errors()
    ]
    return _error(400, "; ".join(parts)[:1000], "invalid_request", param)


def _text(message: _Message) -> str:
    if isinstance(message.content, list):
        return "".join(part.text for part in message.content)
    return message.content or ""


def _request(body: _Common, **inputs: Any) -> InferenceRequest:
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    max_tokens = getattr(body, "max_completion_tokens", None) or body.max_tokens
    return InferenceRequest(
        model=body.model,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        max_tokens=max_tokens or 256,
        stop=stop,
        seed=body.seed,
        **inputs,
    )


def _usage(result: InferenceResult) -> dict[str, int]:
    total = result.prompt_tokens + result.completion_tokens
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": total,
    }


def _timing(result: InferenceResult) -> dict[str, Any]:
    keys = ("latency_s", "ttft_s", "tokens_per_second", "device", "base_model", "adapter_id")
    return {k: getattr(result, k) for k in keys}


def _answer(db, process, body: _Common, chat: bool, request: InferenceRequest):
    head = {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": body.model,
    }
    try:
        if body.stream:
            events = service.stream_inference(db, process, request, by_name=True)
        else:
            result = service.run_inference(db, process, request, by_name=True)
    except LoralabError as exc:
        return _from_loralab(exc)
    if not body.stream:
        if chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": result.text}}
        else:
            choice = {"index": 0, "text": result.text}
        choice.update(finish_reason=result.finish_reason, logprobs=None)
        doc = {**head, "choices": [choice], "usage": _usage(result), "loralab": _timing(result)}
        return JSONResponse(doc)
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(
        _chunks(head, events, chat, usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _chunks(head: dict, events: Iterator[dict], chat: bool, usage: bool) -> Iterator[bytes]:
    head = {**head, "object": "chat.completion.chunk" if chat else "text_completion"}
    extra = {"usage": None} if usage else {}

    def chunk(piece: dict | None, finish: str | None = None) -> bytes:
        if chat:
            choice = {"index": 0, "delta": piece or {}, "finish_reason": finish}
        else:
            choice = {
                "index": 0,
                "text": (piece or {}).get("content", ""),
                "finish_reason": finish,
                "logprobs": None,
            }
        return _data({**head, "choices": [choice], **extra})

    if chat:
        yield chunk({"role": "assistant", "content": ""})
    for event in events:
        if "delta" in event:
            yield chunk({"content": event["delta"]})
        elif "result" in event:
            result: InferenceResult = event["result"]
            yield chunk(None, result.finish_reason)
            if usage:
                yield _data(
                    {**head, "choices": [], "usage": _usage(result), "loralab": _timing(result)}
                )
        elif "error" in event:
            problem = event["error"]
            yield _data(
                {
                    "error": {
                        "message": problem.get("detail", "generation failed"),
                        "type": "server_error",
                        "param": None,
                        "code": problem.get("code"),
                    }
                }
            )
    yield b"data: [DONE]\n\n"


def _data(doc: dict) -> bytes:
    return f"data: {json.dumps(doc)}\n\n".encode()


@router.get("/models")
def list_models(db: DbDep) -> dict[str, Any]:
    """The models and adapters to use as `model`: `model:<id>`, `adapter:<id>`, unique names."""
    data = [
        {"id": name, "object": "model", "created": created, "owned_by": "loralab"}
        for name, created in service.model_names(db)
    ]
    return {"object": "list", "data": data}


@router.post("/chat/completions")
def chat_completions(db: DbDep, process: InferenceDep, body: dict[str, Any] = Body()):
    """OpenAI chat completions: `messages` through the model's chat template."""
    try:
        parsed = _ChatBody.model_validate(body)
        messages = [
            ChatMessage(role="system" if m.role == "developer" else m.role, content=_text(m))
            for m in parsed.messages
        ]
        request = _request(parsed, messages=messages)
    except ValidationError as exc:
        return _from_validation(exc)
    return _answer(db, process, parsed, True, request)


@router.post("/completions")
def completions(db: DbDep, process: InferenceDep, body: dict[str, Any] = Body()):
    """OpenAI completions: a raw `prompt` (one), no template."""
    try:
        parsed = _CompletionBody.model_validate(body)
        prompts = [parsed.prompt] if isinstance(parsed.prompt, str) else parsed.prompt
        if len(prompts) != 1:
            return _error(400, "Send one prompt per request.", "invalid_request", "prompt")
        request = _request(parsed, prompt=prompts[0])
    except ValidationError as exc:
        return _from_validation(exc)
    return _answer(db, process, parsed, False, request)
