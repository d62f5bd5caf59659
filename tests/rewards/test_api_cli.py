"""``/api/rewards`` and ``loralab rewards`` on the real app and CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from loralab.api.app import create_app
from loralab.config import Settings
from loralab.rewards import PRESETS, bwrap_path

GOOD = "<start_working_out>4*3 is 12<end_working_out><SOLUTION>12</SOLUTION>"


def make_client(tmp_path: Path, **overrides) -> TestClient:
    settings = Settings(
        data_dir=tmp_path / "data", host="127.0.0.1", allowed_hosts=["testserver"], **overrides
    )
    return TestClient(create_app(settings))


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as client:
        yield client


def test_list_rewards_gives_every_preset_with_range_and_schema(client):
    body = client.get("/api/rewards").json()
    assert [r["name"] for r in body] == list(PRESETS)
    math = next(r for r in body if r["name"] == "math_answer")
    assert math["score_range"] == [0.0, 1.0]
    assert "field" in math["params_schema"]["properties"]
    assert next(r for r in body if r["name"] == "python")["runs_code"] is True


def test_typed_completion_is_scored_with_weights(client):
    body = {
        "rewards": [{"name": "math_answer", "weight": 2}, {"name": "format"}],
        "completion": GOOD,
        "answer": "#### 12",
    }
    res = client.post("/api/rewards/test", json=body)
    assert res.status_code == 200, res.text
    (row,) = res.json()["rows"]
    assert row["scores"] == {"math_answer": 1.0, "format": 1.0}
    assert row["total"] == 3.0
    assert res.json()["labels"] == ["math_answer", "format"]


def test_uploaded_gsm8k_rows_are_scored(client, formats_dir):
    gsm8k = formats_dir / "gsm8k_train.jsonl"
    res = client.post("/api/datasets/upload", files={"file": ("gsm8k.jsonl", gsm8k.read_bytes())})
    assert res.status_code in (200, 201, 202), res.text
    ref = f"dataset:{res.json()['id']}"
    own = client.post(
        "/api/rewards/test", json={"rewards": [{"name": "math_answer"}], "dataset": ref, "rows": 4}
    ).json()["rows"]
    assert len(own) == 4
    assert all(r["scores"]["math_answer"] == 1.0 for r in own)  # the reference answers
    assert all(r["prompt"] for r in own)
    typed = client.post(
        "/api/rewards/test",
        json={
            "rewards": [{"name": "math_answer"}],
            "dataset": ref,
            "rows": 3,
            "completion": "<SOLUTION>-1</SOLUTION>",
        },
    ).json()["rows"]
    assert [r["total"] for r in typed] == [0.0, 0.0, 0.0]


def test_unknown_reward_is_422_at_its_name(client):
    res = client.post(
        "/api/rewards/test",
        json={"rewards": [{"name": "format"}, {"name": "nope"}], "completion": "x"},
    )
    assert res.status_code == 422
    assert res.json()["code"] == "invalid_config"
    assert [e["loc"] for e in res.json()["errors"]] == ["rewards.1.name"]


def test_python_reward_is_422_while_disabled(client):
    code = "def reward(prompt, completion, **row):\n    return 1.0\n"
    res = client.post(
        "/api/rewards/test",
        json={"rewards": [{"name": "python", "params": {"code": code}}], "completion": "x"},
    )
    assert res.status_code == 422
    assert [e["loc"] for e in res.json()["errors"]] == ["rewards.0.name"]


def test_python_reward_runs_when_enabled_and_failures_are_422(tmp_path):
    if bwrap_path() is None:
        pytest.fail("this test needs bubblewrap: run `make sandbox-deps`")
    code = "def reward(prompt, completion, **row):\n    return len(completion)\n"
    with make_client(tmp_path, allow_custom_rewards=True) as client:
        res = client.post(
            "/api/rewards/test",
            json={"rewards": [{"name": "python", "params": {"code": code}}], "completion": "abc"},
        )
        assert res.status_code == 200, res.text
        assert res.json()["rows"][0]["scores"] == {"python": 3.0}
        bad = "def reward(prompt, completion, **row):\n    raise ValueError('boom')\n"
        res = client.post(
            "/api/rewards/test",
            json={"rewards": [{"name": "python", "params": {"code": bad}}], "completion": "abc"},
        )
        assert res.status_code == 422
        assert res.json()["code"] == "reward_failed"
        assert "boom" in res.json()["detail"]


def test_rows_over_20_and_nothing_to_score_are_422(client):
    too_many = client.post(
        "/api/rewards/test", json={"rewards": [{"name": "format"}], "completion": "x", "rows": 21}
    )
    assert too_many.status_code == 422
    nothing = client.post("/api/rewards/test", json={"rewards": [{"name": "format"}]})
    assert nothing.status_code == 422


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("loralab")), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_list_and_test():
    listed = cli("rewards", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == list(PRESETS)
    tested = cli(
        "rewards",
        "test",
        "-r",
        "math_answer:2",
        "-r",
        "length",
        "--param",
        "target=3",
        "--completion",
        GOOD,
        "--answer",
        "#### 12",
        "--json",
    )
    assert tested.returncode == 0, tested.stderr
    (row,) = json.loads(tested.stdout)
    assert row["scores"]["math_answer"] == 1.0
    assert row["total"] == pytest.approx(2.0 + row["scores"]["length"])


def test_cli_scores_dataset_rows(formats_dir):
    res = cli(
        "rewards",
        "test",
        "-r",
        "math_answer",
        "--dataset",
        str(formats_dir / "gsm8k_train.jsonl"),
        "--rows",
        "2",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    assert [r["total"] for r in json.loads(res.stdout)] == [1.0, 1.0]


def test_cli_unknown_reward_exits_2_with_code():
    res = cli("rewards", "test", "-r", "nope", "-c", "x")
    assert res.returncode == 2
    assert "error[invalid_config]" in res.stderr
