"""A GRPO job through the server: submitted with POST /api/jobs, trained by a real worker, its
/metrics steps carry the reward metrics and the job row keeps the latest ones."""

from __future__ import annotations

import pytest

from .jobs_support import wait_status, worker_log


@pytest.mark.slow
def test_grpo_job_reports_reward_metrics(client, db, settings, make_config):
    config = make_config(max_steps=3, save_steps=100)
    config["train"].update(
        method="grpo",
        num_generations=2,
        max_completion_length=8,
        beta=0.04,
        rewards=[{"name": "format"}],
    )
    response = client.post("/api/jobs", json={"config": config, "name": "grpo"})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]

    row = wait_status(db, job_id, {"completed", "failed"}, timeout=300)
    assert row.status == "completed", worker_log(settings, job_id)
    steps = client.get(f"/api/jobs/{job_id}/metrics").json()["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    for step in steps:
        assert {"reward", "reward_std", "rewards/format/mean", "kl"} <= set(step["metrics"])
        assert "completions/mean_length" in step["metrics"]
    job = client.get(f"/api/jobs/{job_id}").json()
    assert "reward" in job["metrics"] and "kl" in job["metrics"]


def test_dpo_job_on_conversation_data_is_refused_with_422(client, make_config):
    config = make_config()
    config["train"]["method"] = "dpo"
    config["data"]["format"] = "messages"
    response = client.post("/api/jobs", json={"config": config})
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["errors"]]
    assert "config.data.format" in locs, locs


def test_grpo_job_without_rewards_is_refused_with_422(client, make_config):
    config = make_config()
    config["train"]["method"] = "grpo"
    response = client.post("/api/jobs", json={"config": config})
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["errors"]]
    assert "config.train.rewards" in locs, locs


def test_unknown_rewards_and_disabled_custom_code_are_refused_at_submit(client, make_config):
    config = make_config()
    config["train"]["method"] = "grpo"
    config["train"]["rewards"] = [
        {"name": "format"},
        {"name": "no_such_reward"},
        {"name": "python", "params": {"code": "def reward(prompt, completion, **row): return 1"}},
    ]
    response = client.post("/api/jobs", json={"config": config})
    assert response.status_code == 422, response.text
    locs = {e["loc"] for e in response.json()["errors"]}
    assert {"config.train.rewards.1.name", "config.train.rewards.2.name"} <= locs, locs
    assert client.get("/api/jobs", params={"kind": "train"}).json() == []
