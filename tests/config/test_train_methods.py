"""The train section is a union of training methods discriminated by ``method``.

The real schema has one method today (SFT); ``toy_method.ToyRunConfig`` adds a test-only second
one, built by the same factory, so the two-member behaviour is tested before DPO lands.
"""

from __future__ import annotations

from typing import Literal

import pytest
from fastapi import FastAPI
from pydantic import Field, ValidationError
from toy_method import ToyConfig, ToyRunConfig

from loralab.config import (
    TRAIN_METHODS,
    RunConfig,
    SFTConfig,
    TrainBase,
    method_name,
    parse_run_config,
    train_section,
)
from loralab.errors import ConfigError

MINIMAL = {"model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"}, "data": {"source": "d.jsonl"}}


def errors_of(model, raw) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(raw)
    return [(".".join(map(str, e["loc"])), e["type"]) for e in info.value.errors()]


def test_real_schema_maps_every_registered_method():
    train = RunConfig.model_json_schema()["properties"]["train"]
    names = [method_name(m) for m in TRAIN_METHODS]
    assert names[0] == "sft"
    assert train["discriminator"] == {
        "propertyName": "method",
        "mapping": {n: f"#/$defs/{m.__name__}" for n, m in zip(names, TRAIN_METHODS, strict=True)},
    }
    assert train["oneOf"] == [{"$ref": f"#/$defs/{m.__name__}"} for m in TRAIN_METHODS]


def test_json_schema_of_two_methods_has_a_two_entry_mapping():
    schema = ToyRunConfig.model_json_schema()
    train = schema["properties"]["train"]
    assert train["discriminator"]["mapping"] == {
        "sft": "#/$defs/SFTConfig",
        "toy": "#/$defs/ToyConfig",
    }
    assert len(train["oneOf"]) == 2
    toy = schema["$defs"]["ToyConfig"]
    assert toy["properties"]["method"]["const"] == "toy"
    assert toy["properties"]["beta"]["exclusiveMinimum"] == 0
    assert toy["description"]  # the UI's help text for the method picker
    assert "padding_free" not in toy["properties"]


def test_openapi_schema_of_two_methods_carries_the_discriminator():
    app = FastAPI()

    @app.post("/estimate")
    def estimate(config: ToyRunConfig) -> dict:  # type: ignore[valid-type]
        return {}

    components = app.openapi()["components"]["schemas"]
    train = components["ToyRunConfig"]["properties"]["train"]
    assert train["discriminator"] == {
        "propertyName": "method",
        "mapping": {
            "sft": "#/components/schemas/SFTConfig",
            "toy": "#/components/schemas/ToyConfig",
        },
    }
    assert {"SFTConfig", "ToyConfig"} <= set(components)


@pytest.mark.parametrize("model", [RunConfig, ToyRunConfig])
def test_train_section_without_method_is_sft(model):
    cfg = model.model_validate({**MINIMAL, "train": {"learning_rate": 1e-4}})
    assert isinstance(cfg.train, SFTConfig)
    assert cfg.train.method == "sft"
    assert cfg.train.learning_rate == pytest.approx(1e-4)
    assert isinstance(model.model_validate(MINIMAL).train, SFTConfig)


def test_each_method_gets_its_own_fields():
    cfg = ToyRunConfig.model_validate({**MINIMAL, "train": {"method": "toy", "beta": 0.5}})
    assert isinstance(cfg.train, ToyConfig)
    assert cfg.train.beta == 0.5
    assert cfg.train.learning_rate == pytest.approx(2e-4)  # the shared fields come along
    assert cfg.model_dump(mode="json")["train"]["method"] == "toy"


def test_errors_point_at_the_field_not_at_the_method_tag():
    raw = {**MINIMAL, "train": {"method": "toy", "beta": 0, "learning_rate": -1, "padding_free": 1}}
    assert sorted(errors_of(ToyRunConfig, raw)) == [
        ("train.beta", "greater_than"),
        ("train.learning_rate", "greater_than"),
        ("train.padding_free", "extra_forbidden"),
    ]
    # SFT has no beta: the same key is an unknown field there.
    assert errors_of(ToyRunConfig, {**MINIMAL, "train": {"beta": 0.5}}) == [
        ("train.beta", "extra_forbidden")
    ]


def test_errors_in_json_input_point_at_the_field():
    body = '{"model": {"name_or_path": "m"}, "data": {"source": "d"}, "train": {"batch_size": "x"}}'
    with pytest.raises(ValidationError) as info:
        RunConfig.model_validate_json(body)
    (err,) = info.value.errors()
    assert (err["loc"], err["type"]) == (("train", "batch_size"), "int_parsing")


def test_a_methods_own_custom_error_keeps_its_type_and_message():
    raw = {**MINIMAL, "train": {"method": "toy", "reference_free": True, "beta": 2}}
    with pytest.raises(ValidationError) as info:
        ToyRunConfig.model_validate(raw)
    (err,) = info.value.errors()
    assert err["loc"] == ("train",)
    assert err["type"] == "toy_beta_too_high"
    assert err["msg"] == "beta must be at most 1 without a reference"


def test_unknown_method_is_reported_at_train():
    assert errors_of(ToyRunConfig, {**MINIMAL, "train": {"method": "ppo"}}) == [
        ("train", "union_tag_invalid")
    ]


def test_parse_run_config_names_the_field_of_the_chosen_method():
    with pytest.raises(ConfigError) as info:
        parse_run_config({**MINIMAL, "train": {"method": "sft", "warmup_ratio": 0.9}})
    assert [p.loc for p in info.value.problems] == ["train.warmup_ratio"]


def test_cross_field_rules_apply_to_every_method():
    raw = {**MINIMAL, "train": {"method": "toy", "eval_steps": 5}}
    assert errors_of(ToyRunConfig, raw) == [("train.eval_steps", "config_rule")]


def test_a_method_without_a_method_literal_is_refused():
    class NoTag(TrainBase):
        """No method field."""

    with pytest.raises(TypeError, match="method"):
        train_section((SFTConfig, NoTag))


def test_two_methods_with_one_name_are_refused():
    class AlsoSft(TrainBase):
        """Claims sft too."""

        method: Literal["sft"] = Field(default="sft", description="Training method.")

    with pytest.raises(TypeError, match="share a name"):
        train_section((SFTConfig, AlsoSft))
