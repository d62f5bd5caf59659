"""Try a model: resolve the reference, ask the inference worker, shape the answer.

The playground (``/api/inference``) and the OpenAI-compatible routes (``/v1``) both come here.
A model reference is ``model:<id>``, ``adapter:<id>`` or a hub id (``jobs.refs``), and for
``/v1`` also the unique name of a registered model or adapter. The worker runs in its own
process (``jobs.inference_process``); nothing here imports torch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from loralab.config import Settings, StrictModel
from loralab.errors import FieldProblem, InvalidRequest, LoralabError
from loralab.inference import MAX_STOP_STRINGS, MAX_TOKENS_LIMIT, ModelTarget, SamplingParams
from loralab.jobs.inference_process import (
    InferenceProcess,
    choose_inference_device,
    device_facts,
    list_gpus,
    unavailable,
)
from loralab.jobs.refs import resolve_model_ref
from loralab.store import AdapterRow, Database, ModelRow, reading

__all__ = [
    "ChatMessage",
    "InferenceRequest",
    "InferenceResult",
    "InferenceStatus",
    "LoadedBase",
    "inference_status",
    "model_names",
    "run_inference",
    "stream_inference",
]

_TIMEOUT = httpx.Timeout(None, connect=5.0)  # a long answer on a CPU takes minutes
_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _http() -> httpx.Client:
    """One client for every call to the worker: building one (its TLS context, its pool) per
    request cost more than a short answer takes."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=_TIMEOUT)
        return _client


class ChatMessage(StrictModel):
    """One turn of the conversation."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = Field(max_length=200_000)


class InferenceRequest(StrictModel):
    """A prompt (or a conversation) for a model, and how to sample the answer."""

    model: str = Field(
        min_length=1,
        max_length=1100,
        description="model:<id>, adapter:<id> or a hub id.",
        examples=["adapter:3f2a9c", "model:1b7e04"],
    )
    messages: list[ChatMessage] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="A conversation, rendered with the model's chat template.",
    )
    prompt: str | None = Field(
        default=None, min_length=1, max_length=200_000, description="Raw text, no template."
    )
    temperature: float = Field(default=0.0, ge=0, le=2, description="0 is greedy.")
    top_p: float = Field(default=1.0, gt=0, le=1)
    top_k: int = Field(default=0, ge=0, le=100_000, description="0 is off.")
    max_tokens: int = Field(default=256, ge=1, le=MAX_TOKENS_LIMIT)
    stop: list[str] = Field(
        default_factory=list,
        max_length=MAX_STOP_STRINGS,
        description="The answer ends before the first of these.",
    )
    seed: int | None = Field(default=None, ge=0, lt=2**63, description="Repeatable sampling.")
    stream: bool = Field(default=False, description="Server-sent events, a delta at a time.")

    @model_validator(mode="after")
    def _one_input(self) -> InferenceRequest:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("send either messages or a prompt")
        if any(not s or len(s) > 200 for s in self.stop):
            raise ValueError("each stop string must be 1 to 200 characters")
        return self

    def sampling(self) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_tokens=self.max_tokens,
            stop=tuple(self.stop),
            seed=self.seed,
        )


class InferenceResult(BaseModel):
    """An answer and how fast it came."""

    text: str
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float = Field(description="Request to the last token (seconds).")
    ttft_s: float = Field(description="Request to the first token (seconds).")
    tokens_per_second: float = Field(description="The decode rate after the first token.")
    model: str = Field(description="The reference asked for.")
    base_model: str
    adapter_id: str | None
    label: str
    device: str


class LoadedBase(BaseModel):
    """A base model held in the worker's memory, with the adapters loaded onto it."""

    base: str
    adapters: list[str]
    bytes: int


class InferenceStatus(BaseModel):
    """The inference worker: whether it runs, where, and what it holds."""

    running: bool
    device: str = Field(description="cpu or cuda:0 (the one it uses, or would use now).")
    device_reason: str
    loaded: list[LoadedBase]
    budget_bytes: int | None


