"""A worker outlives its server: SIGKILL a real server process mid-run, start another, and the
job finishes with every event, streamed to a client that reconnects with its last seq."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from loralab.jobs import is_worker_alive

from .jobs_support import integrity_ok, job_row, wait_for, wait_status, worker_log


def ws_url(server, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def read_until_closed(ws, events: list[dict], *, stop_after_step: int | None = None) -> None:
    """Append events until the socket closes (or until a step event reaches ``stop_after_step``)."""
    while True:
        try:
            message = json.loads(ws.recv(timeout=120))
        except ConnectionClosed:
            return
        events.append(message)
        step = message["data"].get("step") if message["type"] == "step" else None
        if stop_after_step and step is not None and step >= stop_after_step:
            return


# Killing processes is tested on SQLite, the embedded default, where a kill could corrupt a file.
@pytest.mark.slow
@pytest.mark.parametrize("database_url", [None])
def test_worker_survives_server_kill_and_new_server_reattaches(
    db, settings, make_config, server_factory
):
    total = 30
    first = server_factory(settings)
    response = httpx.post(
        f"{first.url}/api/jobs", json={"config": make_config(max_steps=total)}, timeout=30
    )
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]

    events: list[dict] = []
    with connect(ws_url(first, f"/api/jobs/{job_id}/events?since=0")) as ws:
        read_until_closed(ws, events, stop_after_step=2)
        first.kill()  # SIGKILL: no shutdown, no cleanup
        read_until_closed(ws, events)  # whatever was in flight, then the dropped connection

    row = job_row(db, job_id)
    assert row.status == "running", worker_log(settings, job_id)
    assert is_worker_alive(row.pid, job_id)

    second = server_factory(settings)
    last = events[-1]["seq"]
    with connect(ws_url(second, f"/api/jobs/{job_id}/events?since={last}")) as ws:
        read_until_closed(ws, events)

    final = wait_status(db, job_id, ("completed", "failed", "interrupted", "stopped"), timeout=30)
    assert final.status == "completed", worker_log(settings, job_id)
    assert final.attempts == 1  # the same worker finished: nothing was restarted
    assert final.step == total
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, final.last_seq + 1))  # every event, none twice
    shown = httpx.get(f"{second.url}/api/jobs/{job_id}", timeout=30).json()
    assert shown["status"] == "completed" and shown["last_seq"] == final.last_seq
    wait_for(lambda: not is_worker_alive(row.pid, job_id), 30, "the worker to exit")
    assert integrity_ok(settings)
