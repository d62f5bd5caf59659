"""Security defaults: Host allow-list, token off loopback (cookie or header, never in an API
URL), Origin checks, CORS, body limits, and remote code only with the server's consent."""

from __future__ import annotations

import socket

import pytest
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

TOKEN = "s3cret-token-for-tests"


def _with_ws_route(client):
    """Give the client's app a WebSocket route to test the handshake checks on."""

    async def echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    client.app.router.add_websocket_route("/api/test-ws", echo)
    return client


# --- Host -----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:7860", "[::1]:7860", "LOCALHOST"])
def test_loopback_hosts_are_accepted(client, host):
    assert client.get("/api/datasets", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:7860", "127.0.0.1.evil.example", ""]
)
def test_other_hosts_are_400(client, host):
    r = client.get("/api/datasets", headers={"Host": host})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "invalid_host"


def test_bind_host_and_allowed_hosts_are_accepted(make_client):
    client = make_client(host="10.1.2.3", token=TOKEN, allowed_hosts=["lab.example"])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for host in ("10.1.2.3:7860", "lab.example", "localhost"):
        assert client.get("/api/datasets", headers={**auth, "Host": host}).status_code == 200
    assert client.get("/api/datasets", headers={**auth, "Host": "10.9.9.9"}).status_code == 400


def test_wildcard_bind_accepts_this_machines_name(make_client):
    client = make_client(host="0.0.0.0", token=TOKEN)
    r = client.get("/api/health", headers={"Host": f"{socket.gethostname()}:7860"})
    assert r.status_code == 200


# --- token ----------------------------------------------------------------------------------


def test_loopback_needs_no_token(client):
    assert client.get("/api/datasets").status_code == 200
    assert client.app.state.token is None


@pytest.fixture
def remote(make_client):
    """A server bound to all interfaces, with a known token."""
    return make_client(host="0.0.0.0", token=TOKEN)


