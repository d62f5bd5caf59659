"""DPO, ORPO and KTO on the tiny model with the preference sample pairs: metrics logged, adapters
saved that plain PEFT loads, and the config rules that keep the wrong data out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loralab.config import parse_run_config
from loralab.errors import ConfigError, DataError
from loralab.training import Finished, ListReporter, RunStarted, StepProgress, train

STEPS = 3


def preference_config(model: Path, data: Path, out: Path, method: str, **train_overrides):
    return parse_run_config(
        {
            "model": {"name_or_path": str(model)},
            "data": {"source": str(data), "max_samples": 16},
            "lora": {"r": 8, "alpha": 16},
            "train": {
                "method": method,
                "max_steps": STEPS,
                "batch_size": 2,
                "gradient_accumulation_steps": 1,
                "learning_rate": 1e-3,
                "warmup_ratio": 0.0,
                "gradient_checkpointing": False,
                "max_seq_length": 256,
                **train_overrides,
            },
            "output": {"dir": str(out)},
        }
    )


@pytest.fixture(scope="module")
def pairs(formats_dir: Path) -> Path:
    return formats_dir / "preference_sample.jsonl"


@pytest.fixture(scope="module")
def runs(tiny_model, pairs, tmp_path_factory) -> dict[str, ListReporter]:
    out = {}
    for method in ("dpo", "orpo", "kto"):
        reporter = ListReporter()
        # DPO leaves checkpointing to auto (decided from the estimate); the others set it off.
        checkpointing = None if method == "dpo" else False
        config = preference_config(
            tiny_model, pairs, tmp_path_factory.mktemp(method), method, max_prompt_length=128,
            gradient_checkpointing=checkpointing,
        )  # fmt: skip
        train(config, reporter)
        out[method] = reporter
    return out


# The method's own numbers on every logged step (TRL 1.16 names).
EXPECTED = {
    "dpo": {"rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"},
    "orpo": {"rewards/margins", "rewards/accuracies", "log_odds_ratio", "nll_loss"},
    "kto": {"kl", "rewards/chosen", "logps/chosen"},
}


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpo", "orpo", "kto"])
def test_each_method_trains_and_logs_its_metrics(runs, method):
    reporter = runs[method]
    steps = [s for s in reporter.of(StepProgress) if s.loss is not None]
    assert [s.step for s in steps] == list(range(1, STEPS + 1))
    assert reporter.of(RunStarted)[0].method == method
    for step in steps:
        assert EXPECTED[method] <= set(step.metrics), step.metrics
    finished = reporter.of(Finished)[0]
    assert EXPECTED[method] <= set(finished.metrics)


@pytest.mark.slow
def test_dpo_margin_grows(runs):
    margins = [s.metrics["rewards/margins"] for s in runs["dpo"].of(StepProgress)]
    assert margins[-1] > margins[0]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpo", "orpo", "kto"])
def test_adapter_loads_with_plain_peft(runs, method, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = Path(runs[method].of(Finished)[0].adapter_path)
    assert not (adapter / "ref").exists()  # TRL's reference copy is never saved
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    model = PeftModel.from_pretrained(base, adapter)
    assert any("lora_B" in name for name, _ in model.named_parameters())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dpo", "orpo", "kto"])
def test_the_run_card_says_what_each_method_chose_and_why(runs, method):
    finished = runs[method].of(Finished)[0]
    card = json.loads(Path(finished.run_card_path).read_text())
    speed = card["speed"]
    assert set(speed) == {"threads", "gradient_checkpointing"}
    assert speed["threads"]["value"] == card["torch_threads"]
    if card["device"] == "cpu":
        assert speed["threads"]["value"] >= 1 and "physical core" in speed["threads"]["reason"]
    checkpointing = speed["gradient_checkpointing"]
    if method == "dpo":  # auto: the reason gives the estimate and the memory it was held against
        word = "on" if checkpointing["value"] else "off"
        assert checkpointing["reason"].startswith(f"{word}: the estimated peak without it")
    else:
        assert checkpointing == {"value": False, "reason": "train.gradient_checkpointing"}
    readme = (Path(finished.run_card_path).parent / "README.md").read_text()
    assert f"gradient checkpointing {'on' if checkpointing['value'] else 'off'}" in readme


def test_dpo_on_conversation_data_fails_at_data_format(tiny_model, formats_dir, tmp_path):
    config = preference_config(
        tiny_model, formats_dir / "finetome_sample.parquet", tmp_path, "dpo"
    )  # format auto: detected when read
    with pytest.raises(DataError) as info:
        train(config, ListReporter())
    assert [p.loc for p in info.value.problems] == ["data.format"]


def test_dpo_with_a_non_preference_format_is_refused_with_every_problem():
    with pytest.raises(ConfigError) as info:
        parse_run_config(
            {
                "model": {"name_or_path": "m"},
                "data": {"source": "d.jsonl", "format": "alpaca", "eval_fraction": 0.1},
                "train": {"method": "dpo", "eval_steps": 5, "beta": 0.2},
            }
        )
    locs = {p.loc for p in info.value.problems}
    assert locs == {"data.format"}  # eval_steps has eval data here, so only the format
    assert info.value.status == 422


def test_kto_needs_two_rows_a_batch():
    with pytest.raises(ConfigError) as info:
        parse_run_config(
            {
                "model": {"name_or_path": "m"},
                "data": {"source": "d.jsonl", "format": "messages"},
                "train": {"method": "kto", "batch_size": 1},
            }
        )
    assert {p.loc for p in info.value.problems} == {"data.format", "train.batch_size"}


def test_preference_methods_parse_with_their_defaults():
    for method in ("dpo", "orpo", "kto"):
        cfg = parse_run_config(
            {
                "model": {"name_or_path": "m"},
                "data": {"source": "d.jsonl"},
                "train": {"method": method},
            }
        )
        assert cfg.train.method == method and cfg.train.beta == 0.1
