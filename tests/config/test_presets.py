"""Each training method's own presets: every one is a valid RunConfig of its method, applying one
sets the method's own fields, and the file, --set and the method choose which preset applies."""

from __future__ import annotations

import pytest
import yaml

from loralab.config import (
    PRESETS,
    TRAIN_METHODS,
    apply_preset,
    load_preset,
    load_run_config,
    method_name,
    parse_run_config,
    preset_description,
)
from loralab.errors import ConfigError

MINIMAL = {"model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"}, "data": {"source": "d.jsonl"}}
# GRPO needs a reward; no preset chooses one for you.
NEEDS = {"grpo": {"rewards": [{"name": "format"}]}}
ALL = [(method, name) for method, names in PRESETS.items() for name in names]


def with_preset(method: str, name: str, **train):
    raw = apply_preset(
        {**MINIMAL, "train": {"method": method, **NEEDS.get(method, {}), **train}}, name
    )
    return parse_run_config(raw)


def test_every_method_has_presets_with_a_default_named_recommended():
    assert set(PRESETS) == {method_name(m) for m in TRAIN_METHODS}
    for method, names in PRESETS.items():
        assert names[0] == "recommended", method
        assert {"recommended", "fast"} <= set(names)


@pytest.mark.parametrize(("method", "name"), ALL, ids=[f"{m}/{n}" for m, n in ALL])
def test_each_preset_is_a_valid_run_config_of_its_method(method, name):
    preset = load_preset(name, method)
    assert set(preset) <= {"lora", "train"} and preset["train"]["method"] == method
    assert preset_description(name, method)
    cfg = with_preset(method, name)
    assert cfg.train.method == method
    for field, value in preset["train"].items():
        assert getattr(cfg.train, field) == value, (method, name, field)
    for field, value in preset["lora"].items():
        assert getattr(cfg.lora, field) == value, (method, name, field)


def test_presets_set_each_methods_own_fields():
    dpo = with_preset("dpo", "recommended")
    assert (dpo.train.beta, dpo.train.loss_type, dpo.train.learning_rate) == (0.1, "sigmoid", 5e-5)
    kto = with_preset("kto", "recommended")
    assert kto.train.batch_size >= 4  # the KL estimate needs rows of its own micro-batch
    assert (kto.train.desirable_weight, kto.train.undesirable_weight) == (1.0, 1.0)
    gspo = with_preset("grpo", "gspo")
    assert (gspo.train.importance_sampling_level, gspo.train.loss_type) == ("sequence", "grpo")
    assert gspo.train.beta == 0.0
    dr = with_preset("grpo", "dr_grpo")
    assert (dr.train.loss_type, dr.train.importance_sampling_level) == ("dr_grpo", "token")
    grpo = with_preset("grpo", "recommended")
    assert (grpo.train.num_generations, grpo.train.loss_type) == (8, "dapo")
    # The same name gives each method its own values.
    assert (
        with_preset("sft", "fast").train.learning_rate
        != with_preset("grpo", "fast").train.learning_rate
    )


def test_preset_of_the_files_method_is_applied_and_the_file_wins(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        yaml.safe_dump({**MINIMAL, "preset": "quality", "train": {"method": "kto", "beta": 0.3}})
    )
    cfg = load_run_config(path)
    kto_quality = load_preset("quality", "kto")["train"]
    assert cfg.train.method == "kto" and cfg.train.beta == 0.3  # the file wins
    assert cfg.train.gradient_accumulation_steps == kto_quality["gradient_accumulation_steps"]
    assert cfg.lora.use_rslora is True


def test_a_qualified_preset_chooses_the_method_and_set_can_too(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "train": {"rewards": [{"name": "format"}]}}))
    cfg = load_run_config(path, preset="grpo/gspo")
    assert cfg.train.method == "grpo" and cfg.train.importance_sampling_level == "sequence"
    cfg = load_run_config(path, preset="dr_grpo", overrides=["train.method=grpo"])
    assert cfg.train.loss_type == "dr_grpo"


def test_a_preset_of_another_method_or_a_missing_one_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        apply_preset({**MINIMAL, "train": {"method": "kto"}}, "dpo/fast")
    assert info.value.problems[0].loc == "preset" and info.value.status == 422
    with pytest.raises(ConfigError) as info:
        apply_preset({**MINIMAL, "train": {"method": "sft"}}, "gspo")
    assert "grpo/gspo" in (info.value.fix or "")  # where that name does exist
    with pytest.raises(ConfigError) as info:
        load_preset("fast", "nonsense")
    assert info.value.problems[0].loc == "train.method"
