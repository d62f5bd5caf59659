"""The one schema: defaults, bounds, every problem reported at once, YAML round trips, presets."""

from __future__ import annotations

import pytest
import yaml

from loralab.config import (
    PRESETS,
    RunConfig,
    apply_overrides,
    dump_run_config,
    load_preset,
    load_run_config,
    parse_run_config,
)
from loralab.errors import ConfigError

MINIMAL = {"model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"}, "data": {"source": "d.jsonl"}}


def test_minimal_config_fills_defaults():
    cfg = parse_run_config(MINIMAL)
    assert cfg.train.method == "sft"
    assert cfg.lora.target_modules == "all-linear"
    assert cfg.model.trust_remote_code is False
    assert cfg.train.padding_free is True
    assert cfg.train.assistant_only_loss is True


def test_several_problems_are_reported_together_with_field_paths():
    raw = {
        "model": {"name_or_path": "x", "typo_field": 1},
        "data": {"source": "d.jsonl", "eval_fraction": 0.9},
        "lora": {"r": 0, "dropout": 2},
        "train": {"method": "sft", "learning_rate": -1, "batch_size": 0},
    }
    with pytest.raises(ConfigError) as info:
        parse_run_config(raw)
    locs = {p.loc for p in info.value.problems}
    assert locs == {
        "model.typo_field",
        "data.eval_fraction",
        "lora.r",
        "lora.dropout",
        "train.learning_rate",
        "train.batch_size",
    }
    assert info.value.code == "invalid_config"
    assert info.value.status == 422


def test_unknown_method_is_rejected_at_the_method_field():
    with pytest.raises(ConfigError) as info:
        parse_run_config({**MINIMAL, "train": {"method": "ppo"}})
    assert [p.loc for p in info.value.problems] == ["train"]


def test_cross_field_rules_collect_every_problem():
    raw = {
        **MINIMAL,
        "data": {"source": "d.jsonl", "eval_fraction": 0.1, "eval_split": "test"},
        "model": {"name_or_path": "x", "quantization": "8bit"},
        "lora": {"use_dora": True, "target_modules": []},
    }
    with pytest.raises(ConfigError) as info:
        parse_run_config(raw)
    assert {p.loc for p in info.value.problems} == {
        "data.eval_split",
        "lora.use_dora",
        "lora.target_modules",
    }


def test_eval_steps_without_eval_data_names_the_fix():
    with pytest.raises(ConfigError) as info:
        parse_run_config({**MINIMAL, "train": {"eval_steps": 10}})
    (problem,) = info.value.problems
    assert problem.loc == "train.eval_steps"
    assert problem.fix


def test_overrides_are_typed_as_yaml_values():
    raw = apply_overrides(MINIMAL, ["lora.r=8", "train.learning_rate=1e-4", "lora.use_dora=true"])
    cfg = parse_run_config(raw)
    assert cfg.lora.r == 8
    assert cfg.train.learning_rate == pytest.approx(1e-4)
    assert cfg.lora.use_dora is True


def test_malformed_override_is_an_error():
    with pytest.raises(ConfigError) as info:
        apply_overrides(MINIMAL, ["lora.r"])
    assert info.value.problems[0].loc == "lora.r"


def test_yaml_round_trip_is_lossless(tmp_path):
    cfg = parse_run_config({**MINIMAL, "lora": {"r": 4, "target_modules": ["q_proj", "v_proj"]}})
    path = tmp_path / "run.yaml"
    path.write_text(dump_run_config(cfg))
    again = load_run_config(path)
    assert again == cfg


def test_load_run_config_applies_preset_then_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "preset": "quality", "lora": {"r": 32}}))
    cfg = load_run_config(path, overrides=["train.num_epochs=2"])
    assert cfg.lora.r == 32  # the file wins over the preset
    assert cfg.lora.use_rslora is True  # from the preset
    assert cfg.train.num_epochs == 2  # the override wins over both


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  name_or_path: x\n data: [\n")
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    assert info.value.problems[0].line is not None


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        load_run_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("name", PRESETS["sft"])
def test_every_sft_preset_makes_a_valid_config(name):
    cfg = parse_run_config({**load_preset(name), **MINIMAL})
    assert cfg.train.method == "sft"


def test_unknown_preset_is_an_error():
    with pytest.raises(ConfigError) as info:
        load_preset("turbo")
    assert info.value.problems[0].loc == "preset"


def test_json_schema_carries_help_text_and_bounds():
    schema = RunConfig.model_json_schema()
    lora = schema["$defs"]["LoraConfig"]["properties"]
    assert lora["r"]["minimum"] == 1
    assert lora["r"]["description"]
    assert schema["$defs"]["ModelConfig"]["additionalProperties"] is False
