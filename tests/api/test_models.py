"""/api/models: the catalog, registered local folders, adapters of finished jobs, estimates."""

from __future__ import annotations

import json
import shutil

import pytest

from loralab.models import list_catalog
from loralab.store import JobRow, utcnow

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


@pytest.mark.slow
def test_demo_model_is_built_once_in_the_data_dir_with_an_estimate(client, settings):
    r = client.post("/api/models/demo", json={"arch": "qwen2"})
    assert r.status_code == 200, r.text
    model = r.json()
    folder = (settings.data_dir / "models" / "tiny-qwen2").resolve()
    assert model["path"] == str(folder) and model["kind"] == "local"
    assert model["info"]["model_type"] == "qwen2" and model["info"]["has_chat_template"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no scratch left

    again = client.post("/api/models/demo", json={})  # qwen2 is the default
    assert again.json()["id"] == model["id"]
    assert [m["id"] for m in client.get("/api/models").json()["local"]] == [model["id"]]
    est = client.post(
        "/api/models/estimate", json={**RUN, "model": {"name_or_path": f"model:{model['id']}"}}
    )
    assert est.status_code == 200 and est.json()["verdict"] == "fits"


def test_demo_model_of_unknown_architecture_is_422(client, settings):
    r = client.post("/api/models/demo", json={"arch": "gpt-9"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "arch"
    assert not (settings.data_dir / "models").exists()


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


def test_adapters_of_completed_jobs_are_listed(bare_client, db, tmp_path):
    def job(job_id, status, with_adapter):
        out = tmp_path / "runs" / job_id
        if with_adapter:
            (out / "adapter").mkdir(parents=True)
            cfg = {"base_model_name_or_path": "Qwen/Qwen2.5-0.5B-Instruct", "r": 8}
            (out / "adapter" / "adapter_config.json").write_text(json.dumps(cfg))
        return JobRow(
            id=job_id,
            name=f"run {job_id[:2]}",
            status=status,
            config=RUN,
            output_dir=str(out),
            finished_at=utcnow(),
        )

    with db.write() as session:
        session.add(job("a" * 32, "completed", True))
        session.add(job("b" * 32, "completed", False))  # finished, but wrote no adapter
        session.add(job("c" * 32, "failed", True))
    adapters = bare_client.get("/api/models").json()["adapters"]
    assert [a["id"] for a in adapters] == ["a" * 32]
    adapter = adapters[0]
    assert adapter["kind"] == "adapter" and adapter["job_id"] == "a" * 32
    assert adapter["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert adapter["path"].endswith("/adapter")
    assert bare_client.get(f"/api/models/{'a' * 32}").json()["name"] == "run aa"
    assert bare_client.get(f"/api/models/{'c' * 32}").status_code == 404


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
