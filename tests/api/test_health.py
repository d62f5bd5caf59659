"""/api/health, the OpenAPI docs, the SPA fallback and problem+json for unknown routes."""

from __future__ import annotations

import pytest

import loralab


def test_health_answers_ok_with_version(client):
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "version": loralab.__version__}


def test_unknown_api_route_is_problem_404(client):
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_found"


def test_wrong_method_is_problem_405(client):
    r = client.put("/api/health")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"


def test_without_a_built_ui_the_root_links_the_docs(client, tmp_path):
    client.app.state.static_dir = tmp_path / "not-built"
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in r.text


@pytest.fixture
def built_ui(client, tmp_path):
    root = tmp_path / "static"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<html><div id=root></div></html>")
    (root / "assets" / "index-abc.js").write_text("console.log('ui')")
    client.app.state.static_dir = root
    return client


def test_built_ui_is_served_with_client_side_routing(built_ui):
    r = built_ui.get("/")
    assert r.status_code == 200 and "id=root" in r.text
    assert built_ui.get("/assets/index-abc.js").text == "console.log('ui')"
    r = built_ui.get("/jobs/some-job-id")  # a client-side route: the app's page
    assert r.status_code == 200 and "id=root" in r.text
    assert built_ui.get("/api/jobs-typo").status_code == 404  # never the page under /api


def test_static_paths_cannot_escape_the_folder(built_ui):
    for path in ("/..%2f..%2fpyproject.toml", "/assets/..%2f..%2f..%2fpyproject.toml"):
        r = built_ui.get(path)
        assert "[project]" not in r.text


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/health", "/api/datasets/upload", "/api/configs", "/api/models/estimate"):
        assert path in paths
    names = set(schema["components"]["schemas"])
    assert {"Dataset", "SavedConfig", "Model", "SystemInfo", "MemoryEstimate"} <= names
    assert "multipart/form-data" in paths["/api/datasets/upload"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_create_app_reads_its_settings_when_called(tmp_path, monkeypatch, database_url):
    from loralab.api.app import create_app

    monkeypatch.setenv("LORALAB_DATA_DIR", str(tmp_path / "from-env"))
    if database_url:
        monkeypatch.setenv("LORALAB_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("LORALAB_DATABASE_URL", raising=False)
    app = create_app()
    try:
        assert app.state.settings.data_dir == tmp_path / "from-env"
        assert (tmp_path / "from-env" / "datasets").is_dir()
        if not database_url:
            assert (tmp_path / "from-env" / "loralab.db").is_file()
    finally:
        app.state.db.dispose()


def test_unreachable_database_is_a_clear_error(tmp_path):
    from loralab.api.app import create_app
    from loralab.config import Settings
    from loralab.errors import LoralabError

    settings = Settings(data_dir=tmp_path, database_url="postgresql://postgres@127.0.0.1:1/x")
    with pytest.raises(LoralabError) as info:
        create_app(settings)
    assert info.value.code == "database_unavailable"


def test_api_docs_use_the_bundled_swagger_ui_so_they_work_offline(client, tmp_path):
    root = tmp_path / "static"
    (root / "swagger").mkdir(parents=True)
    (root / "swagger" / "swagger-ui-bundle.js").write_text("/* swagger */")
    (root / "swagger" / "swagger-ui.css").write_text("/* css */")
    client.app.state.static_dir = root
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/swagger/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/swagger/swagger-ui-bundle.js").text == "/* swagger */"
