"""``/api/jobs`` REST: submitting, validation with field paths, references resolved on the server,
and the 404/409/422 answers. These use ``bare_client`` (no scheduler), so the rows a test writes
stay as written; the runs themselves are tested with real workers in ``tests/jobs``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from loralab.store.datasets import create_dataset
from loralab.store.events import events_after
from loralab.store.jobs import add_job, claim_queued_jobs, lock_job, reading, set_status
from loralab.store.models import add_model
from loralab.store.tables import JobRow


@pytest.fixture
def refs(db, settings, tmp_path) -> dict[str, str]:
    """A registered dataset file and local model: ``{"dataset": "dataset:<id>", "model": ...}``."""
    folder = Path(settings.data_dir) / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}.jsonl"
    (folder / stored).write_text('{"prompt": "hi", "completion": "hello"}\n')
    with db.write() as session:
        dataset = create_dataset(
            session, name="tiny", kind="upload", stored_name=stored, status="ready", format="auto"
        )
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    with db.write() as session:
        model = add_model(session, name="m", path=str(model_dir))
    return {"dataset": f"dataset:{dataset.id}", "model": f"model:{model.id}", "file": stored}


def body(refs, **sections) -> dict:
    config = {
        "model": {"name_or_path": refs["model"]},
        "data": {"source": refs["dataset"]},
        "train": {"max_steps": 2},
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    return {"config": config}


def submit(client, refs, **sections) -> dict:
    response = client.post("/api/jobs", json=body(refs, **sections))
    assert response.status_code == 201, response.text
    return response.json()


def move_to(db, job_id: str, status: str) -> None:
    """Arrange a job's status the way the scheduler and worker would."""
    with db.write() as session:
        if status in ("running", "completed", "stopped", "failed", "interrupted"):
            claim_queued_jobs(session, 1)
        if status != "running":
            set_status(session, lock_job(session, job_id), status)


def test_submit_queues_a_job_with_server_side_paths(bare_client, db, settings, refs):
    job = submit(bare_client, refs)

    assert job["status"] == "queued" and job["kind"] == "train" and job["attempts"] == 0
    runs = Path(settings.data_dir).resolve() / "runs"
    assert job["config"]["output"]["dir"] == str(runs / job["id"])
    assert job["config"]["data"]["source"] == str(
        Path(settings.data_dir).resolve() / "datasets" / refs["file"]
    )
    assert job["config"]["model"]["name_or_path"].endswith("/model")
    assert job["dataset_id"] == refs["dataset"].removeprefix("dataset:")
    assert (runs / job["id"]).is_dir()
    assert bare_client.get(f"/api/jobs/{job['id']}").json() == job
    assert [j["id"] for j in bare_client.get("/api/jobs").json()] == [job["id"]]
    with reading(db) as session:
        events = events_after(session, job["id"], 0)
    assert [(e.seq, e.type, e.data["status"]) for e in events] == [(1, "status", "queued")]


