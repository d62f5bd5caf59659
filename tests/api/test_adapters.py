"""``/api/adapters``: register, check against the base model, download, promote, delete; and
``adapter:<id>`` accepted by the estimate and the job submission alike."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from loralab.store.jobs import add_job, lock_job, new_job_id

RUN = {"data": {"source": "mlabonne/FineTome-100k"}, "train": {"max_steps": 2}}


@pytest.fixture
def base(bare_client, tiny_model) -> str:
    """The tiny model, registered: model:<id>."""
    r = bare_client.post("/api/models", json={"path": str(tiny_model)})
    assert r.status_code == 201, r.text
    return f"model:{r.json()['id']}"


@pytest.fixture
def adapter_dir(peft_adapter, tmp_path) -> Path:
    """A private copy of a real PEFT adapter of the tiny model."""
    return Path(shutil.copytree(peft_adapter, tmp_path / "my-adapter"))


def register(client, path, base_model, **extra):
    return client.post(
        "/api/adapters/register", json={"path": str(path), "base_model": base_model, **extra}
    )


def test_registered_adapter_is_listed_and_downloads_as_a_zip_peft_loads(
    bare_client, base, adapter_dir, tiny_model, tmp_path
):
    r = register(bare_client, adapter_dir, base, name="my lora")
    assert r.status_code == 201, r.text
    adapter = r.json()
    assert adapter["source"] == "external" and adapter["name"] == "my lora"
    assert adapter["base_ref"] == base and adapter["base_model"] == str(tiny_model.resolve())
    assert adapter["info"]["r"] == 4
    assert sorted(adapter["info"]["target_modules"]) == ["q_proj", "v_proj"]
    assert {f["name"] for f in adapter["files"]} == {
        "adapter_config.json",
        "adapter_model.safetensors",
        "README.md",
    }
    assert adapter["size_bytes"] == sum(f["size_bytes"] for f in adapter["files"])
    assert [a["id"] for a in bare_client.get("/api/adapters").json()] == [adapter["id"]]

    download = bare_client.get(f"/api/adapters/{adapter['id']}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert "my-lora-" in download.headers["content-disposition"]
    unzipped = tmp_path / "unzipped"
    zipfile.ZipFile(io.BytesIO(download.content)).extractall(unzipped)

    # A plain PEFT user loads what they downloaded.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), unzipped)
    assert model.peft_config["default"].r == 4

    again = register(bare_client, adapter_dir, base)
    assert again.status_code == 409 and again.json()["code"] == "adapter_exists"


def test_adapter_of_another_model_is_refused_at_base_model(bare_client, adapter_dir, tmp_path):
    wider = tmp_path / "wider"
    wider.mkdir()
    base_config = {
        "model_type": "qwen2",
        "architectures": ["Qwen2ForCausalLM"],
        "hidden_size": 384,
        "intermediate_size": 768,
        "num_attention_heads": 6,
        "num_key_value_heads": 2,
        "num_hidden_layers": 2,
        "vocab_size": 2149,
    }
    (wider / "config.json").write_text(json.dumps(base_config))
    model = bare_client.post("/api/models", json={"path": str(wider)}).json()

    r = register(bare_client, adapter_dir, f"model:{model['id']}")
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "invalid_adapter"
    assert problem["errors"][0]["loc"] == "base_model" and "384" in problem["errors"][0]["message"]
    assert bare_client.get("/api/adapters").json() == []


@pytest.mark.parametrize(
    ("case", "loc"),
    [("pickle", "path"), ("no_config", "path"), ("not_lora", "path"), ("garbage", "path")],
)
def test_broken_adapter_folders_are_422_and_nothing_is_loaded(
    bare_client, base, adapter_dir, case, loc
):
    weights = adapter_dir / "adapter_model.safetensors"
    if case == "pickle":  # a .bin is a pickle: never loaded
        weights.rename(adapter_dir / "adapter_model.bin")
    elif case == "no_config":
        (adapter_dir / "adapter_config.json").unlink()
    elif case == "not_lora":
        (adapter_dir / "adapter_config.json").write_text(json.dumps({"peft_type": "PROMPT_TUNING"}))
    else:
        weights.write_bytes(b"\xff" * 64)
    r = register(bare_client, adapter_dir, base)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_adapter"
    assert r.json()["errors"][0]["loc"] == loc
    assert r.json()["fix"]


@pytest.mark.parametrize("base_model", ["adapter:nope", "model:nope", "../etc", "/abs/path", "a b"])
def test_unknown_or_path_base_model_is_422(bare_client, adapter_dir, base_model):
    r = register(bare_client, adapter_dir, base_model)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == "base_model"


def test_relative_or_missing_adapter_path_is_422(bare_client, base):
    for path in ("relative/dir", "/no/such/dir"):
        r = register(bare_client, path, base)
        assert r.status_code == 422 and r.json()["code"] == "invalid_adapter"


def test_estimate_and_submission_take_the_same_adapter_reference(
    bare_client, base, adapter_dir, tiny_model, db, settings, tmp_path
):
    adapter = register(bare_client, adapter_dir, base).json()
    ref = f"adapter:{adapter['id']}"
    estimate = bare_client.post(
        "/api/models/estimate", json={**RUN, "model": {"name_or_path": ref}}
    )
    assert estimate.status_code == 200, estimate.text
    assert estimate.json()["model"] == ref

    # The same reference starts a run that continues training the adapter.
    stored = "d" * 32 + ".jsonl"
    (settings.data_dir / "datasets" / stored).write_text('{"prompt": "a", "completion": "b"}\n')
    from loralab.store.datasets import create_dataset

    with db.write() as session:
        dataset = create_dataset(
            session, name="d", kind="upload", stored_name=stored, status="ready", format="auto"
        )
    body = {
        "config": {
            **RUN,
            "data": {"source": f"dataset:{dataset.id}"},
            "model": {"name_or_path": ref},
        }
    }
    job = bare_client.post("/api/jobs", json=body)
    assert job.status_code == 201, job.text
    job = job.json()
    assert job["adapter_id"] == adapter["id"]
    assert job["config"]["model"]["name_or_path"] == str(tiny_model.resolve())
    assert job["config"]["model"]["adapter"] == str(adapter_dir.resolve())
    assert bare_client.get(f"/api/adapters/{adapter['id']}").json()["in_use_by"] == [job["id"]]

    # In use: deleting it is refused, and nothing changes.
    busy = bare_client.delete(f"/api/adapters/{adapter['id']}")
    assert busy.status_code == 409 and busy.json()["code"] == "adapter_in_use"
    assert bare_client.get(f"/api/adapters/{adapter['id']}").status_code == 200

    bare_client.post(f"/api/jobs/{job['id']}/cancel")
    assert bare_client.delete(f"/api/adapters/{adapter['id']}").status_code == 204
    assert bare_client.get(f"/api/adapters/{adapter['id']}").status_code == 404
    assert (adapter_dir / "adapter_model.safetensors").is_file()  # a registered folder stays
    assert bare_client.get(f"/api/jobs/{job['id']}").json()["adapter_id"] is None

    gone = bare_client.post("/api/models/estimate", json={**RUN, "model": {"name_or_path": ref}})
    assert gone.status_code == 422 and gone.json()["errors"][0]["loc"] == "model.name_or_path"
    refused = bare_client.post("/api/jobs", json=body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == "config.model.name_or_path"


def _completed_run_with_checkpoints(db, settings, adapter_dir, steps=(2, 4)):
    job_id = new_job_id()
    out = settings.data_dir / "runs" / job_id
    config = {"model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"}, "train": {"method": "sft"}}
    with db.write() as session:
        add_job(
            session,
            job_id=job_id,
            kind="train",
            config=config,
            name="tiny run",
            output_dir=str(out),
        )
        lock_job(session, job_id).status = "completed"
    for step in steps:
        folder = out / "checkpoints" / f"checkpoint-{step}"
        shutil.copytree(adapter_dir, folder)
        (folder / "optimizer.pt").write_bytes(b"not ours to copy")
        state = {"log_history": [{"step": 1, "loss": 2.5}, {"step": step, "loss": 1.25}]}
        (folder / "trainer_state.json").write_text(json.dumps(state))
        (folder / "COMPLETE").write_text(json.dumps({"step": step}))
    return job_id, out


def test_a_complete_checkpoint_is_promoted_to_an_adapter(bare_client, db, settings, adapter_dir):
    job_id, out = _completed_run_with_checkpoints(db, settings, adapter_dir)
    r = bare_client.post("/api/adapters/promote", json={"job_id": job_id, "step": 2})
    assert r.status_code == 201, r.text
    adapter = r.json()
    assert adapter["source"] == "checkpoint" and adapter["step"] == 2
    assert adapter["name"] == "tiny run @ step 2" and adapter["job_id"] == job_id
    assert adapter["metrics"] == {"train_loss": 1.25}
    assert adapter["base_ref"] == "Qwen/Qwen2.5-0.5B-Instruct"
    copy = Path(adapter["path"])
    assert copy.resolve().parent == (settings.data_dir / "adapters").resolve()
    assert not (copy / "optimizer.pt").exists() and (copy / "adapter_model.safetensors").is_file()

    missing = bare_client.post("/api/adapters/promote", json={"job_id": job_id, "step": 3})
    assert missing.status_code == 404 and missing.json()["code"] == "checkpoint_not_found"
    (out / "checkpoints" / "checkpoint-4" / "COMPLETE").unlink()
    partial = bare_client.post("/api/adapters/promote", json={"job_id": job_id, "step": 4})
    assert partial.status_code == 409 and partial.json()["code"] == "checkpoint_incomplete"
    nojob = bare_client.post("/api/adapters/promote", json={"job_id": "x" * 32, "step": 2})
    assert nojob.status_code == 404 and nojob.json()["code"] == "job_not_found"

    # Deleting the run keeps the promoted adapter (its files are its own).
    assert bare_client.delete(f"/api/jobs/{job_id}").status_code == 204
    kept = bare_client.get(f"/api/adapters/{adapter['id']}").json()
    assert kept["job_id"] is None and (copy / "adapter_model.safetensors").is_file()
    assert bare_client.delete(f"/api/adapters/{adapter['id']}").status_code == 204
    assert not copy.exists()


def test_unknown_adapter_is_404(bare_client):
    for method, path in [
        ("get", "/api/adapters/nope"),
        ("get", "/api/adapters/nope/download"),
        ("delete", "/api/adapters/nope"),
    ]:
        r = getattr(bare_client, method)(path)
        assert r.status_code == 404 and r.json()["code"] == "adapter_not_found"
