"""KTO on unpaired data: replies labelled good or bad, one per row (TRL's prompt, completion,
label), trained for real steps on the tiny model; and the pair methods refusing such data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loralab.config import parse_run_config
from loralab.errors import ConfigError, DataError
from loralab.training import Finished, ListReporter, LogLine, RunStarted, StepProgress, train

STEPS = 3


@pytest.fixture(scope="module")
def unpaired(formats_dir: Path, tmp_path_factory) -> Path:
    """12 good and 8 bad replies from the preference sample, labels spelled as people do."""
    pairs = [json.loads(line) for line in (formats_dir / "preference_sample.jsonl").open()][:12]
    rows = [{"prompt": p["prompt"], "completion": p["chosen"], "label": "good"} for p in pairs]
    rows += [{"prompt": p["prompt"], "completion": p["rejected"], "label": 0} for p in pairs[:8]]
    path = tmp_path_factory.mktemp("kto-data") / "labelled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def kto_config(model: Path, data: Path, out: Path, method: str = "kto", **data_extra):
    return parse_run_config(
        {
            "model": {"name_or_path": str(model)},
            "data": {"source": str(data), **data_extra},
            "lora": {"r": 8, "alpha": 16},
            "train": {
                "method": method,
                "max_steps": STEPS,
                "batch_size": 4,
                "gradient_accumulation_steps": 1,
                "learning_rate": 1e-3,
                "warmup_ratio": 0.0,
                "gradient_checkpointing": False,
                "max_seq_length": 256,
            },
            "output": {"dir": str(out)},
        }
    )


@pytest.fixture(scope="module")
def kto_run(tiny_model, unpaired, tmp_path_factory) -> ListReporter:
    reporter = ListReporter()
    train(kto_config(tiny_model, unpaired, tmp_path_factory.mktemp("kto")), reporter)
    return reporter


@pytest.mark.slow
def test_kto_trains_on_labelled_replies_and_logs_its_metrics(kto_run):
    steps = [s for s in kto_run.of(StepProgress) if s.loss is not None]
    assert [s.step for s in steps] == list(range(1, STEPS + 1))
    assert kto_run.of(RunStarted)[0].method == "kto"
    assert kto_run.of(RunStarted)[0].train_examples == 20  # every labelled reply, none paired up
    for step in steps:
        assert {"kl", "rewards/chosen", "logps/chosen", "rewards/rejected"} <= set(step.metrics)
    # 12 good against 8 bad at equal weights is outside KTO's advised 1-1.33 ratio.
    warnings = [e.message for e in kto_run.of(LogLine) if e.level == "warning"]
    assert any("desirable_weight" in w for w in warnings), warnings


@pytest.mark.slow
def test_kto_adapter_loads_with_plain_peft_and_the_card_counts_the_labels(kto_run, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    finished = kto_run.of(Finished)[0]
    adapter = Path(finished.adapter_path)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), adapter)
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # trained away from its zero init
    card = json.loads((adapter.parent / "run_card.json").read_text())
    assert card["data"]["format"] == "unpaired_preference"
    assert (card["data"]["desirable_examples"], card["data"]["undesirable_examples"]) == (12, 8)


@pytest.mark.parametrize("method", ["dpo", "orpo"])
def test_pair_methods_refuse_detected_labels_at_data_format(tiny_model, unpaired, tmp_path, method):
    with pytest.raises(DataError) as info:
        train(kto_config(tiny_model, unpaired, tmp_path, method), ListReporter())
    assert [p.loc for p in info.value.problems] == ["data.format"]
    assert "kto" in (info.value.fix or "")


@pytest.mark.parametrize("method", ["dpo", "orpo"])
def test_pair_methods_refuse_the_unpaired_format_as_a_config_error(tiny_model, tmp_path, method):
    with pytest.raises(ConfigError) as info:
        kto_config(tiny_model, tmp_path / "d.jsonl", tmp_path, method, format="unpaired_preference")
    (problem,) = info.value.problems
    assert problem.loc == "data.format" and "kto" in (problem.fix or "")
    assert info.value.status == 422
