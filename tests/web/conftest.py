"""Browser tests: Debian's Chromium driven by Playwright against a real ``loralab serve``.

- ``server``: one ``loralab serve`` process per module on a free port, with its own data dir
  (SQLite), serving the built UI from ``src/loralab/static`` (``make web`` builds it).
- ``page``: a fresh browser context (empty sessionStorage) per test, laptop-sized.
- ``shot(name)``: a full-page screenshot into ``--screenshots DIR`` (or $LORALAB_SCREENSHOTS),
  and nothing when neither is set. ``make screenshots`` writes docs/img.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
STATIC_INDEX = REPO / "src" / "loralab" / "static" / "index.html"
CHROMIUM = Path(os.environ.get("LORALAB_CHROMIUM", "/usr/bin/chromium"))
# Playwright adds --headless itself; the rest keep Chromium off the network and quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}


def pytest_addoption(parser):
    # Seen when pytest is given tests/web (as `make screenshots` does); elsewhere the env var works.
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="Save the browser tests' screenshots into DIR (e.g. docs/img).",
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    data_dir: Path
    log_file: Path
    proc: subprocess.Popen

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _kill_workers(data_dir: Path) -> None:
    """No training worker outlives the tests (they run detached from the server)."""
    from loralab.config import Settings
    from loralab.jobs import kill_worker_group
    from loralab.store import Database
    from loralab.store.tables import JobRow

    db = Database(Settings(data_dir=data_dir).resolved_database_url)
    try:
        with db.read() as session:
            rows = [(r.id, r.pid) for r in session.query(JobRow).all()]
    finally:
        db.dispose()
    for job_id, pid in rows:
        if pid:
            kill_worker_group(pid, job_id)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """A real ``loralab serve`` with a fresh data dir, stopped (with its workers) afterwards."""
    if not STATIC_INDEX.is_file():
        pytest.fail("The web UI is not built: run `make web` (cd web && npm ci && npm run build).")
    root = tmp_path_factory.mktemp("web-server")
    data_dir = root / "data"
    log_file = root / "server.log"
    port = _free_port()
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"})
    env.pop("LORALAB_TOKEN", None)
    cmd = [
        str(Path(sys.executable).parent / "loralab"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
    ]
    with open(log_file, "ab") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    srv = Server(f"http://127.0.0.1:{port}", data_dir, log_file, proc)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"loralab serve exited with {proc.returncode}:\n{srv.log_tail()}")
        try:
            if httpx.get(f"{srv.url}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"loralab serve did not answer within 60 s:\n{srv.log_tail()}")
        time.sleep(0.2)
    yield srv
    try:
        _kill_workers(data_dir)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium (never Playwright's download, which needs the network)."""
    if not CHROMIUM.exists():
        hint = "sudo apt-get install -y chromium" if shutil.which("apt-get") else "install Chromium"
        pytest.fail(f"Browser tests need Chromium at {CHROMIUM}: {hint} (or set LORALAB_CHROMIUM).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh context (its own sessionStorage) on the server, failing on uncaught page errors."""
    context = browser.new_context(viewport=VIEWPORT, base_url=server.url, accept_downloads=True)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"{exc}\n{(exc.stack or '')[:600]}"))
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshot_dir(pytestconfig) -> Path | None:
    where = pytestconfig.getoption("--screenshots", default=None) or os.environ.get(
        "LORALAB_SCREENSHOTS"
    )
    if not where:
        return None
    path = Path(where)
    if not path.is_absolute():
        path = Path(pytestconfig.invocation_params.dir) / path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shot(page, screenshot_dir) -> Callable[[str], None]:
    """``shot("01-model")`` saves docs/img/01-model.png when screenshots are asked for."""

    def _shot(name: str, *, full_page: bool = True) -> None:
        if screenshot_dir is None:
            return
        if full_page:
            page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top
        page.wait_for_timeout(300)  # let charts and transitions settle
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=full_page)

    return _shot
