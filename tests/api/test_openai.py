"""``/v1`` with the official ``openai`` SDK against a real ``loralab serve`` process, and the
token rule on ``/v1`` off loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import psutil
import pytest

from loralab.config import Settings

MESSAGES = [{"role": "user", "content": "Tell me about the sea."}]


@pytest.fixture(scope="module")
def served(tiny_model: Path, tmp_path_factory):
    """A real server on a free loopback port with the tiny model and an adapter registered."""
    from inference.support import make_adapter
    from jobs.jobs_support import ServerProcess

    lora = make_adapter(tiny_model, tmp_path_factory.mktemp("v1-lora"), seed=4)
    root = tmp_path_factory.mktemp("v1-server")
    server = ServerProcess(Settings(data_dir=root / "data"), root / "server.log").start()
    model = httpx.post(f"{server.url}/api/models", json={"path": str(tiny_model), "name": "tiny"})
    model_ref = f"model:{model.json()['id']}"
    adapter = httpx.post(
        f"{server.url}/api/adapters/register",
        json={"path": str(lora), "base_model": model_ref, "name": "sea-lora"},
    )
    assert adapter.status_code == 201, adapter.text
    server.model_ref, server.adapter_ref = model_ref, f"adapter:{adapter.json()['id']}"
    server.sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    yield server
    server.stop()


def _greedy(served, model: str, **extra) -> str:
    body = {"model": model, "messages": MESSAGES, "max_tokens": 10, **extra}
    return httpx.post(f"{served.url}/api/inference", json=body, timeout=60).json()["text"]


@pytest.mark.slow
def test_sdk_chat_answer_from_an_adapter_with_usage(served):
    answer = served.sdk.chat.completions.create(
        model=served.adapter_ref, messages=MESSAGES, max_tokens=10, temperature=0
    )
    [choice] = answer.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == _greedy(served, served.adapter_ref)
    assert choice.finish_reason in ("stop", "length")
    assert answer.model == served.adapter_ref
    assert answer.usage.completion_tokens <= 10
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.loralab["device"] == "cpu"  # our extra: timings and device


@pytest.mark.slow
def test_sdk_streamed_chat_with_include_usage(served):
    chunks = list(
        served.sdk.chat.completions.create(
            model="sea-lora",  # the adapter's unique name
            messages=MESSAGES,
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == _greedy(served, served.adapter_ref)
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    *_, finish, last = chunks
    assert finish.choices[0].finish_reason in ("stop", "length")
    assert last.choices == []
    assert last.usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.slow
def test_sdk_streamed_chat_without_usage_has_no_usage_chunk(served):
    chunks = list(
        served.sdk.chat.completions.create(
            model=served.model_ref, messages=MESSAGES, max_tokens=6, temperature=0, stream=True
        )
    )
    assert all(c.choices for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == _greedy(served, served.model_ref, max_tokens=6)


@pytest.mark.slow
def test_sdk_completions_streamed_and_not(served):
    whole = served.sdk.completions.create(
        model=served.adapter_ref, prompt="The sea is", max_tokens=8, temperature=0, seed=1
    )
    assert whole.choices[0].text
    assert whole.usage.completion_tokens <= 8
    parts = served.sdk.completions.create(
        model=served.adapter_ref, prompt="The sea is", max_tokens=8, temperature=0, stream=True
    )
    assert "".join(p.choices[0].text for p in parts) == whole.choices[0].text


@pytest.mark.slow
def test_sdk_lists_models_by_reference_and_name(served):
    ids = {m.id for m in served.sdk.models.list()}
    assert {served.model_ref, served.adapter_ref, "tiny", "sea-lora"} <= ids


@pytest.mark.slow
def test_sdk_errors_are_clear_and_the_server_stays_up(served):
    with pytest.raises(openai.NotFoundError) as unknown:
        served.sdk.chat.completions.create(model="adapter:nope", messages=MESSAGES)
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        served.sdk.chat.completions.create(model=served.adapter_ref, messages=MESSAGES, top_p=2)
    assert bad.value.param == "top_p"
    with pytest.raises(openai.BadRequestError):
        served.sdk.chat.completions.create(model=served.adapter_ref, messages=[])
    with pytest.raises(openai.BadRequestError):
        served.sdk.chat.completions.create(
            model=served.adapter_ref, messages=MESSAGES, stream=True, max_tokens=0
        )
    ok = served.sdk.chat.completions.create(
        model=served.adapter_ref, messages=MESSAGES, max_tokens=2
    )
    assert ok.choices[0].finish_reason in ("stop", "length")


@pytest.mark.slow
def test_the_inference_worker_stops_with_the_server(served):
    served.sdk.completions.create(model=served.model_ref, prompt="hi", max_tokens=2)
    workers = [
        p
        for p in psutil.Process(served.proc.pid).children(recursive=True)
        if "loralab.inference.worker" in " ".join(p.cmdline())
    ]
    assert len(workers) == 1
    served.stop()
    assert not workers[0].is_running() or workers[0].status() == psutil.STATUS_ZOMBIE


def test_v1_needs_the_token_off_loopback(make_client):
    client = make_client(host="0.0.0.0", token="s3cret-token")
    assert client.get("/v1/models").status_code == 401
    body = {"model": "adapter:x", "messages": MESSAGES}
    assert client.post("/v1/chat/completions", json=body).status_code == 401
    assert client.post("/v1/completions", json={"model": "x", "prompt": "hi"}).status_code == 401
    auth = {"Authorization": "Bearer s3cret-token"}
    models = client.get("/v1/models", headers=auth)
    assert models.status_code == 200
    assert models.json() == {"object": "list", "data": []}
    # With the token, a bad model is an OpenAI-style 404 (the worker is never started for it).
    missing = client.post("/v1/chat/completions", json=body, headers=auth)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"
    assert client.app.state.inference.pid is None