# -- references ------------------------------------------------------------------------------------


def _unique_names(session) -> dict[str, str]:
    """name -> reference, for names only one model or adapter has."""
    seen: dict[str, list[str]] = {}
    for row in session.scalars(select(AdapterRow)):
        seen.setdefault(row.name, []).append(f"adapter:{row.id}")
    for row in session.scalars(select(ModelRow).where(ModelRow.kind == "local")):
        seen.setdefault(row.name, []).append(f"model:{row.id}")
    return {name: refs[0] for name, refs in seen.items() if len(refs) == 1}


def model_names(db: Database) -> list[tuple[str, int]]:
    """Every id the OpenAI routes accept, with its creation time (Unix seconds)."""
    out: list[tuple[str, int]] = []
    with reading(db) as session:
        created: dict[str, int] = {}
        for row in session.scalars(select(ModelRow).where(ModelRow.kind == "local")):
            created[f"model:{row.id}"] = int(row.created_at.timestamp())
        for row in session.scalars(select(AdapterRow)):
            created[f"adapter:{row.id}"] = int(row.created_at.timestamp())
        out.extend(created.items())
        for name, ref in sorted(_unique_names(session).items()):
            if name not in created:
                out.append((name, created[ref]))
    return out


def resolve_target(db: Database, ref: str, *, loc: str = "model", by_name: bool = False):
    """The ``ModelTarget`` a reference names.

    Raises:
        InvalidRequest: 422 ``invalid_request`` at ``loc`` for an unknown reference.
    """
    with reading(db) as session:
        if by_name and not ref.startswith(("model:", "adapter:")):
            ref = _unique_names(session).get(ref, ref)
        found, problems = resolve_model_ref(session, ref, loc=loc)
        if found is None:
            raise InvalidRequest(f"Unknown model '{ref[:200]}'.", problems=problems)
        label = ref
        if found.adapter_id is not None:
            row = session.get(AdapterRow, found.adapter_id)
            label = row.name if row is not None else ref
        elif found.model_id is not None:
            row = session.get(ModelRow, found.model_id)
            label = row.name if row is not None else ref
        return ModelTarget(
            base=found.load,
            adapter_id=found.adapter_id,
            adapter_path=found.adapter_path,
            label=label,
        )


# -- calling the worker ----------------------------------------------------------------------------


def _payload(target: ModelTarget, body: InferenceRequest, stream: bool) -> dict[str, Any]:
    return {
        "target": target.to_dict(),
        "messages": [m.model_dump() for m in body.messages] if body.messages else None,
        "prompt": body.prompt,
        "params": body.sampling().to_dict(),
        "stream": stream,
    }


def _worker_error(status: int, doc: dict[str, Any]) -> LoralabError:
    problem = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(problem, dict):
        return unavailable(f"The inference worker answered {status}.")
    problems = [
        FieldProblem(loc=e.get("loc", "body"), message=e.get("message", ""), fix=e.get("fix"))
        for e in problem.get("errors") or []
        if isinstance(e, dict)
    ]
    return LoralabError(
        str(problem.get("detail", "The inference worker refused the request.")),
        code=str(problem.get("code", "inference_failed")),
        status=int(problem.get("status", status)),
        fix=problem.get("fix"),
        problems=problems,
    )


def _gone(process: InferenceProcess) -> LoralabError:
    process.mark_dead()
    return unavailable(
        "The inference worker stopped answering (it may have run out of memory).",
        fix="Send the request again: a new worker starts. Its log is in "
        "<data dir>/inference/worker.log.",
    )


def _result(gen: dict[str, Any], target: ModelTarget, ref: str) -> InferenceResult:
    return InferenceResult(
        text=gen["text"],
        finish_reason=gen["finish_reason"],
        prompt_tokens=gen["prompt_tokens"],
        completion_tokens=gen["completion_tokens"],
        latency_s=gen["latency_s"],
        ttft_s=gen["ttft_s"],
        tokens_per_second=gen["tokens_per_second"],
        model=ref,
        base_model=target.base,
        adapter_id=target.adapter_id,
        label=target.label,
        device=gen["device"],
    )


