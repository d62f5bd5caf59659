"""A data dir made by the release before job kinds and adapters (schema 0001) starts in place:
its runs, events and datasets are all there, its validate jobs are listed apart from the runs,
and each finished run's adapter folder becomes an adapter resource. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from loralab.api.app import create_app
from loralab.config import Settings
from loralab.store import Database
from loralab.store.migrate import alembic_config

RUN_ID, VALIDATE_ID, DATASET_ID, MODEL_ID = "1" * 32, "2" * 32, "3" * 32, "4" * 32
STEPS = 4


def _table(name: str, *columns: str, json_columns: tuple[str, ...] = ()) -> sa.TableClause:
    return sa.table(
        name,
        *(sa.column(c, sa.JSON if c in json_columns else None) for c in columns),
    )


def _release_database(db: Database, data_dir: Path, tiny_model: Path, adapter: Path) -> None:
    """What the previous release wrote: rows at revision 0001 and a finished run's folder."""
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    start = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    run_dir = data_dir / "runs" / RUN_ID
    config = {
        "model": {"name_or_path": str(tiny_model)},
        "data": {"source": str(data_dir / "datasets" / "x.jsonl")},
        "train": {"method": "sft", "max_steps": STEPS},
        "output": {"dir": str(run_dir)},
        "name": "my first run",
    }
    jobs = _table(
        "jobs",
        "id",
        "kind",
        "name",
        "status",
        "config",
        "dataset_id",
        "output_dir",
        "cancel_requested",
        "resume_requested",
        "step",
        "total_steps",
        "progress",
        "metrics",
        "last_seq",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "updated_at",
        json_columns=("config", "metrics"),
    )
    events = _table(
        "job_events", "job_id", "seq", "type", "data", "created_at", json_columns=("data",)
    )
    datasets = _table(
        "datasets",
        "id",
        "name",
        "kind",
        "stored_name",
        "status",
        "format",
        "field_mapping",
        "report",
        "row_count",
        "created_at",
        "updated_at",
        json_columns=("field_mapping", "report"),
    )
    models = _table(
        "models", "id", "name", "kind", "path", "info", "created_at", json_columns=("info",)
    )
    common = {
        "cancel_requested": False,
        "resume_requested": False,
        "created_at": start,
        "updated_at": start,
        "started_at": start,
        "finished_at": start + timedelta(60),
    }
    with db.engine.begin() as conn:
        conn.execute(
            datasets.insert().values(
                id=DATASET_ID,
                name="support chats",
                kind="upload",
                stored_name="x.jsonl",
                status="ready",
                format="messages",
                field_mapping={},
                row_count=3,
                report={
                    "total_rows": 3,
                    "valid_rows": 3,
                    "_system_prompt": "Be brief.",
                    "_chosen": True,
                },
                created_at=start,
                updated_at=start,
            )
        )
        conn.execute(
            models.insert().values(
                id=MODEL_ID,
                name="tiny",
                kind="local",
                path=str(tiny_model),
                info={},
                created_at=start,
            )
        )
        conn.execute(
            jobs.insert().values(
                id=RUN_ID,
                kind="train",
                name="my first run",
                status="completed",
                config=config,
                dataset_id=DATASET_ID,
                output_dir=str(run_dir),
                step=STEPS,
                total_steps=STEPS,
                progress=1.0,
                metrics={"loss": 1.5, "train_loss": 1.7},
                last_seq=STEPS + 3,
                attempts=1,
                **common,
            )
        )
        conn.execute(
            jobs.insert().values(
                id=VALIDATE_ID,
                kind="validate",
                name="validate support chats",
                status="completed",
                config={"dataset_id": DATASET_ID, "data": {"source": "x"}},
                dataset_id=DATASET_ID,
                output_dir=str(data_dir / "runs" / VALIDATE_ID),
                last_seq=2,
                attempts=1,
                **common,
            )
        )
        rows = [
            ("status", {"status": "queued", "attempt": 0}),
            ("status", {"status": "running", "attempt": 1}),
        ]
        rows += [
            ("step", {"step": s, "total_steps": STEPS, "loss": 2.0 / s})
            for s in range(1, STEPS + 1)
        ]
        rows += [("status", {"status": "completed", "attempt": 1})]
        for seq, (kind, data) in enumerate(rows, start=1):
            conn.execute(
                events.insert().values(
                    job_id=RUN_ID, seq=seq, type=kind, data=data, created_at=start
                )
            )
        for seq in (1, 2):
            conn.execute(
                events.insert().values(
                    job_id=VALIDATE_ID,
                    seq=seq,
                    type="status",
                    data={"status": "done"},
                    created_at=start,
                )
            )
    shutil.copytree(adapter, run_dir / "adapter")
    card = {
        "status": "completed",
        "method": "sft",
        "step": STEPS,
        "metrics": {"train_loss": 1.7},
        "config": config,
    }
    (run_dir / "run_card.json").write_text(json.dumps(card))