def test_invalid_config_returns_422_with_field_paths(bare_client, refs):
    response = bare_client.post(
        "/api/jobs", json=body(refs, lora={"r": 0}, train={"learning_rate": -1, "typo": 1})
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_config"
    assert response.headers["content-type"].startswith("application/problem+json")
    locs = {e["loc"] for e in problem["errors"]}
    assert {"config.lora.r", "config.train.learning_rate", "config.train.typo"} <= locs


def test_cross_field_problem_returns_422_with_its_path(bare_client, refs):
    response = bare_client.post("/api/jobs", json=body(refs, train={"eval_steps": 5}))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_config"
    assert [e["loc"] for e in response.json()["errors"]] == ["config.train.eval_steps"]


@pytest.mark.parametrize(
    ("section", "value", "loc"),
    [
        ("data", {"source": "/etc/passwd"}, "config.data.source"),
        ("data", {"source": "../../secret.jsonl"}, "config.data.source"),
        ("data", {"source": "data/train.jsonl"}, "config.data.source"),
        ("data", {"source": "dataset:0123456789abcdef0123456789abcdef"}, "config.data.source"),
        ("data", {"eval_split": "/etc/passwd"}, "config.data.eval_split"),
        ("model", {"name_or_path": "/root/.ssh"}, "config.model.name_or_path"),
        ("model", {"name_or_path": "../model"}, "config.model.name_or_path"),
        ("model", {"name_or_path": "model:nope"}, "config.model.name_or_path"),
    ],
)
def test_paths_and_unknown_references_are_refused(bare_client, refs, section, value, loc):
    response = bare_client.post("/api/jobs", json=body(refs, **{section: value}))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_config"
    assert loc in [e["loc"] for e in response.json()["errors"]]


def test_hub_ids_are_accepted(bare_client, refs):
    job = submit(
        bare_client,
        refs,
        model={"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"},
        data={"source": "mlabonne/FineTome-100k"},
    )
    assert job["config"]["data"]["source"] == "mlabonne/FineTome-100k"


def test_invalid_dataset_is_refused(bare_client, db, refs):
    with db.write() as session:
        dataset = create_dataset(
            session, name="bad", kind="upload", stored_name="x.jsonl", status="invalid"
        )
    response = bare_client.post(
        "/api/jobs", json=body(refs, data={"source": f"dataset:{dataset.id}"})
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == "config.data.source"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ""),
        ("post", "/cancel"),
        ("post", "/resume"),
        ("delete", ""),
        ("get", "/metrics"),
        ("get", "/logs"),
        ("get", "/checkpoints"),
        ("get", "/run-card"),
    ],
)
def test_unknown_job_returns_404(bare_client, method, path):
    response = bare_client.request(method, f"/api/jobs/{uuid.uuid4().hex}{path}")
    assert response.status_code == 404
    assert response.json()["code"] == "job_not_found"


@pytest.mark.parametrize("status", ["completed", "stopped", "failed", "interrupted"])
def test_cancel_finished_job_returns_409(bare_client, db, refs, status):
    job = submit(bare_client, refs)
    move_to(db, job["id"], status)
    response = bare_client.post(f"/api/jobs/{job['id']}/cancel")
    assert response.status_code == 409
    assert response.json()["code"] == "job_not_running"


@pytest.mark.parametrize("status", ["queued", "running", "completed"])
def test_resume_unless_stopped_interrupted_or_failed_returns_409(bare_client, db, refs, status):
    job = submit(bare_client, refs)
    move_to(db, job["id"], status)
    response = bare_client.post(f"/api/jobs/{job['id']}/resume")
    assert response.status_code == 409
    assert response.json()["code"] == "job_not_resumable"


def test_cancel_queued_job_stops_it_and_resume_queues_it_again(bare_client, refs):
    job = submit(bare_client, refs)
    stopped = bare_client.post(f"/api/jobs/{job['id']}/cancel").json()
    assert stopped["status"] == "stopped" and stopped["reason"]
    resumed = bare_client.post(f"/api/jobs/{job['id']}/resume").json()
    assert resumed["status"] == "queued" and resumed["reason"] is None


