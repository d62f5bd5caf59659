"""``push``: an export's files to the Hugging Face Hub. The hub cannot be reached from here, so
the real client runs against a closed local port: the job fails with a clear reason, and the
token never shows in the job, its events, its log or the worker's log."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from loralab.store.jobs import add_job, lock_job, new_job_id

TOKEN = "hf_SeCrEt0123456789abcdef"


def _finished_export(db, settings) -> str:
    job_id = new_job_id()
    out = settings.data_dir / "exports" / job_id
    (out / "adapter").mkdir(parents=True)
    (out / "adapter" / "adapter_config.json").write_text("{}")
    with db.write() as session:
        add_job(session, job_id=job_id, kind="export", config={}, output_dir=str(out))
        lock_job(session, job_id).status = "completed"
    return job_id


def _push(client, export_id: str, **extra):
    config = {"export": export_id, "what": "adapter", "repo_id": "me/my-model", **extra}
    return client.post("/api/jobs", json={"kind": "push", "config": config})


def _finished(client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "stopped", "interrupted"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"push {job_id} did not finish")


@pytest.mark.slow
def test_push_without_the_hub_fails_clearly_and_keeps_the_token_out(
    client, db, settings, monkeypatch
):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # other tests' setting must not hide it
    export_id = _finished_export(db, settings)
    r = _push(client, export_id, token=TOKEN)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["config"]["token"] is None and job["parent_id"] == export_id

    done = _finished(client, job["id"])
    assert done["status"] == "failed"
    assert "cannot be reached" in done["reason"] and "nothing was pushed" in done["reason"]
    everything = [
        str(done),
        client.get(f"/api/jobs/{job['id']}/logs").text,
        client.get(f"/api/jobs/{job['id']}/metrics").text,
        client.get("/api/jobs").text,
    ]
    log = Path(settings.data_dir) / "jobs" / job["id"] / "logs" / "worker.log"
    everything.append(log.read_text(errors="replace"))
    assert not [text for text in everything if TOKEN in text]
    assert not (Path(settings.data_dir) / "jobs" / job["id"] / "hub_token").exists()


@pytest.mark.slow
def test_push_in_offline_mode_says_so(client, db, settings, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = _push(client, _finished_export(db, settings), token=TOKEN)
    done = _finished(client, r.json()["id"])
    assert done["status"] == "failed" and "offline mode" in done["reason"]
    assert TOKEN not in str(done)


def test_push_needs_a_token_and_a_finished_export(bare_client, db, settings):
    export_id = _finished_export(db, settings)
    r = _push(bare_client, export_id)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "config.token"
    r = _push(bare_client, "0" * 32, token=TOKEN)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "config.export"
    r = _push(bare_client, export_id, token=TOKEN, what="gguf")
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "config.what"
    r = _push(bare_client, export_id, token=TOKEN, repo_id="../etc/passwd")
    assert r.status_code == 422
    assert TOKEN not in r.text
