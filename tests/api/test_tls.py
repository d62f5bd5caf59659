"""``loralab serve --tls-cert --tls-key`` serves https and wss: a real server process with a
throwaway certificate from a ``trustme`` CA, checked by real clients (httpx, websockets) that
trust only that CA."""

from __future__ import annotations

import ssl
import subprocess
import sys

import httpx
import pytest
import trustme
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from .test_serve import _env, serve  # noqa: F401  (serve: the `loralab serve` fixture)

TOKEN = "tls-test-token-0123456789abcdef0123456789"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def cert_files(ca, tmp_path):
    """The server's certificate chain and key as PEM files."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(chain)
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(chain, append=True)
    cert.private_key_pem.write_to_path(key)
    return chain, key


@pytest.fixture
def client_ssl(ca) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.mark.slow
@pytest.mark.parametrize("database_url", [None])  # SQLite: TLS does not depend on the store
def test_serve_with_a_certificate_speaks_https_and_wss(serve, cert_files, client_ssl):  # noqa: F811
    chain, key = cert_files
    served = serve(
        "--tls-cert", str(chain), "--tls-key", str(key), verify=client_ssl, LORALAB_TOKEN=TOKEN
    )
    assert served.url.startswith("https://127.0.0.1:")  # the printed URL says https
    port = int(served.url.rsplit(":", 1)[1])
    base = f"https://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    with httpx.Client(base_url=base, verify=client_ssl, timeout=30) as http:
        assert http.get("/api/health").status_code == 200
        assert http.get("/api/jobs", headers=auth).json() == []
        r = http.get("/", params={"token": TOKEN}, follow_redirects=False)
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].lower()
        assert "loralab_token=" in cookie and "secure" in cookie and "httponly" in cookie
    # A client that does not trust the CA refuses the server: the certificate is really used.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/api/health", timeout=10)
    # Plain http on the TLS port gets no answer.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10)

    wss = f"wss://127.0.0.1:{port}"
    with connect(f"{wss}/api/jobs/events", ssl=client_ssl, additional_headers=auth) as ws:
        ws.ping().wait(10)  # a live wss connection to the job list stream
    unknown = f"{wss}/api/jobs/{'0' * 32}/events"
    with (
        connect(unknown, ssl=client_ssl, additional_headers=auth) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404  # no such job
    with pytest.raises(InvalidStatus) as refused:  # the token never travels in a wss URL
        connect(f"{wss}/api/jobs/events?token={TOKEN}", ssl=client_ssl)
    assert refused.value.response.status_code == 403


def _serve_fails(tmp_path, *args: str) -> str:
    """Run ``loralab serve`` with ``args``; returns what it wrote to stderr when it failed."""
    proc = subprocess.run(
        [sys.executable, "-c", "from loralab.cli import main; main()", "serve"]
        + ["--port", "0", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


@pytest.mark.slow  # three starts of the CLI
def test_tls_options_that_cannot_work_are_clear_errors(tmp_path, cert_files):
    chain, key = cert_files
    missing = str(tmp_path / "missing.pem")
    err = _serve_fails(tmp_path, "--tls-cert", str(chain))  # a certificate without its key
    assert "error[invalid_settings]" in err and "tls_key" in err
    err = _serve_fails(tmp_path, "--tls-cert", missing, "--tls-key", str(key))
    assert "error[tls_file_missing]" in err
    err = _serve_fails(tmp_path, "--tls-cert", str(chain), "--tls-key", str(chain))  # no key
    assert "error[invalid_tls]" in err