def test_cancel_running_job_requests_a_graceful_stop(bare_client, db, refs):
    job = submit(bare_client, refs)
    move_to(db, job["id"], "running")
    response = bare_client.post(f"/api/jobs/{job['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "running" and response.json()["cancel_requested"] is True
    with reading(db) as session:
        row = session.get(JobRow, job["id"])
    assert row.cancel_requested and row.cancel_requested_at is not None


def test_delete_running_job_returns_409(bare_client, db, refs):
    job = submit(bare_client, refs)
    move_to(db, job["id"], "running")
    response = bare_client.delete(f"/api/jobs/{job['id']}")
    assert response.status_code == 409
    assert response.json()["code"] == "job_running"


def test_delete_removes_the_job_its_events_and_its_folder(bare_client, db, settings, refs):
    job = submit(bare_client, refs)
    move_to(db, job["id"], "completed")
    folder = Path(job["config"]["output"]["dir"])
    (folder / "adapter").mkdir(parents=True)

    assert bare_client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert not folder.exists()
    assert bare_client.get(f"/api/jobs/{job['id']}").status_code == 404
    with reading(db) as session:
        assert events_after(session, job["id"], 0) == []


def test_list_filters_by_status(bare_client, db, refs):
    first, second = submit(bare_client, refs), submit(bare_client, refs)
    move_to(db, first["id"], "failed")
    failed = bare_client.get("/api/jobs", params={"status": "failed"}).json()
    queued = bare_client.get("/api/jobs", params={"status": "queued"}).json()
    assert [j["id"] for j in failed] == [first["id"]]
    assert [j["id"] for j in queued] == [second["id"]]
    response = bare_client.get("/api/jobs", params={"status": "nope"})
    assert response.status_code == 422 and response.json()["code"] == "invalid_status"


def test_outputs_of_a_job_that_has_not_run(bare_client, refs):
    job = submit(bare_client, refs)
    base = f"/api/jobs/{job['id']}"
    assert bare_client.get(f"{base}/metrics").json() == {
        "steps": [],
        "evals": [],
        "warmup_steps": [],
    }
    assert bare_client.get(f"{base}/logs").json() == {"lines": []}
    assert bare_client.get(f"{base}/checkpoints").json() == []
    card = bare_client.get(f"{base}/run-card")
    assert card.status_code == 404 and card.json()["code"] == "run_card_not_found"
    assert bare_client.get(f"{base}/logs", params={"tail": 0}).status_code == 422


def test_nul_characters_are_refused_at_their_field_and_nothing_is_stored(bare_client, refs):
    # PostgreSQL text cannot hold NUL; the answer is a 422 at the field on both backends.
    bad = body(refs, data={"system_prompt": "be brief\x00"})
    bad["name"] = "run\x00"
    response = bare_client.post("/api/jobs", json=bad)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_request"  # the body itself, before the spec is read
    errors = {e["loc"]: e["message"] for e in problem["errors"]}
    assert {"name", "config"} <= set(errors)
    assert "data.system_prompt" in errors["config"]
    assert bare_client.get("/api/jobs").json() == []


@pytest.mark.parametrize(
    "path", ["/api/jobs/%00", "/api/jobs/%00/logs", "/api/jobs?status=%00", "/api/datasets/%00"]
)
def test_nul_in_a_path_or_query_is_a_4xx(bare_client, refs, path):
    submit(bare_client, refs)
    response = bare_client.get(path)

    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert len(bare_client.get("/api/jobs").json()) == 1


def test_unknown_or_server_only_kind_is_422_and_nothing_is_stored(bare_client, refs):
    for kind in ("no-such-kind", "validate", "demo_model"):
        response = bare_client.post("/api/jobs", json={**body(refs), "kind": kind})
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "unknown_job_kind"
        assert problem["errors"][0]["loc"] == "kind" and "train" in problem["fix"]
    assert bare_client.get("/api/jobs").json() == []


def test_kinds_are_listed_with_what_they_need(bare_client):
    kinds = {k["name"]: k for k in bare_client.get("/api/jobs/kinds").json()}
    assert {"train", "validate", "demo_model"} <= set(kinds)
    train = kinds["train"]
    assert train["device"] and train["resumable"] and train["submittable"]
    assert train["outputs"] == "runs" and "adapter" in train["refers_to"]
    assert not kinds["validate"]["device"] and not kinds["validate"]["submittable"]


def test_runs_and_other_jobs_are_listed_apart(bare_client, db, refs):
    run = submit(bare_client, refs)
    with db.write() as session:
        add_job(session, job_id="v" * 32, kind="validate", config={}, name="validate tiny")
    runs = bare_client.get("/api/jobs", params={"kind": "train"}).json()
    others = bare_client.get("/api/jobs", params={"exclude_kind": "train"}).json()
    assert [j["id"] for j in runs] == [run["id"]] and runs[0]["kind_title"] == "Training run"
    assert [j["id"] for j in others] == ["v" * 32] and others[0]["resumable"] is False
    both = bare_client.get("/api/jobs", params={"kind": "train,validate"}).json()
    assert len(both) == 2
    bad = bare_client.get("/api/jobs", params={"kind": "nope"})
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_job_kind"


def test_a_job_whose_kind_does_not_resume_is_409(bare_client, db):
    with db.write() as session:
        add_job(session, job_id="v" * 32, kind="validate", config={})
        lock_job(session, "v" * 32).status = "failed"
    response = bare_client.post(f"/api/jobs/{'v' * 32}/resume")
    assert response.status_code == 409 and response.json()["code"] == "job_not_resumable"
