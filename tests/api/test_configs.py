"""/api/configs: save, load, list, update and delete named RunConfigs."""

from __future__ import annotations

import pytest

CONFIG = {
    "model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"},
    "data": {"source": "dataset:0123456789abcdef0123456789abcdef"},
    "lora": {"r": 8},
}


def _save(client, name="my run", config=CONFIG, **extra):
    return client.post("/api/configs", json={"name": name, "config": config, **extra})


def test_save_then_load_returns_the_resolved_config(client):
    r = _save(client, description="first try")
    assert r.status_code == 201
    saved = r.json()
    assert saved["name"] == "my run" and saved["description"] == "first try"
    assert saved["config"]["lora"]["r"] == 8
    assert saved["config"]["train"]["learning_rate"] == 2e-4  # defaults filled in
    assert saved["created_at"].endswith(("Z", "+00:00"))
    got = client.get(f"/api/configs/{saved['id']}").json()
    assert got == saved


def test_list_is_sorted_by_name(client):
    for name in ("b", "a", "c"):
        assert _save(client, name=name).status_code == 201
    assert [c["name"] for c in client.get("/api/configs").json()] == ["a", "b", "c"]


def test_duplicate_name_is_409(client):
    assert _save(client).status_code == 201
    r = _save(client, name="  my run ")
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_name"


def test_update_replaces_and_rename_onto_taken_name_is_409(client):
    first = _save(client, name="one").json()
    _save(client, name="two")
    changed = {**CONFIG, "lora": {"r": 32}}
    r = client.put(f"/api/configs/{first['id']}", json={"name": "uno", "config": changed})
    assert r.status_code == 200
    assert r.json()["name"] == "uno" and r.json()["config"]["lora"]["r"] == 32
    assert client.get(f"/api/configs/{first['id']}").json()["config"]["lora"]["r"] == 32
    r = client.put(f"/api/configs/{first['id']}", json={"name": "two", "config": changed})
    assert r.status_code == 409
    assert r.json()["code"] == "duplicate_name"


def test_delete_then_get_is_404(client):
    saved = _save(client).json()
    assert client.delete(f"/api/configs/{saved['id']}").status_code == 204
    r = client.get(f"/api/configs/{saved['id']}")
    assert r.status_code == 404
    assert r.json()["code"] == "config_not_found"
    assert client.delete(f"/api/configs/{saved['id']}").status_code == 404


@pytest.mark.parametrize(
    ("config", "loc"),
    [
        ({**CONFIG, "lora": {"r": 0}}, "config.lora.r"),
        ({**CONFIG, "train": {"learning_rate": -1}}, "config.train.learning_rate"),
        ({**CONFIG, "lora": {"rank": 8}}, "config.lora.rank"),
        ({"data": {"source": "x"}}, "config.model"),
    ],
)
def test_invalid_config_is_422_with_field_paths(client, config, loc):
    r = _save(client, config=config)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "invalid_config"
    assert loc in [e["loc"] for e in body["errors"]]


def test_cross_field_rules_are_checked_with_their_paths(client):
    config = {**CONFIG, "train": {"eval_steps": 10}}
    r = _save(client, config=config)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == ["config.train.eval_steps"]


def test_blank_name_is_422(client):
    r = _save(client, name="   ")
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == "name"