@pytest.mark.slow
def test_a_release_data_dir_upgrades_in_place(tmp_path, database_url, tiny_model, peft_adapter):
    data_dir = tmp_path / "data"
    (data_dir / "datasets").mkdir(parents=True)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        allowed_hosts=["testserver"],
    )
    db = Database(settings.resolved_database_url)
    _release_database(db, data_dir, tiny_model, peft_adapter)
    db.dispose()

    app = create_app(settings)  # migrates to head and registers the old run's adapter
    try:
        client = TestClient(app)
        runs = client.get("/api/jobs", params={"kind": "train"}).json()
        assert [r["id"] for r in runs] == [RUN_ID]
        run = runs[0]
        assert run["status"] == "completed" and run["kind_title"] == "Training run"
        assert run["metrics"]["train_loss"] == 1.7 and run["last_seq"] == STEPS + 3
        others = client.get("/api/jobs", params={"exclude_kind": "train"}).json()
        assert [j["id"] for j in others] == [VALIDATE_ID]
        assert others[0]["kind_title"] == "Dataset validation"
        steps = client.get(f"/api/jobs/{RUN_ID}/metrics").json()["steps"]
        assert [s["step"] for s in steps] == list(range(1, STEPS + 1))

        (adapter,) = client.get("/api/adapters").json()
        assert adapter["job_id"] == RUN_ID and adapter["source"] == "training"
        assert adapter["name"] == "my first run" and adapter["step"] == STEPS
        assert adapter["base_ref"] == f"model:{MODEL_ID}"
        assert adapter["metrics"] == {"train_loss": 1.7}
        assert client.get(f"/api/jobs/{RUN_ID}").json()["result"] == {"adapter_id": adapter["id"]}
        assert client.get(f"/api/adapters/{adapter['id']}/download").status_code == 200
        # The old release's reference to a run's adapter (model:<job-id>) still works, and
        # names the same adapter as adapter:<id>, in the estimate and the submission alike.
        run_config = {"data": {"source": "mlabonne/FineTome-100k"}, "train": {"max_steps": 2}}
        for ref in (f"model:{RUN_ID}", f"adapter:{adapter['id']}"):
            est = client.post(
                "/api/models/estimate", json={**run_config, "model": {"name_or_path": ref}}
            )
            assert est.status_code == 200, est.text
            body = {"config": {**run_config, "model": {"name_or_path": ref}}}
            submitted = client.post("/api/jobs", json=body).json()
            assert submitted["adapter_id"] == adapter["id"], submitted

        dataset = client.get(f"/api/datasets/{DATASET_ID}").json()
        assert dataset["system_prompt"] == "Be brief." and dataset["status"] == "ready"
    finally:
        app.state.db.dispose()

    again = create_app(settings)  # a second start adds nothing twice
    try:
        assert len(TestClient(again).get("/api/adapters").json()) == 1
    finally:
        again.state.db.dispose()