def test_health_never_needs_a_token(remote):
    assert remote.get("/api/health").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/datasets", "/api/system", "/api/configs", "/openapi.json", "/docs", "/"]
)
def test_everything_else_needs_the_token(remote, path):
    r = remote.get(path)
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert remote.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_bearer_header_works(remote):
    assert remote.get("/api/datasets", headers={"Authorization": f"Bearer {TOKEN}"}).is_success
    assert (
        remote.get("/api/datasets", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    )


@pytest.mark.parametrize("path", ["/api/datasets", "/api/system", "/v1/models"])
def test_token_in_an_api_url_is_401_even_when_right(remote, path):
    for token in (TOKEN, "nope"):
        r = remote.get(path, params={"token": token})
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "token_in_url"
        assert "Authorization: Bearer" in r.json()["fix"]
    # Refused even beside a good header: the URL has already leaked into logs by then.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = remote.get(path, params={"token": TOKEN}, headers=auth)
    assert r.json()["code"] == "token_in_url"
    r = remote.post("/api/configs", params={"token": TOKEN}, json={})
    assert r.status_code == 401 and r.json()["code"] == "token_in_url"


def test_visiting_the_page_with_the_token_sets_a_cookie(remote):
    r = remote.get("/jobs/x", params={"token": TOKEN, "tab": "logs"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/jobs/x?tab=logs"  # the token leaves the address bar
    cookie = r.headers["set-cookie"].lower()
    assert "loralab_token=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert remote.get("/api/datasets").status_code == 200  # the client kept the cookie
    remote.cookies.clear()
    assert remote.get("/api/datasets").status_code == 401


def test_redirect_never_leaves_the_server(remote):
    r = remote.get("//evil.example/x", params={"token": TOKEN}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/") and not r.headers["location"].startswith("//")


def test_a_token_is_generated_when_bound_off_loopback(make_client):
    client = make_client(host="0.0.0.0")
    token = client.app.state.token
    assert token and len(token) >= 32
    assert client.get("/api/datasets").status_code == 401
    assert client.get("/api/datasets", headers={"Authorization": f"Bearer {token}"}).is_success
    other = make_client(host="0.0.0.0")
    assert other.app.state.token != token


def test_a_configured_token_is_required_on_loopback_too(make_client):
    client = make_client(token=TOKEN)
    assert client.get("/api/datasets").status_code == 401
    assert client.get("/api/datasets", headers={"Authorization": f"Bearer {TOKEN}"}).is_success


def test_a_query_named_token_is_ignored_when_no_token_is_needed(client):
    assert client.get("/api/datasets", params={"token": "anything"}).status_code == 200


# --- Origin and CORS ------------------------------------------------------------------------


def test_cross_origin_writes_are_403(client):
    body = {"name": "x", "config": {"model": {"name_or_path": "a/b"}, "data": {"source": "c/d"}}}
    r = client.post("/api/configs", json=body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden_origin"
    assert client.get("/api/configs").json() == []
    r = client.post("/api/configs", json=body, headers={"Origin": "http://testserver"})
    assert r.status_code == 201
    assert client.get("/api/configs", headers={"Origin": "http://evil.example"}).status_code == 200


def test_cors_wildcard_origin_is_refused():
    from pydantic import ValidationError

    from loralab.config import Settings

    with pytest.raises(ValidationError, match="'\\*' is not allowed"):
        Settings(cors_origins=["https://ui.example", "*"])


def test_cors_allows_only_the_methods_and_headers_the_api_uses(make_client):
    cors = make_client(cors_origins=["http://ui.example"])
    preflight = {"Origin": "http://ui.example", "Access-Control-Request-Method": "PATCH"}
    r = cors.options(
        "/api/configs",
        headers={**preflight, "Access-Control-Request-Headers": "authorization,content-type"},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-credentials"] == "true"
    methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert "*" not in r.headers["access-control-allow-headers"]
    r = cors.options(
        "/api/configs", headers={**preflight, "Access-Control-Request-Method": "TRACE"}
    )
    assert r.status_code == 400
    r = cors.options(
        "/api/configs", headers={**preflight, "Access-Control-Request-Headers": "x-anything"}
    )
    assert r.status_code == 400


def test_cors_is_off_unless_configured(client, make_client):
    preflight = {
        "Origin": "http://ui.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    r = client.options("/api/configs", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/api/configs", headers={"Origin": "http://ui.example"})
    assert "access-control-allow-origin" not in r.headers

    cors = make_client(cors_origins=["http://ui.example"])
    r = cors.options("/api/configs", headers=preflight)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://ui.example"
    body = {"name": "x", "config": {"model": {"name_or_path": "a/b"}, "data": {"source": "c/d"}}}
    r = cors.post("/api/configs", json=body, headers={"Origin": "http://ui.example"})
    assert r.status_code == 201
    assert r.headers["access-control-allow-origin"] == "http://ui.example"
    r = cors.options("/api/configs", headers={**preflight, "Origin": "http://evil.example"})
    assert r.headers.get("access-control-allow-origin") != "http://evil.example"


# --- WebSockets -----------------------------------------------------------------------------


def _ws_refused(client, path, **kwargs):
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(path, **kwargs) as ws:
        ws.receive_text()
    return info.value


def test_websocket_same_origin_is_accepted_and_foreign_origin_refused(client):
    _with_ws_route(client)
    with client.websocket_connect("/api/test-ws", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_text() == "hello"
    with client.websocket_connect("/api/test-ws") as ws:  # no Origin: not a browser
        assert ws.receive_text() == "hello"
    refused = _ws_refused(client, "/api/test-ws", headers={"Origin": "http://evil.example"})
    assert refused.code == 1008
    refused = _ws_refused(client, "/api/test-ws", headers={"Host": "evil.example"})
    assert refused.code == 1008


def test_websocket_off_loopback_needs_the_token(remote):
    _with_ws_route(remote)
    assert _ws_refused(remote, "/api/test-ws").code == 1008
    assert _ws_refused(remote, "/api/test-ws?token=wrong").code == 1008
    refused = _ws_refused(remote, f"/api/test-ws?token={TOKEN}")  # never in a WebSocket URL
    assert (refused.code, refused.reason) == (1008, "token_in_url")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with remote.websocket_connect("/api/test-ws", headers=auth) as ws:
        assert ws.receive_text() == "hello"
    remote.get("/", params={"token": TOKEN}, follow_redirects=False)  # sets the cookie
    with remote.websocket_connect("/api/test-ws") as ws:
        assert ws.receive_text() == "hello"


def test_cors_origin_may_open_websockets(make_client):
    client = _with_ws_route(make_client(cors_origins=["http://ui.example"]))
    with client.websocket_connect("/api/test-ws", headers={"Origin": "http://ui.example"}) as ws:
        assert ws.receive_text() == "hello"


# --- bodies and files -----------------------------------------------------------------------


def test_json_bodies_over_the_limit_are_413(client):
    blob = b'{"name": "' + b"a" * 3_000_000 + b'"}'
    r = client.post("/api/configs", content=blob, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"

    def chunks():
        yield b'{"name": "'
        for _ in range(300):
            yield b"a" * 10_000
        yield b'"}'

    r = client.post("/api/configs", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert client.get("/api/health").status_code == 200


def test_uploaded_files_are_reachable_only_through_their_id(client, settings, formats_dir, upload):
    ds = upload(client, "secret.jsonl", formats_dir / "orca_math_sample.jsonl").json()
    stored = f"{ds['id']}.jsonl"
    marker = (formats_dir / "orca_math_sample.jsonl").read_text()[:40]
    for path in (
        f"/{stored}",
        f"/datasets/{stored}",
        f"/data/datasets/{stored}",
        f"/api/datasets/{stored}",
        f"/..%2f..%2fdata%2fdatasets%2f{stored}",
        "/secret.jsonl",
    ):
        r = client.get(path)
        assert marker not in r.text, path


def test_static_lookup_refuses_paths_outside_the_folder(tmp_path):
    from starlette.requests import Request

    from loralab.api.static import spa_response

    root = tmp_path / "static"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<html>app</html>")
    (root / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("top secret")

    def get(path):
        scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
        return spa_response(Request(scope), root)

    assert get("/assets/app.js").path.name == "app.js"
    assert get("/runs/123").path.name == "index.html"  # client-side route
    assert get("/../secret.txt").path.name == "index.html"
    assert get("/assets/../../secret.txt").path.name == "index.html"
    assert get("/api/nope") is None and get("/v1/models") is None


# --- remote code ----------------------------------------------------------------------------


@pytest.fixture
def run_refs(db, settings, tmp_path) -> dict[str, str]:
    """A registered dataset and local model, as ``dataset:<id>`` and ``model:<id>``."""
    import uuid
    from pathlib import Path

    from loralab.store.datasets import create_dataset
    from loralab.store.models import add_model

    folder = Path(settings.data_dir) / "datasets"
    stored = f"{uuid.uuid4().hex}.jsonl"
    (folder / stored).write_text('{"prompt": "hi", "completion": "hello"}\n')
    (tmp_path / "model").mkdir()
    with db.write() as session:
        dataset = create_dataset(
            session, name="tiny", kind="upload", stored_name=stored, status="ready", format="auto"
        )
        model = add_model(session, name="m", path=str(tmp_path / "model"))
    return {"model": f"model:{model.id}", "dataset": f"dataset:{dataset.id}"}


def _remote_code_run(refs) -> dict:
    return {
        "model": {"name_or_path": refs["model"], "trust_remote_code": True},
        "data": {"source": refs["dataset"]},
        "train": {"max_steps": 2},
    }


def _assert_remote_code_refused(r, loc: str) -> None:
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "remote_code_not_allowed"
    assert "--allow-remote-code" in problem["fix"]
    assert [e["loc"] for e in problem["errors"]] == [loc]


def test_remote_code_job_is_422_without_consent(bare_client, run_refs):
    r = bare_client.post("/api/jobs", json={"config": _remote_code_run(run_refs)})
    _assert_remote_code_refused(r, "config.model.trust_remote_code")
    assert bare_client.get("/api/jobs").json() == []
    plain = _remote_code_run(run_refs)
    plain["model"]["trust_remote_code"] = False
    assert bare_client.post("/api/jobs", json={"config": plain}).status_code == 201


def test_remote_code_saved_config_is_422_without_consent(bare_client, run_refs):
    body = {"name": "remote", "config": _remote_code_run(run_refs)}
    _assert_remote_code_refused(
        bare_client.post("/api/configs", json=body), "config.model.trust_remote_code"
    )
    plain = {"name": "plain", "config": {**body["config"], "model": {"name_or_path": "a/b"}}}
    saved = bare_client.post("/api/configs", json=plain).json()
    r = bare_client.put(f"/api/configs/{saved['id']}", json=body)
    _assert_remote_code_refused(r, "config.model.trust_remote_code")
    kept = bare_client.get(f"/api/configs/{saved['id']}").json()["config"]["model"]
    assert kept["name_or_path"] == "a/b" and kept["trust_remote_code"] is False


def test_remote_code_is_accepted_with_consent_and_resume_rechecks(
    bare_client, make_client, db, run_refs
):
    from loralab.store.jobs import claim_queued_jobs, lock_job, set_status

    allowing = make_client(allow_remote_code=True, lifespan=False)
    r = allowing.post("/api/jobs", json={"config": _remote_code_run(run_refs)})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["config"]["model"]["trust_remote_code"] is True
    body = {"name": "remote", "config": _remote_code_run(run_refs)}
    assert allowing.post("/api/configs", json=body).status_code == 201

    with db.write() as session:  # the job ran and stopped under the allowing server
        claim_queued_jobs(session, 1)
        set_status(session, lock_job(session, job["id"]), "stopped")
    # A server started later without the flag does not run it again.
    r = bare_client.post(f"/api/jobs/{job['id']}/resume")
    _assert_remote_code_refused(r, "config.model.trust_remote_code")
    assert bare_client.get(f"/api/jobs/{job['id']}").json()["status"] == "stopped"
    assert allowing.post(f"/api/jobs/{job['id']}/resume").json()["status"] == "queued"
