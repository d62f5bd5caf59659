"""``/api/inference`` against a real inference worker process, on SQLite and PostgreSQL.

One worker serves the whole module (put on each test's app), so the model loads once.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from loralab.config import Settings
from loralab.jobs.inference_process import InferenceProcess

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "Tell me about the sea."}]


@pytest.fixture(scope="module")
def lora(tiny_model: Path, tmp_path_factory) -> Path:
    from inference.support import make_adapter

    return make_adapter(tiny_model, tmp_path_factory.mktemp("api-lora"), seed=3)


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    process = InferenceProcess(Settings(data_dir=tmp_path_factory.mktemp("inference-worker")))
    yield process
    process.stop()


@pytest.fixture
def api(client, worker, tiny_model, lora):
    """A client whose app uses the module's worker, with the tiny model and an adapter."""
    client.app.state.inference = worker
    model = client.post("/api/models", json={"path": str(tiny_model), "name": "tiny"})
    assert model.status_code == 201, model.text
    client.model_ref = f"model:{model.json()['id']}"
    adapter = client.post(
        "/api/adapters/register",
        json={"path": str(lora), "base_model": client.model_ref, "name": "sea-lora"},
    )
    assert adapter.status_code == 201, adapter.text
    client.adapter_ref = f"adapter:{adapter.json()['id']}"
    return client


def _events(response) -> list[dict]:
    assert response.headers["content-type"].startswith("text/event-stream")
    return [
        json.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: ")
    ]


def test_an_adapter_answers_with_its_timings(api):
    body = {"model": api.adapter_ref, "messages": MESSAGES, "max_tokens": 8}
    reply = api.post("/api/inference", json=body)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["model"] == api.adapter_ref
    assert result["adapter_id"] == api.adapter_ref.removeprefix("adapter:")
    assert result["label"] == "sea-lora"
    assert result["device"] == "cpu"
    assert 0 < result["ttft_s"] <= result["latency_s"]
    assert result["tokens_per_second"] > 0
    assert 0 < result["completion_tokens"] <= 8
    base = api.post("/api/inference", json={**body, "model": api.model_ref}).json()
    assert base["adapter_id"] is None and base["label"] == "tiny"
    assert base["text"] != result["text"]


def test_a_streamed_answer_is_deltas_then_the_result(api):
    body = {"model": api.adapter_ref, "messages": MESSAGES, "max_tokens": 10, "stream": True}
    events = _events(api.post("/api/inference", json=body))
    deltas = [e["delta"] for e in events if "delta" in e]
    done = events[-1]
    assert done["done"] is True
    assert len(deltas) > 1
    assert "".join(deltas) == done["result"]["text"]
    whole = api.post("/api/inference", json={**body, "stream": False}).json()
    assert whole["text"] == done["result"]["text"]


def test_a_raw_prompt_with_a_stop_string(api):
    body = {"model": api.adapter_ref, "prompt": "The sea is", "max_tokens": 12}
    text = api.post("/api/inference", json=body).json()["text"]
    stop = text[3:6]
    cut = api.post("/api/inference", json={**body, "stop": [stop]}).json()
    assert cut["text"] == text[: text.find(stop)]
    assert cut["finish_reason"] == "stop"


@pytest.mark.parametrize(
    "change, loc",
    [
        ({"model": "adapter:nope"}, "model"),
        ({"model": "model:nope"}, "model"),
        ({"model": "../etc/passwd"}, "model"),
        ({"top_p": 2}, "top_p"),
        ({"temperature": -1}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"prompt": "and a prompt"}, "body"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ],
)
def test_bad_input_is_a_422_and_the_worker_stays_up(api, worker, change, loc):
    body = {"model": api.adapter_ref, "messages": MESSAGES, "max_tokens": 4, **change}
    for stream in (False, True):
        reply = api.post("/api/inference", json={**body, "stream": stream})
        assert reply.status_code == 422, reply.text
        problem = reply.json()
        assert problem["code"] in ("invalid_request", "invalid_config")
        assert loc in [e["loc"] for e in problem["errors"]]
    ok = api.post(
        "/api/inference",
        json={
            **body,
            **{
                k: v
                for k, v in {
                    "model": api.adapter_ref,
                    "messages": MESSAGES,
                    "top_p": 1,
                    "temperature": 0,
                    "max_tokens": 4,
                    "stop": [],
                }.items()
            },
            "prompt": None,
        },
    )
    assert ok.status_code == 200, ok.text


def test_an_adapter_whose_files_are_gone_is_a_422(api, tmp_path, lora):
    import shutil

    copy = shutil.copytree(lora, tmp_path / "gone-lora")
    made = api.post(
        "/api/adapters/register",
        json={"path": str(copy), "base_model": api.model_ref, "name": "gone"},
    ).json()
    shutil.rmtree(copy)
    body = {"model": f"adapter:{made['id']}", "prompt": "hi", "max_tokens": 4}
    reply = api.post("/api/inference", json=body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] == "adapter_files_missing"


def test_status_says_where_it_runs_and_what_it_holds(api, worker):
    api.post("/api/inference", json={"model": api.adapter_ref, "prompt": "hi", "max_tokens": 2})
    status = api.get("/api/inference/status").json()
    assert status["running"] is True
    assert status["device"] == "cpu" and "CPU" in status["device_reason"]
    [base] = [b for b in status["loaded"] if b["base"].endswith(Path(worker_base(api)).name)]
    assert api.adapter_ref.removeprefix("adapter:") in base["adapters"]
    assert base["bytes"] > 0


def worker_base(api) -> str:
    return api.get(f"/api/models/{api.model_ref.removeprefix('model:')}").json()["path"]


def test_status_before_first_use_starts_nothing(client):
    status = client.get("/api/inference/status").json()
    assert status == {
        "running": False,
        "device": "cpu",
        "device_reason": status["device_reason"],
        "loaded": [],
        "budget_bytes": None,
    }
    assert client.app.state.inference.pid is None


def test_a_killed_worker_is_restarted_on_the_next_request(api, worker):
    body = {"model": api.adapter_ref, "prompt": "hi", "max_tokens": 2}
    assert api.post("/api/inference", json=body).status_code == 200
    old = worker.pid
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while worker.running and time.monotonic() < deadline:
        time.sleep(0.05)
    reply = api.post("/api/inference", json=body)
    assert reply.status_code == 200, reply.text
    assert worker.pid != old and worker.running
