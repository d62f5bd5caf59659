"""``loralab serve`` as a real process: it starts on its defaults, prints its URL (and token off
loopback), streams uploads, and never imports the ML stack (torch, transformers, peft, trl,
datasets, accelerate), neither when the app is built nor while it serves requests."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

FORBIDDEN = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORALAB_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **extra)
    return env


class Served:
    """A ``loralab serve`` subprocess; ``url`` and ``token`` are read from what it prints.

    ``verify`` is what httpx checks an https server's certificate with (a CA's SSL context).
    """

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log: Path,
        importtime: bool = False,
        verify: ssl.SSLContext | bool = True,
    ):
        self.verify = verify
        flags = ["-X", "importtime"] if importtime else []
        code = "from loralab.cli import main; main()"
        self.log = log  # stderr goes to a file: -X importtime writes more than a pipe holds
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *flags, "-c", code, "serve", *args],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
            )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_for(r"serving (https?://\S+)")
        self.token = None
        if any(a in args for a in ("0.0.0.0", "::")) or "LORALAB_TOKEN" in env:
            self.token = self._wait_for(r"\?token=(\S+)")
        scheme = self.url.split("://", 1)[0]
        self.local = f"{scheme}://127.0.0.1:" + self.url.rsplit(":", 1)[1]
        self._wait_healthy()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def _wait_for(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m.group(1)
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.stop()[1]}")
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in {self.lines}")

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{self.local}/api/health", timeout=2, verify=self.verify)
                if health.status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("the server did not become healthy")

    def stop(self) -> tuple[str, str]:
        """Ctrl-C the server; returns what it printed (stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        return "".join(self.lines), self.log.read_text()


@pytest.fixture
def serve(tmp_path, database_url):
    started: list[Served] = []

    def start(
        *args: str, importtime: bool = False, verify: ssl.SSLContext | bool = True, **env: str
    ) -> Served:
        if database_url:
            env.setdefault("LORALAB_DATABASE_URL", database_url)
        served = Served(
            ["--port", "0", "--data-dir", str(tmp_path / "data"), *args],
            _env(**env),
            tmp_path / f"serve-{len(started)}.log",
            importtime=importtime,
            verify=verify,
        )
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def _imported_modules(importtime_log: str) -> set[str]:
    """Top-level package names from ``python -X importtime`` lines (``... | pkg.mod``)."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def _exercise(base: str, formats_dir: Path, headers: dict[str, str] | None = None) -> None:
    """Touch every server-side path that reads data or models."""
    with httpx.Client(base_url=base, headers=headers or {}, timeout=60) as http:
        for path in ("/", "/api/system", "/api/models/catalog", "/api/models", "/openapi.json"):
            assert http.get(path).status_code == 200, path
        sample = formats_dir / "finetome_sample.parquet"
        r = http.post("/api/datasets/upload", files={"file": (sample.name, sample.read_bytes())})
        assert r.status_code == 201, r.text
        ds = r.json()
        assert http.get(f"/api/datasets/{ds['id']}/preview").status_code == 200
        run = {"model": {"name_or_path": "Qwen/Qwen2.5-0.5B"}, "data": {"source": "org/set"}}
        assert http.post("/api/models/estimate", json=run).status_code == 200
        assert http.post("/api/datasets/hub", json={"hub_id": "org/set"}).status_code == 503


@pytest.mark.slow
def test_served_process_prints_its_url_and_never_imports_the_ml_stack(serve, formats_dir):
    served = serve(importtime=True)
    assert served.url.startswith("http://127.0.0.1:")
    assert served.token is None
    _exercise(served.url, formats_dir)
    out, err = served.stop()
    imported = _imported_modules(err)
    assert {"loralab", "fastapi", "uvicorn", "sqlalchemy"} <= imported
    assert not imported & set(FORBIDDEN), sorted(imported & set(FORBIDDEN))
    assert served.proc.returncode == 0, err[-2000:]


def test_building_the_app_and_serving_requests_never_imports_the_ml_stack(tmp_path, formats_dir):
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from fastapi.testclient import TestClient
        from loralab.api.app import create_app
        from loralab.config import Settings

        app = create_app(Settings(data_dir=Path({str(tmp_path)!r}), allowed_hosts=["testserver"]))
        with TestClient(app) as client:
            sample = Path({str(formats_dir / "alpaca_sample.json")!r})
            files = {{"file": ("a.json", sample.read_bytes())}}
            r = client.post("/api/datasets/upload", files=files)
            assert r.status_code == 201, r.text
            assert client.get(f"/api/datasets/{{r.json()['id']}}/preview").status_code == 200
            for path in ("/api/system", "/api/models/catalog", "/api/models", "/openapi.json"):
                assert client.get(path).status_code == 200, path
        print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_env(), timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_serving_off_loopback_prints_a_token_and_requires_it(serve, formats_dir):
    served = serve("--host", "0.0.0.0")
    assert served.token and len(served.token) >= 32
    assert httpx.get(f"{served.local}/api/health").status_code == 200
    r = httpx.get(f"{served.local}/api/datasets")
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    auth = {"Authorization": f"Bearer {served.token}"}
    assert httpx.get(f"{served.local}/api/datasets", headers=auth).status_code == 200
    r = httpx.get(f"{served.local}/?token={served.token}", follow_redirects=False)
    assert r.status_code == 303 and "loralab_token" in r.headers["set-cookie"]
    r = httpx.get(f"{served.local}/api/datasets", headers={"Host": "evil.example"})
    assert r.status_code == 400


@pytest.mark.slow
def test_oversized_upload_is_refused_while_it_streams(serve, tmp_path):
    served = serve(LORALAB_MAX_UPLOAD_MB="1")
    port = int(served.local.rsplit(":", 1)[1])
    boundary = "streamboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n'
    ).encode()
    chunk = b'{"prompt": "aaaaaaaaaaaaaaaa", "completion": "bbbbbbbbbbbbbbbbbbbb"}\n' * 1000
    total = 50 * 1024 * 1024
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/datasets/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Transfer-Encoding: chunked\r\n"
            + f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
        )
        try:
            for piece in [head] + [chunk] * (total // len(chunk)):
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < total / 4  # the server answered long before the body ended
    assert list((tmp_path / "data" / "datasets").iterdir()) == []
    assert httpx.get(f"{served.local}/api/datasets").json() == []


def test_busy_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-c", "from loralab.cli import main; main()", "serve"]
            + ["--port", str(port), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=60,
        )
    assert proc.returncode != 0
    assert "error[cannot_bind]" in proc.stderr


def test_a_wildcard_cors_origin_is_refused_at_start(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "from loralab.cli import main; main()", "serve"]
        + ["--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=_env(LORALAB_CORS_ORIGINS='["https://ui.example", "*"]'),
        timeout=60,
    )
    assert proc.returncode != 0
    assert "error[invalid_settings]" in proc.stderr and "LORALAB_CORS_ORIGINS" in proc.stderr
    assert "serving" not in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("database_url", [None])  # SQLite: the access log is the point
def test_the_token_never_reaches_the_access_log(serve):
    token = "access-log-token-0123456789abcdef012345"
    served = serve(LORALAB_TOKEN=token)
    r = httpx.get(f"{served.local}/runs/x?token={token}&tab=logs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/runs/x?tab=logs"
    r = httpx.get(f"{served.local}/api/datasets?token={token}")
    assert r.status_code == 401 and r.json()["code"] == "token_in_url"
    out, err = served.stop()
    assert "GET /runs/x?token=<redacted>&tab=logs" in out  # uvicorn's access log (stdout)
    assert "GET /api/datasets?token=<redacted>" in out
    assert out.count(token) == 1  # printed once, in the URL to open
    assert token not in err


@pytest.mark.slow
@pytest.mark.parametrize("database_url", [None])  # SQLite: one flag, two starts
def test_remote_code_needs_the_allow_remote_code_flag(serve):
    body = {
        "name": "remote",
        "config": {
            "model": {"name_or_path": "org/model", "trust_remote_code": True},
            "data": {"source": "org/data"},
        },
    }
    served = serve()
    r = httpx.post(f"{served.local}/api/configs", json=body)
    assert r.status_code == 422 and r.json()["code"] == "remote_code_not_allowed"
    assert "--allow-remote-code" in r.json()["fix"]
    served.stop()

    allowing = serve("--allow-remote-code")
    assert any("remote code allowed" in line for line in allowing.lines)
    r = httpx.post(f"{allowing.local}/api/configs", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["config"]["model"]["trust_remote_code"] is True
