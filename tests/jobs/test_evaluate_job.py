"""Evaluation and batch testing end to end: the real app and scheduler, real worker processes,
the tiny model trained for two steps on the CPU, answers of 8 tokens, a local judge."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from evaluation.conftest import judge_server  # noqa: F401  (the local OpenAI-shaped judge)
from loralab.store.events import events_after
from loralab.store.jobs import reading

from .conftest import run_config
from .jobs_support import wait_status

pytestmark = pytest.mark.slow

METRIC_NAMES = {"exact_match", "token_f1", "rouge_l", "bleu"}


def log_of(settings, job_id: str) -> str:
    for root in ("evaluations", "runs"):
        path = Path(settings.data_dir).resolve() / root / job_id / "logs" / "worker.log"
        if path.exists():
            return path.read_text(errors="replace")
    return "(no worker log)"


def finish(client, db, settings, body: dict) -> dict:
    r = client.post("/api/jobs", json=body)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    row = wait_status(db, job_id, ("completed", "failed", "stopped", "interrupted"), 300)
    assert row.status == "completed", f"{row.reason}\n{log_of(settings, job_id)}"
    return client.get(f"/api/jobs/{job_id}").json()


@pytest.fixture
def trained(client, db, settings, inputs) -> dict:
    """A two-step training run of the tiny model that held out 10% of its rows."""
    model_id, dataset_id = inputs
    config = run_config(model_id, dataset_id, max_steps=2, save_steps=1)
    config["data"]["eval_fraction"] = 0.1
    return finish(client, db, settings, {"config": config, "name": "tiny"})


def test_evaluation_of_a_run_on_its_held_out_rows(client, db, settings, trained, judge_server):  # noqa: F811
    run_dir = Path(trained["config"]["output"]["dir"])
    heldout = run_dir / "data" / "heldout.jsonl"
    assert len(heldout.read_text().splitlines()) == 4  # 10% of the 40 rows
    card = json.loads((run_dir / "run_card.json").read_text())
    assert card["data"]["heldout_file"] == "data/heldout.jsonl"
    adapter_id = trained["result"]["adapter_id"]

    spec = {
        "adapter": f"adapter:{adapter_id}",
        "max_samples": 3,
        "sampling": {"max_tokens": 8},
        "checkpoints": [1],
        "judge": {"base_url": judge_server.base_url, "model": "reference", "api_key": "sk-x"},
        "price_per_gpu_hour": 3.6,
    }
    job = finish(client, db, settings, {"kind": "evaluate", "config": spec})
    assert job["parent_id"] == trained["id"] and job["adapter_id"] == adapter_id
    assert job["step"] == job["total_steps"] == 6 and job["progress"] == 1.0  # 3 samples x 2

    result = job["result"]
    assert result["samples"] == 3
    for side in ("base", "tuned"):
        assert set(result["metrics"][side]) == METRIC_NAMES
        assert result["metrics"][side]["rouge_l"]["n"] == 3
        assert result["speed"][side]["tokens_per_second"] > 0
        assert result["cost_per_1k_requests"][side] > 0
    assert set(result["deltas"]) == METRIC_NAMES
    assert [c["step"] for c in result["checkpoints"]] == [1]
    assert result["judge"]["judged"] == 3 and result["judge"]["failed"] == 0
    assert result["device"] == "cpu" and result["tuned_label"]
    out = Path(settings.data_dir) / "evaluations" / job["id"]
    assert not (out / "judge_key").exists()  # the key goes when the job ends

    with reading(db) as session:
        events = events_after(session, job["id"], 0, 1000)
    steps = [e.data["step"] for e in events if e.type == "step"]
    assert steps == [2, 4, 6]

    page = client.get(f"/api/evaluations/{job['id']}/samples", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["samples"]) == 2
    sample = page["samples"][0]
    assert sample["reference"] and sample["base"]["length"] <= 8
    assert set(sample["metrics"]["tuned"]) == METRIC_NAMES
    assert sample["judge"]["winner"] in ("tuned", "base", "tie")
    assert set(sample["checkpoints"]) == {"1"}
    assert sample["prompt"] == sample["messages"][-1]["content"]

    # The arena on the real samples: a pair, a vote, the reveal.
    pair = client.get(f"/api/evaluations/{job['id']}/arena/next").json()
    assert pair["sample_id"] == sample["id"]
    vote = client.post(
        f"/api/evaluations/{job['id']}/votes", json={"sample_id": pair["sample_id"], "choice": "a"}
    ).json()
    shown_a = sample[vote["reveal"]["a"]]["text"]
    assert pair["a"] == shown_a and vote["summary"]["votes"][vote["winner"]] == 1

    exported = client.get(f"/api/jobs/{job['id']}/results", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    assert len(rows) == 3 and rows[0]["tuned_text"] == sample["tuned"]["text"]
    assert [j["id"] for j in client.get("/api/evaluations").json()] == [job["id"]]


def test_batch_answers_with_an_adapter_and_downloads(client, db, settings, trained):
    lines = ["What is an index fund?", "Say hi.", "Name a colour."]
    spec = {
        "model": f"adapter:{trained['result']['adapter_id']}",
        "lines": lines,
        "sampling": {"max_tokens": 8},
    }
    job = finish(client, db, settings, {"kind": "generate", "config": spec})
    assert job["result"]["count"] == 3 and job["result"]["exact_match"] is None
    assert job["result"]["tokens_per_second"] > 0 and job["step"] == 3
    rows = client.get(f"/api/jobs/{job['id']}/results").json()
    assert [r["prompt"] for r in rows] == lines
    assert all(
        0 < r["completion_tokens"] <= 8 and r["finish_reason"] in ("stop", "length") for r in rows
    )
    as_csv = client.get(f"/api/jobs/{job['id']}/results", params={"format": "csv"}).text
    assert [r["prompt"] for r in csv.DictReader(io.StringIO(as_csv, newline=""))] == lines
