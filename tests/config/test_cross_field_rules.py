"""Cross-field rules live in RunConfig's model validator: every way a config is parsed (the
model, a request body, the CLI's YAML) reports every broken rule at once, each at its field."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from loralab.config import DataConfig, RunConfig, Settings, check_run_config, parse_run_config
from loralab.errors import ConfigError

MINIMAL = {"model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"}, "data": {"source": "d.jsonl"}}
# Three rules broken at once: eval_steps without eval data, DoRA on 8-bit, no target modules.
BROKEN = {
    "model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct", "quantization": "8bit"},
    "data": {"source": "d.jsonl"},
    "lora": {"use_dora": True, "target_modules": []},
    "train": {"eval_steps": 10},
}
BROKEN_LOCS = {"train.eval_steps", "lora.use_dora", "lora.target_modules"}


def test_model_validate_reports_every_rule_with_its_own_loc_and_fix():
    with pytest.raises(ValidationError) as info:
        RunConfig.model_validate(BROKEN)
    errors = info.value.errors()
    assert {".".join(map(str, e["loc"])) for e in errors} == BROKEN_LOCS
    assert {e["type"] for e in errors} == {"config_rule"}
    by_loc = {".".join(map(str, e["loc"])): e for e in errors}
    assert by_loc["train.eval_steps"]["input"] == 10
    assert "eval_fraction" in by_loc["train.eval_steps"]["ctx"]["fix"]


def test_eval_steps_and_eval_split_problems_come_together():
    raw = {
        **MINIMAL,
        "data": {"source": "d.jsonl", "eval_fraction": 0.1, "eval_split": "test"},
        "train": {"eval_steps": 5},
    }
    with pytest.raises(ValidationError) as info:
        RunConfig.model_validate(raw)
    assert [e["loc"] for e in info.value.errors()] == [("data", "eval_split")]
    raw["data"] = {"source": "d.jsonl"}
    with pytest.raises(ValidationError) as info:
        RunConfig.model_validate_json(json.dumps(raw))  # a request body is JSON
    assert [e["loc"] for e in info.value.errors()] == [("train", "eval_steps")]


def test_assigning_a_section_runs_the_rules():
    cfg = RunConfig.model_validate({**MINIMAL, "data": {"source": "d", "eval_fraction": 0.1}})
    cfg.train.eval_steps = 5  # fine while eval_fraction holds rows back
    with pytest.raises(ValidationError) as info:
        cfg.data = DataConfig(source="d")
    assert [e["loc"] for e in info.value.errors()] == [("train", "eval_steps")]


def test_a_valid_config_breaks_no_rule():
    cfg = RunConfig.model_validate(MINIMAL)
    assert check_run_config(cfg) == []


def test_parse_run_config_keeps_each_rules_fix():
    with pytest.raises(ConfigError) as info:
        parse_run_config(BROKEN)
    assert {p.loc for p in info.value.problems} == BROKEN_LOCS
    assert all(p.fix for p in info.value.problems)


class _JobBody(BaseModel):
    config: RunConfig


def test_problem_handler_turns_rule_errors_into_located_items():
    from loralab.api.problems import install_problem_handlers  # loralab.api imports the app

    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/run")
    def run(config: RunConfig) -> dict:
        return {}

    @app.post("/job")
    def job(body: _JobBody) -> dict:
        return {}

    client = TestClient(app)
    bare = _problem(client.post("/run", json=BROKEN))
    assert {e["loc"] for e in bare["errors"]} == BROKEN_LOCS
    assert all(e["fix"] for e in bare["errors"])
    nested = _problem(client.post("/job", json={"config": BROKEN}))
    assert {e["loc"] for e in nested["errors"]} == {f"config.{loc}" for loc in BROKEN_LOCS}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    """The real app; without its lifespan, since the body is refused before any service runs."""
    from loralab.api.app import create_app

    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        token=None,
        allowed_hosts=["testserver"],
        cors_origins=[],
    )
    app = create_app(settings)
    yield TestClient(app)
    app.state.db.dispose()


def _problem(response) -> dict:
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "invalid_config"
    return body


def test_estimate_body_reports_every_rule_as_problem_json(api):
    body = _problem(api.post("/api/models/estimate", json=BROKEN))
    assert {e["loc"] for e in body["errors"]} == BROKEN_LOCS
    fixes = {e["loc"]: e.get("fix") for e in body["errors"]}
    assert "eval_split" in fixes["train.eval_steps"]


def test_job_body_reports_rules_under_config(api):
    body = _problem(api.post("/api/jobs", json={"config": BROKEN}))
    assert {e["loc"] for e in body["errors"]} == {f"config.{loc}" for loc in BROKEN_LOCS}


def test_job_body_field_errors_have_no_method_tag(api):
    bad = {**MINIMAL, "train": {"method": "sft", "learning_rate": -1, "typo": 1}}
    body = _problem(api.post("/api/jobs", json={"config": bad}))
    assert {e["loc"] for e in body["errors"]} == {"config.train.learning_rate", "config.train.typo"}


def test_cli_reports_every_rule_and_exits_non_zero(tmp_path: Path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(BROKEN))
    loralab = Path(sys.executable).parent / "loralab"
    done = subprocess.run(
        [str(loralab), "config", "show", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "error[invalid_config]" in out
    assert all(loc in out for loc in BROKEN_LOCS)


# --- which methods take which data formats --------------------------------------------------

FORMAT_CASES = [
    # (method, data.format, refused at data.format)
    ("kto", "unpaired_preference", False),
    ("kto", "preference", False),
    ("kto", "auto", False),
    ("kto", "alpaca", True),
    ("dpo", "unpaired_preference", True),
    ("orpo", "unpaired_preference", True),
    ("dpo", "preference", False),
    ("sft", "unpaired_preference", True),
    ("sft", "preference", True),
    ("sft", "messages", False),
    ("grpo", "unpaired_preference", True),
]


@pytest.mark.parametrize(("method", "fmt", "refused"), FORMAT_CASES)
def test_each_method_takes_its_data_formats(method, fmt, refused):
    train = {"method": method, **({"rewards": [{"name": "format"}]} if method == "grpo" else {})}
    raw = {**MINIMAL, "data": {"source": "d.jsonl", "format": fmt}, "train": train}
    if not refused:
        assert parse_run_config(raw).data.format == fmt
        return
    with pytest.raises(ConfigError) as info:
        parse_run_config(raw)
    assert [p.loc for p in info.value.problems] == ["data.format"]
    assert info.value.status == 422 and info.value.problems[0].fix


def test_unpaired_labels_for_dpo_point_at_kto():
    raw = {**MINIMAL, "data": {"source": "d.jsonl", "format": "unpaired_preference"}}
    with pytest.raises(ConfigError) as info:
        parse_run_config({**raw, "train": {"method": "dpo"}})
    (problem,) = info.value.problems
    assert "kto" in (problem.fix or "") and "pair" in problem.message


def test_config_rules_know_the_data_layers_preference_formats():
    from loralab.config import rules
    from loralab.data.fields import PREFERENCE_FORMATS

    assert rules._PREFERENCE_FORMATS == PREFERENCE_FORMATS  # config cannot import data
