"""``/api/exports`` end to end: the real app and scheduler, a real worker process exporting a
LoRA of the tiny Qwen2 model; the estimate; downloads by name only; and the 4xx answers for an
unknown adapter, an unknown quantization, a GGUF LoRA, missing tools and a full disk."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from loralab.export.formats import ToolStatus
from loralab.store.events import events_after
from loralab.store.jobs import reading
from loralab.store.models import add_model


@pytest.fixture
def adapter_id(bare_client, db, tiny_model, qwen_lora) -> str:
    with db.write() as session:
        model = add_model(session, name="tiny qwen2", path=str(tiny_model))
    r = bare_client.post(
        "/api/adapters/register",
        json={"path": str(qwen_lora), "base_model": f"model:{model.id}", "name": "tiny lora"},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def wait_done(client, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/exports/{job_id}").json()
        if job["status"] in ("completed", "failed", "stopped", "interrupted"):
            return job
        time.sleep(0.5)
    pytest.fail(f"export {job_id} did not end in {timeout} s")


@pytest.mark.slow
def test_export_job_end_to_end_makes_files_and_a_parity_report(client, db, adapter_id, settings):
    body = {
        "adapter": f"adapter:{adapter_id}",
        "formats": ["adapter", "gguf"],
        "quantizations": ["f16", "q4_k_m"],
        "parity_prompts": ["Say hi.", "Count to three."],
    }
    r = client.post("/api/exports", json=body)
    assert r.status_code == 201, r.text
    queued = r.json()
    assert queued["kind"] == "export" and queued["adapter_id"] == adapter_id
    job = wait_done(client, queued["id"])
    logs = client.get(f"/api/jobs/{job['id']}/logs").text
    assert job["status"] == "completed", f"{job['reason']}\n{logs}"
    assert job["progress"] == 1.0

    result = job["result"]
    names = [f["name"] for f in result["files"]]
    assert "gguf/tiny-lora-f16.gguf" in names and "gguf/tiny-lora-q4_k_m.gguf" in names
    assert "merged" not in names  # made for the GGUF in .work/, then removed
    assert {"adapter", "Modelfile", "README.md", "parity.json"} <= set(names)
    out = Path(settings.data_dir) / "exports" / job["id"]
    assert not (out / ".work").exists()
    f16 = next(q for q in result["parity"]["quantizations"] if q["quantization"] == "f16")
    assert f16["passed"] is True and f16["tokenization_equal"]
    assert result["suspect"] is False
    assert "Parity f16" in logs
    with reading(db) as session:
        events = events_after(session, job["id"], 0, 1000)
    phases = [e.data["phase"] for e in events if e.type == "phase"]
    assert phases == ["adapter", "merge", "gguf", "quantize", "parity", "modelfile", "card"]

    url = f"/api/exports/{job['id']}/files"
    got = client.get(f"{url}/gguf/tiny-lora-f16.gguf")
    assert got.status_code == 200
    assert got.content == (out / "gguf" / "tiny-lora-f16.gguf").read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{url}/adapter").content))
    assert "adapter/adapter_model.safetensors" in archive.namelist()
    for bad in ("merged", ".work/f16.gguf", "gguf/%2e%2e/%2e%2e/%2e%2e/loralab.db"):
        r = client.get(f"{url}/{bad}")
        assert r.status_code == 404 and r.json()["code"] == "export_file_not_found", bad
    # A client collapses ../ before sending: that names no export at all.
    assert client.get(f"{url}/../../loralab.db").status_code == 404

    assert [e["id"] for e in client.get("/api/exports").json()] == [job["id"]]


def test_estimate_gives_sizes_per_format_and_quantization_and_the_tools(bare_client, adapter_id):
    r = bare_client.get("/api/exports/estimate", params={"adapter": f"adapter:{adapter_id}"})
    assert r.status_code == 200, r.text
    est = r.json()
    assert est["parameters"] > 1_000_000
    assert est["formats"]["adapter"] > 0 and est["formats"]["merged"] > 2 * est["parameters"]
    sizes = {q["name"]: q["size_bytes"] for q in est["quantizations"]}
    assert sizes["f16"] > sizes["q8_0"] > sizes["q4_k_m"]
    assert est["converter"] and est["llama_cpp"] and est["fix"] is None
    assert all(q["available"] for q in est["quantizations"])
    assert est["free_bytes"] > 0


def test_export_of_an_unknown_adapter_is_422(bare_client):
    r = bare_client.post("/api/exports", json={"adapter": "adapter:nope"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == "config.adapter"
    r = bare_client.get("/api/exports/estimate", params={"adapter": "adapter:nope"})
    assert r.status_code == 422


def test_unknown_quantization_is_422(bare_client, adapter_id):
    body = {"adapter": f"adapter:{adapter_id}", "quantizations": ["q9_x"]}
    r = bare_client.post("/api/exports", json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"].startswith("quantizations")


def test_gguf_lora_says_it_is_not_available(bare_client, adapter_id):
    body = {"adapter": f"adapter:{adapter_id}", "gguf_lora": True}
    r = bare_client.post("/api/exports", json=body)
    assert r.status_code == 422
    assert any(e["loc"] == "config.gguf_lora" for e in r.json()["errors"])


def test_missing_llama_cpp_refuses_k_quants_and_parity_with_the_fix(
    bare_client, adapter_id, monkeypatch
):
    import loralab.jobs.export_job as export_job

    missing = ToolStatus(
        converter=True, converter_path="/x", llama_cpp=False, fix="pip install -e '.[gguf]'"
    )
    monkeypatch.setattr(export_job, "tool_status", lambda: missing)
    body = {"adapter": f"adapter:{adapter_id}", "quantizations": ["f16", "q4_k_m"]}
    r = bare_client.post("/api/exports", json=body)
    assert r.status_code == 422
    errors = {e["loc"]: e for e in r.json()["errors"]}
    assert set(errors) == {"config.quantizations.1", "config.parity"}
    assert ".[gguf]" in errors["config.parity"]["fix"]
    # F16 without parity needs only the converter.
    body.update(quantizations=["f16"], parity=False, formats=["gguf"])
    assert bare_client.post("/api/exports", json=body).status_code == 201


def test_export_that_does_not_fit_on_disk_is_507_with_the_numbers(
    bare_client, adapter_id, monkeypatch
):
    import loralab.export.estimate as estimate

    monkeypatch.setattr(estimate, "free_disk_bytes", lambda path: 1000)
    r = bare_client.post("/api/exports", json={"adapter": f"adapter:{adapter_id}"})
    assert r.status_code == 507
    problem = r.json()
    assert problem["code"] == "insufficient_storage"
    assert "1000 bytes" in problem["errors"][0]["message"]
    assert bare_client.get("/api/exports").json() == []
