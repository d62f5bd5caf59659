"""GRPO's clipping and reward scaling: ``epsilon_high`` (DAPO/GSPO clip-higher) and
``scale_rewards`` (Dr. GRPO's unscaled advantages), as the YAML, the REST body and the presets
give them."""

from __future__ import annotations

import pytest
import yaml

from loralab.config import GRPOConfig, apply_preset, parse_run_config
from loralab.errors import ConfigError

MINIMAL = {"model": {"name_or_path": "Qwen/Qwen2.5-0.5B-Instruct"}, "data": {"source": "d.jsonl"}}


def grpo(**train) -> GRPOConfig:
    raw = {**MINIMAL, "train": {"method": "grpo", "rewards": [{"name": "format"}], **train}}
    return parse_run_config(raw).train


def test_defaults_are_trls_symmetric_clipping_and_group_scaling():
    t = grpo()
    assert (t.epsilon, t.epsilon_high, t.scale_rewards) == (0.2, None, "group")


def test_an_upper_bound_and_a_scaling_are_kept():
    t = grpo(epsilon=3e-4, epsilon_high=4e-4, scale_rewards="batch")
    assert (t.epsilon, t.epsilon_high, t.scale_rewards) == (3e-4, 4e-4, "batch")
    # cispo's epsilon_high caps the ratio itself and is usually 5.
    assert grpo(loss_type="cispo", epsilon_high=5.0).epsilon_high == 5.0


@pytest.mark.parametrize(("text", "expected"), [("true", "group"), ("off", "none"), ("no", "none")])
def test_scale_rewards_takes_trls_booleans_from_yaml(text, expected):
    train = yaml.safe_load(f"scale_rewards: {text}")
    assert isinstance(train["scale_rewards"], bool)
    assert grpo(**train).scale_rewards == expected


def test_scale_rewards_none_in_yaml_is_the_word_not_null():
    assert grpo(**yaml.safe_load("scale_rewards: none")).scale_rewards == "none"


@pytest.mark.parametrize(
    ("train", "loc"),
    [
        ({"epsilon_high": 0}, "train.epsilon_high"),
        ({"epsilon_high": -0.1}, "train.epsilon_high"),
        ({"epsilon_high": 11}, "train.epsilon_high"),
        ({"scale_rewards": "std"}, "train.scale_rewards"),
        ({"scale_rewards": 1}, "train.scale_rewards"),
    ],
)
def test_bad_values_are_refused_at_the_field(train, loc):
    with pytest.raises(ConfigError) as info:
        grpo(**train)
    assert [p.loc for p in info.value.problems] == [loc]


def test_other_methods_have_no_such_fields():
    raw = {**MINIMAL, "train": {"method": "dpo", "epsilon_high": 0.3}}
    with pytest.raises(ConfigError) as info:
        parse_run_config(raw)
    assert [p.loc for p in info.value.problems] == ["train.epsilon_high"]


def test_gspo_and_dr_grpo_presets_set_the_papers_values():
    def preset(name: str) -> GRPOConfig:
        raw = {**MINIMAL, "train": {"method": "grpo", "rewards": [{"name": "format"}]}}
        return parse_run_config(apply_preset(raw, f"grpo/{name}")).train

    gspo = preset("gspo")
    assert (gspo.epsilon, gspo.epsilon_high, gspo.scale_rewards) == (3e-4, 4e-4, "group")
    dr = preset("dr_grpo")
    assert (dr.loss_type, dr.scale_rewards, dr.epsilon_high) == ("dr_grpo", "none", None)
    assert preset("recommended").scale_rewards == "group"
