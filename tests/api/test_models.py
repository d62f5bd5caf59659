"""/api/models: the catalog, registered local folders, the demo and starter builds, estimates."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from loralab.models import STARTER_NAME, STARTER_WHEEL, download_starter_wheel, list_catalog

RUN = {
    "model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"},
    "data": {"source": "dataset:0123456789abcdef0123456789abcdef"},
}


def test_catalog_lists_every_entry_with_its_size(client):
    r = client.get("/api/models/catalog")
    assert r.status_code == 200
    catalog = r.json()
    assert [m["id"] for m in catalog] == [e.id for e in list_catalog()]
    first = catalog[0]
    assert first["params_b"] == pytest.approx(first["parameters"] / 1e9, rel=1e-3)
    assert first["context_length"] > 0 and first["target_modules"] and first["license"]


def test_catalog_by_family_and_unknown_family(client):
    qwen = client.get("/api/models/catalog", params={"family": "qwen2.5"}).json()
    assert qwen and {m["family"] for m in qwen} == {"qwen2.5"}
    r = client.get("/api/models/catalog", params={"family": "nope"})
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_register_local_model_folder(client, tiny_model):
    r = client.post("/api/models", json={"path": str(tiny_model), "name": "tiny"})
    assert r.status_code == 201, r.text
    model = r.json()
    assert model["kind"] == "local" and model["name"] == "tiny"
    assert model["path"] == str(tiny_model.resolve())
    assert model["info"]["model_type"] == "qwen2"
    assert model["info"]["has_tokenizer"] and model["info"]["has_chat_template"]
    assert model["info"]["parameters"] > 0
    listed = client.get("/api/models").json()
    assert [m["id"] for m in listed["local"]] == [model["id"]]
    assert client.get(f"/api/models/{model['id']}").json() == model
    again = client.post("/api/models", json={"path": str(tiny_model)})
    assert again.status_code == 409 and again.json()["code"] == "model_exists"


def _finished(client, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "stopped", "interrupted"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish: {job}")


@pytest.mark.slow
def test_demo_model_is_built_once_by_a_job_with_an_estimate(client, settings):
    r = client.post("/api/models/demo", json={"arch": "qwen2"})
    assert r.status_code == 202, r.text  # queued, not built inside the request
    build = r.json()
    assert build["model"] is None and build["job"]["kind"] == "demo_model"
    twice = client.post("/api/models/demo", json={"arch": "qwen2"}).json()
    assert twice["job"]["id"] == build["job"]["id"]  # the build under way, not a second one

    job = _finished(client, build["job"]["id"])
    assert job["status"] == "completed", job["reason"]
    model_id = job["result"]["model_id"]
    folder = (settings.data_dir / "models" / "tiny-qwen2").resolve()
    model = client.get(f"/api/models/{model_id}").json()
    assert model["path"] == str(folder) and model["kind"] == "local"
    assert model["info"]["model_type"] == "qwen2" and model["info"]["has_chat_template"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no scratch left

    again = client.post("/api/models/demo", json={})  # qwen2 is the default
    assert again.status_code == 200 and again.json()["model"]["id"] == model_id
    assert [m["id"] for m in client.get("/api/models").json()["local"]] == [model_id]
    est = client.post(
        "/api/models/estimate", json={**RUN, "model": {"name_or_path": f"model:{model_id}"}}
    )
    assert est.status_code == 200 and est.json()["verdict"] == "fits"
    logs = client.get(f"/api/jobs/{job['id']}/logs").json()["lines"]
    assert any(f"model:{model_id}" in line["message"] for line in logs)


def test_demo_build_over_a_foreign_folder_fails_with_the_fix(client, settings):
    folder = settings.data_dir / "models" / "tiny-llama"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    build = client.post("/api/models/demo", json={"arch": "llama"}).json()
    job = _finished(client, build["job"]["id"])
    assert job["status"] == "failed" and "not a model folder" in job["reason"]
    assert (folder / "notes.txt").read_text() == "mine"
    assert client.get("/api/models").json()["local"] == []


def test_demo_model_of_unknown_architecture_is_422(client, settings):
    r = client.post("/api/models/demo", json={"arch": "gpt-9"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "arch"
    assert not (settings.data_dir / "models").exists()


@pytest.mark.slow
def test_starter_model_is_built_once_by_a_job_and_registered(client, settings, smollm2, test_cache):
    # Seed the data dir's wheel cache from the test cache: the job converts, it does not download.
    wheel = test_cache / ".cache" / STARTER_WHEEL
    if not wheel.is_file():
        download_starter_wheel(wheel.parent)
    cache = settings.data_dir / "models" / ".cache"
    cache.mkdir(parents=True)
    os.link(wheel, cache / STARTER_WHEEL)

    r = client.post("/api/models/starter")
    assert r.status_code == 202, r.text
    build = r.json()
    assert build["model"] is None and build["job"]["kind"] == "starter_model"
    twice = client.post("/api/models/starter").json()
    assert twice["job"]["id"] == build["job"]["id"]  # the build under way, not a second one

    job = _finished(client, build["job"]["id"], timeout=400)
    assert job["status"] == "completed", job["reason"]
    model_id = job["result"]["model_id"]
    folder = (settings.data_dir / "models" / STARTER_NAME).resolve()
    model = client.get(f"/api/models/{model_id}").json()
    assert model["path"] == str(folder) and model["name"].startswith("SmolLM2-135M-Instruct")
    assert model["info"]["model_type"] == "llama" and model["info"]["has_chat_template"]
    assert (folder / "model.safetensors").stat().st_size == (
        smollm2 / "model.safetensors"
    ).stat().st_size
    assert sorted(p.name for p in folder.parent.iterdir()) == [".cache", STARTER_NAME]

    again = client.post("/api/models/starter")
    assert again.status_code == 200 and again.json()["model"]["id"] == model_id
    assert [m["id"] for m in client.get("/api/models").json()["local"]] == [model_id]
    logs = client.get(f"/api/jobs/{job['id']}/logs").json()["lines"]
    assert any(f"model:{model_id}" in line["message"] for line in logs)
    assert not any("Downloading" in line["message"] for line in logs)


def test_delete_registered_model_keeps_its_files(client, tiny_model):
    model = client.post("/api/models", json={"path": str(tiny_model)}).json()
    assert client.delete(f"/api/models/{model['id']}").status_code == 204
    assert (tiny_model / "config.json").is_file()
    assert client.get(f"/api/models/{model['id']}").status_code == 404
    assert client.delete(f"/api/models/{model['id']}").status_code == 404


@pytest.mark.parametrize(
    "path", ["relative/folder", "/no/such/folder", "/etc/hostname", "/", "/" + "a" * 300, "~x/y"]
)
def test_register_bad_folder_is_422(client, path):
    r = client.post("/api/models", json={"path": path})
    assert r.status_code == 422
    assert r.json()["code"] == "model_error"


def test_register_folder_without_sizes_is_422(client, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "x"}))
    r = client.post("/api/models", json={"path": str(tmp_path / "m")})
    assert r.status_code == 422 and r.json()["code"] == "model_error"


def test_estimate_for_a_catalog_model(client):
    r = client.post("/api/models/estimate", json=RUN)
    assert r.status_code == 200, r.text
    est = r.json()
    assert est["model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert est["verdict"] in ("fits", "tight", "wont_fit")
    parts = est["breakdown"]
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")
    assert est["total_gb"] > 0 and est["available_gb"] > 0


def test_estimate_for_a_registered_model(client, tiny_model):
    model = client.post("/api/models", json={"path": str(tiny_model)}).json()
    run = {**RUN, "model": {"name_or_path": f"model:{model['id']}"}}
    r = client.post("/api/models/estimate", json=run)
    assert r.status_code == 200, r.text
    assert r.json()["model"] == f"model:{model['id']}"
    assert r.json()["parameters"] == model["info"]["parameters"]


@pytest.mark.parametrize("name", ["/etc", "./tiny", "model:" + "0" * 32])
def test_estimate_refuses_paths_and_unknown_models(client, name):
    r = client.post("/api/models/estimate", json={**RUN, "model": {"name_or_path": name}})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_config"
    assert body["errors"][0]["loc"] == "model.name_or_path"


def test_estimate_with_invalid_config_is_422_with_paths(client):
    r = client.post("/api/models/estimate", json={**RUN, "train": {"batch_size": 0}})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_config"
    assert r.json()["errors"][0]["loc"] == "train.batch_size"


def test_estimate_for_an_unknown_uncached_hub_model_is_422(client, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = client.post("/api/models/estimate", json={**RUN, "model": {"name_or_path": "x/unknown"}})
    assert r.status_code == 422
    assert r.json()["code"] == "model_error"


def test_moved_model_folder_gives_4xx_not_500(client, tiny_model, tmp_path, formats_dir, upload):
    copy = tmp_path / "moved"
    shutil.copytree(tiny_model, copy)
    model = client.post("/api/models", json={"path": str(copy)}).json()
    shutil.rmtree(copy)
    run = {**RUN, "model": {"name_or_path": f"model:{model['id']}"}}
    assert client.post("/api/models/estimate", json=run).status_code == 422
    ds = upload(client, "a.json", formats_dir / "alpaca_sample.json").json()
    r = client.get(f"/api/datasets/{ds['id']}/preview", params={"model": f"model:{model['id']}"})
    assert r.status_code == 422
