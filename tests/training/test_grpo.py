"""GRPO and GSPO on the tiny model (reward, completion length and KL logged; adapters that plain
PEFT loads; an SFT warm-up before RL), the config rules, and on SmolLM2-135M: the mean reward of
a format reward rises within a short CPU run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import loralab.rewards as rewards_lib
from loralab.config import parse_run_config
from loralab.errors import ConfigError
from loralab.training import Finished, ListReporter, RunStarted, StepProgress, train


@pytest.fixture
def rewards():
    """The reward library the recipe calls (``loralab.rewards.build_reward_funcs``)."""
    return rewards_lib


def grpo_config(model: Path, data: Path, out: Path, **train_overrides):
    return parse_run_config(
        {
            "model": {"name_or_path": str(model)},
            "data": {"source": str(data), "max_samples": 16},
            "lora": {"r": 8, "alpha": 16},
            "train": {
                "method": "grpo",
                "max_steps": 3,
                "batch_size": 2,
                "gradient_accumulation_steps": 1,
                "num_generations": 2,
                "max_completion_length": 8,
                "learning_rate": 1e-3,
                "warmup_ratio": 0.0,
                "gradient_checkpointing": False,
                "max_seq_length": 256,
                "rewards": [{"name": "format"}],
                **train_overrides,
            },
            "output": {"dir": str(out)},
        }
    )


@pytest.fixture
def gsm8k(formats_dir: Path) -> Path:
    return formats_dir / "gsm8k_train.jsonl"


def _logged(reporter: ListReporter, stage: str = "train") -> list[StepProgress]:
    return [s for s in reporter.of(StepProgress) if s.loss is not None and s.stage == stage]


@pytest.mark.slow
def test_grpo_with_warmup_and_kl_logs_rewards_and_saves_an_adapter(
    rewards, tiny_model, gsm8k, tmp_path
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    reporter = ListReporter()
    config = grpo_config(
        tiny_model, gsm8k, tmp_path, beta=0.04, warmup={"max_samples": 8},
        gradient_checkpointing=None,  # auto: decided from GRPO's own estimate
    )  # fmt: skip
    result = train(config, reporter)

    assert result.status == "completed"
    started = reporter.of(RunStarted)
    assert [s.stage for s in started] == ["warmup", "train"]  # SFT first, then GRPO
    warm, rl = _logged(reporter, "warmup"), _logged(reporter)
    assert warm and [s.step for s in rl] == [1, 2, 3]
    assert reporter.events.index(warm[-1]) < reporter.events.index(rl[0])
    for step in rl:
        names = set(step.metrics)
        assert {"reward", "reward_std", "rewards/format/mean", "rewards/format/std"} <= names
        assert {"completions/mean_length", "completions/max_length", "kl", "entropy"} <= names
        assert step.learning_rate is not None
    assert "reward" in reporter.of(Finished)[0].metrics
    assert not (tmp_path / "warmup").exists()
    model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), result.adapter_dir
    )
    assert any("lora_A" in n for n, _ in model.named_parameters())
    assert not (result.adapter_dir / "ref").exists()
    # The card says what the run chose and why, as SFT's does.
    card = json.loads(result.run_card.read_text())
    assert set(card["speed"]) == {"threads", "gradient_checkpointing"}
    assert card["speed"]["threads"]["value"] == card["torch_threads"]
    assert card["speed"]["threads"]["reason"]
    checkpointing = card["speed"]["gradient_checkpointing"]
    word = "on" if checkpointing["value"] else "off"
    assert checkpointing["reason"].startswith(f"{word}: the estimated peak without it")


@pytest.mark.slow
def test_gspo_runs_and_logs_no_kl_at_beta_zero(rewards, tiny_model, gsm8k, tmp_path, monkeypatch):
    import trl

    trainers = []

    class SpiedTrainer(trl.GRPOTrainer):  # the real trainer, kept to look at its settings
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            trainers.append(self)

    monkeypatch.setattr(trl, "GRPOTrainer", SpiedTrainer)
    reporter = ListReporter()
    config = grpo_config(
        tiny_model,
        gsm8k,
        tmp_path,
        importance_sampling_level="sequence",
        loss_type="grpo",
        epsilon=3e-4,
        epsilon_high=4e-4,
        scale_rewards="none",
    )
    result = train(config, reporter)

    assert result.status == "completed"
    # The paper's asymmetric clipping and unscaled rewards are what the trainer clipped with.
    (trainer,) = trainers
    assert (trainer.epsilon_low, trainer.epsilon_high) == (3e-4, 4e-4)
    assert (trainer.scale_rewards, trainer.importance_sampling_level) == ("none", "sequence")
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    steps = _logged(reporter)
    assert steps and all("reward" in s.metrics and "kl" not in s.metrics for s in steps)
    assert all(s.metrics["completions/mean_length"] <= 8 for s in steps)


@pytest.mark.parametrize(
    ("train", "expected"),
    [
        ({}, (0.2, None, "group")),
        ({"epsilon": 3e-4, "epsilon_high": 4e-4}, (3e-4, 4e-4, "group")),
        ({"scale_rewards": False, "loss_type": "dr_grpo"}, (0.2, None, "none")),
        ({"scale_rewards": "batch"}, (0.2, None, "batch")),
    ],
)
def test_grpo_config_carries_clipping_and_reward_scaling(tmp_path, train, expected):
    import torch

    from loralab.training.grpo import build_grpo_config

    config = grpo_config(Path("m"), Path("d.jsonl"), tmp_path, **train)
    args = build_grpo_config(
        config, tmp_path / "ckpt", device="cpu", model_dtype=torch.float32, weights=[1.0]
    )
    assert (args.epsilon, args.epsilon_high, args.scale_rewards) == expected
    assert args.loss_type == config.train.loss_type


def test_grpo_without_rewards_is_refused_at_train_rewards():
    with pytest.raises(ConfigError) as info:
        parse_run_config(
            {
                "model": {"name_or_path": "m"},
                "data": {"source": "d.jsonl", "format": "preference"},
                "train": {"method": "grpo"},
            }
        )
    assert {p.loc for p in info.value.problems} == {"train.rewards", "data.format"}


def test_luspo_needs_sequence_level_ratios():
    with pytest.raises(ConfigError) as info:
        parse_run_config(
            {
                "model": {"name_or_path": "m"},
                "data": {"source": "d.jsonl"},
                "train": {"method": "grpo", "loss_type": "luspo", "rewards": [{"name": "format"}]},
            }
        )
    assert [p.loc for p in info.value.problems] == ["train.importance_sampling_level"]


STEPS_TO_LEARN = 10
WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "music",
    "tiger",
    "paper",
    "green",
    "window",
    "silver",
    "bread",
    "ocean",
]


def reverse_rows(n: int, seed: int = 0) -> list[str]:
    import json

    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        words = rng.sample(WORDS, rng.randint(3, 4))
        prompt = f"Reverse the words: {' '.join(words)}. Start your reply with 'Answer:'."
        reply = f"Answer: {' '.join(reversed(words))}"
        lines.append(json.dumps({"prompt": prompt, "completion": reply}))
    return lines


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 3 minutes on 2 idle cores; far longer on a shared machine
def test_grpo_raises_a_format_reward_on_smollm2(smollm2, tmp_path):
    """FIELD-NOTES: r16, 8 prompts a step x 4 answers of 16 tokens, lr 5e-4, beta 0, a 0/1
    regex format reward (the reward library's `rule` preset)."""
    data = tmp_path / "reverse.jsonl"
    data.write_text("\n".join(reverse_rows(200)) + "\n", encoding="utf-8")
    config = parse_run_config(
        {
            "model": {"name_or_path": str(smollm2)},
            "data": {"source": str(data)},
            "lora": {"r": 16, "alpha": 32},
            "train": {
                "method": "grpo",
                "max_steps": STEPS_TO_LEARN,
                "batch_size": 2,
                "gradient_accumulation_steps": 4,
                "num_generations": 4,
                "max_completion_length": 16,
                "learning_rate": 5e-4,
                "warmup_ratio": 0.0,
                "lr_scheduler": "constant",
                "gradient_checkpointing": False,
                "system_prompt_template": False,
                "rewards": [
                    {"name": "rule", "params": {"kind": "regex", "pattern": r"^\s*Answer:"}}
                ],
            },
            "output": {"dir": str(tmp_path / "run")},
        }
    )
    reporter = ListReporter()
    train(config, reporter)
    rewards = [s.metrics["reward"] for s in _logged(reporter)]
    assert len(rewards) == STEPS_TO_LEARN
    # Measured here: 0.09, 0.47, 0.78, 0.94, 1.0 at steps 1-5 (the base rarely starts so).
    first, last = sum(rewards[:2]) / 2, sum(rewards[-3:]) / 3
    assert last > first + 0.2, rewards
