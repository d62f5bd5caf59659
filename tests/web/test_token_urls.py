"""The token stays out of URLs and script-readable storage: on a real ``loralab serve`` that
needs a token, Chromium opens ``/?token=...`` once, then clicks through the dashboard, a run
page with its live WebSocket, a download, the datasets and jobs pages. Every request and
WebSocket URL after the first is recorded and none carries the token; sessionStorage,
localStorage and ``document.cookie`` do not hold it either (the cookie is HttpOnly)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from .conftest import STATIC_INDEX, Server, _free_port, _kill_workers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "browser-token-Zr5kJ0N87GHT7NokZ37NFj6uCaKZaxM8"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """``loralab serve`` on loopback with ``LORALAB_TOKEN`` set: every route needs the token."""
    if not STATIC_INDEX.is_file():
        pytest.fail("The web UI is not built: run `make web` (cd web && npm ci && npm run build).")
    root = tmp_path_factory.mktemp("token-server")
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "LORALAB_TOKEN": TOKEN}
    cmd = [str(Path(sys.executable).parent / "loralab"), "serve", "--port", str(port)]
    cmd += ["--data-dir", str(root / "data"), "--log-level", "warning"]
    log_file = root / "server.log"
    with open(log_file, "ab") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    srv = Server(f"http://127.0.0.1:{port}", root / "data", log_file, proc)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{srv.url}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"loralab serve did not come up:\n{srv.log_tail()}")
        time.sleep(0.2)
    yield srv
    try:
        _kill_workers(srv.data_dir)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _submit_run(server: Server, tiny_model: Path, formats_dir: Path) -> str:
    """A short training run of the tiny model, submitted as an API client would (Bearer)."""
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as http:
        model = http.post("/api/models", json={"path": str(tiny_model), "name": "tiny"})
        assert model.status_code == 201, model.text
        sample = formats_dir / "openai_messages_sample.jsonl"
        dataset = http.post(
            "/api/datasets/upload", files={"file": (sample.name, sample.read_bytes())}
        )
        assert dataset.status_code == 201, dataset.text
        config = {
            "model": {"name_or_path": f"model:{model.json()['id']}"},
            "data": {"source": f"dataset:{dataset.json()['id']}", "max_samples": 16},
            "lora": {"r": 4, "alpha": 8},
            "train": {
                "max_steps": 4,
                "save_steps": 2,
                "batch_size": 2,
                "gradient_accumulation_steps": 1,
                "max_seq_length": 128,
                "gradient_checkpointing": False,
                "logging_steps": 1,
                "warmup_ratio": 0.0,
            },
        }
        job = http.post("/api/jobs", json={"config": config, "name": "token run"})
        assert job.status_code == 201, job.text
        return job.json()["id"]


def test_the_token_is_only_in_the_first_url(page: Page, server, tiny_model, formats_dir):
    assert httpx.get(f"{server.url}/api/jobs").status_code == 401  # the token is really needed
    job_id = _submit_run(server, tiny_model, formats_dir)

    urls: list[str] = []
    sockets: dict[str, list[str]] = {}
    page.on("request", lambda request: urls.append(request.url))

    def on_socket(ws) -> None:
        urls.append(ws.url)
        frames = sockets.setdefault(ws.url, [])
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)

    # The printed URL, opened once: the server sets the cookie and redirects without the token.
    page.goto(f"/?token={TOKEN}")
    expect(page).to_have_url(f"{server.url}/")
    expect(page.get_by_role("heading", name="Runs", level=1)).to_be_visible()

    # The dashboard lists the run; its page streams the events over a WebSocket.
    page.locator("table.table tbody tr.clickable", has_text="token run").first.click()
    expect(page).to_have_url(re.compile(rf"/runs/{job_id}$"))
    expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=240_000)
    download = page.get_by_test_id("adapter-card").get_by_role("link", name=re.compile("^Download"))
    assert TOKEN not in (download.get_attribute("href") or "")
    with page.expect_download() as info:
        download.click()  # a plain link: the cookie authenticates it
    assert info.value.failure() is None

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Datasets").click()
    expect(page.get_by_role("row", name=re.compile("openai_messages_sample"))).to_be_visible()
    nav.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    page.goto(f"/runs/{job_id}")  # a fresh load works from the cookie alone
    expect(page.get_by_test_id("run-status")).to_have_text("completed")

    assert TOKEN in urls[0]
    assert urls[1] == f"{server.url}/"  # where the redirect went
    leaked = [url for url in urls[1:] if TOKEN in url]
    assert not leaked, leaked
    job_stream = [url for url in sockets if f"/api/jobs/{job_id}/events" in url]
    assert job_stream and any(sockets[url] for url in job_stream), sockets  # it got events
    assert any(url.endswith("/api/jobs/events") for url in sockets), sockets
    assert all(url.startswith("ws://127.0.0.1:") for url in sockets)  # the page's scheme

    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage),"
        " document.cookie])"
    )
    assert TOKEN not in stored
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["loralab_token"]["httpOnly"] and cookies["loralab_token"]["sameSite"] == "Strict"