def _worker(db: Database, process: InferenceProcess) -> tuple[str, dict[str, str]]:
    busy, queued = device_facts(db)
    return process.ensure(busy, queued)


def run_inference(
    db: Database, process: InferenceProcess, body: InferenceRequest, *, by_name: bool = False
) -> InferenceResult:
    """Answer ``body`` in one piece.

    Raises:
        InvalidRequest: an unknown reference (loc ``model``), bad messages, a bad prompt.
        ModelError: the model or adapter does not load.
        LoralabError: 503 ``inference_unavailable`` when the worker cannot start or died.
    """
    target = resolve_target(db, body.model, by_name=by_name)
    url, headers = _worker(db, process)
    try:
        reply = _http().post(f"{url}/generate", json=_payload(target, body, False), headers=headers)
    except httpx.TransportError:
        raise _gone(process) from None
    doc = reply.json()
    if reply.status_code != 200:
        raise _worker_error(reply.status_code, doc)
    return _result(doc["result"], target, body.model)


def stream_inference(
    db: Database, process: InferenceProcess, body: InferenceRequest, *, by_name: bool = False
) -> Iterator[dict[str, Any]]:
    """Start an answer and return its events: ``{"delta": str}``..., then ``{"done": True,
    "result": InferenceResult}``, or ``{"error": problem}`` if it fails part way.

    Everything that can be refused (the reference, the messages, loading the model) is checked
    before this returns, so those errors raise here as in ``run_inference``.
    """
    target = resolve_target(db, body.model, by_name=by_name)
    url, headers = _worker(db, process)
    client = _http()
    request = client.build_request(
        "POST", f"{url}/generate", json=_payload(target, body, True), headers=headers
    )
    try:
        reply = client.send(request, stream=True)
    except httpx.TransportError:
        raise _gone(process) from None
    if reply.status_code != 200:
        doc = _json(reply.read())
        reply.close()
        raise _worker_error(reply.status_code, doc)
    lines = reply.iter_lines()
    try:
        first = _json(next(lines, "{}"))
    except httpx.TransportError:
        first = {}
    if not first.get("started"):
        reply.close()
        raise _gone(process)
    return _events(reply, lines, target, body.model, process)


def _json(raw: bytes | str) -> dict[str, Any]:
    import json

    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _events(reply, lines, target, ref, process) -> Iterator[dict[str, Any]]:
    try:
        for line in lines:
            doc = _json(line)
            if "delta" in doc:
                yield {"delta": doc["delta"]}
            elif "result" in doc:
                yield {"done": True, "result": _result(doc["result"], target, ref)}
                return
            elif "error" in doc:
                yield {"error": doc["error"]}
                return
        yield {"error": _gone(process).to_problem()}
    except httpx.TransportError:
        yield {"error": _gone(process).to_problem()}
    finally:
        reply.close()


def inference_status(db: Database, settings: Settings, process: InferenceProcess):
    """Whether the worker runs, on which device (or would now), and the bases it holds."""
    health = process.health()
    budget = settings.inference_memory_mb * 2**20 if settings.inference_memory_mb else None
    if health is not None:
        return InferenceStatus(
            running=True,
            device=health["device"],
            device_reason=health.get("device_reason") or "",
            loaded=[
                LoadedBase(**{k: b[k] for k in ("base", "adapters", "bytes")})
                for b in health["loaded"]
            ],
            budget_bytes=health.get("budget_bytes"),
        )
    import os

    busy, queued = device_facts(db)
    choice = choose_inference_device(
        list_gpus(cuda_visible=os.environ.get("CUDA_VISIBLE_DEVICES")), busy, queued
    )
    return InferenceStatus(
        running=False,
        device=choice.device,
        device_reason=choice.reason,
        loaded=[],
        budget_bytes=budget,
    )
