"""The fast path decides itself at run time and says so in the run card: torch threads from the
machine, gradient checkpointing from the memory estimate, length-grouped batches when padded,
the chunked loss on CPU, and tokens cached by what decides them (hit on the next run and on a
resume, miss when max_seq_length changes)."""

from __future__ import annotations

import json
import os

import pytest

from loralab.training import builders, environment
from loralab.training.builders import choose_gradient_checkpointing, choose_group_by_length
from loralab.training.environment import choose_threads, usable_physical_cores
from loralab.training.sft import build_sft_config

from .conftest import STEPS, STOP_AT, _StopAfter, _train_spying, tiny_config


def _card(run) -> dict:
    return json.loads(run.result.run_card.read_text())


# --- threads ---------------------------------------------------------------------------------


def test_threads_are_the_usable_physical_cores_and_cpu_threads_wins(monkeypatch):
    monkeypatch.delenv(environment.CPU_JOBS_ENV, raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    cores, why = usable_physical_cores()
    assert 1 <= cores <= len(os.sched_getaffinity(0))
    assert "physical core" in why

    auto = choose_threads(None, "cpu")
    assert auto.threads == cores and auto.reason == why
    assert choose_threads(3, "cpu").threads == 3
    assert choose_threads(3, "cpu").reason == "train.cpu_threads"
    assert choose_threads(None, "cuda").threads is None  # torch's default on GPU


def test_threads_are_shared_among_cpu_jobs_and_capped_by_a_cgroup_quota(monkeypatch):
    cores, _ = usable_physical_cores()
    monkeypatch.setenv(environment.CPU_JOBS_ENV, "2")
    shared = choose_threads(None, "cpu")
    assert shared.threads == max(1, cores // 2)
    assert "2 CPU jobs at once" in shared.reason

    monkeypatch.delenv(environment.CPU_JOBS_ENV)
    monkeypatch.setattr(environment, "_cgroup_cpu_quota", lambda: 1.0)
    capped = choose_threads(None, "cpu")
    assert capped.threads == 1
    assert "cgroup CPU quota 1" in capped.reason or cores == 1


# --- gradient checkpointing and length grouping ------------------------------------------------


def test_checkpointing_is_off_when_the_estimate_fits_and_on_when_memory_is_short(
    tiny_model, finetome, tmp_path, monkeypatch
):
    config = tiny_config(tiny_model, finetome, tmp_path / "run", gradient_checkpointing=None)
    roomy = choose_gradient_checkpointing(config, "cpu")
    assert roomy.value is False and roomy.reason.startswith("off: the estimated peak")

    monkeypatch.setattr(builders, "memory_available", lambda device: (2**20, "of available RAM"))
    short = choose_gradient_checkpointing(config, "cpu")
    assert short.value is True and "over 85% of 0.0 GB of available RAM" in short.reason

    for explicit in (True, False):
        fixed = tiny_config(tiny_model, finetome, tmp_path / "run", gradient_checkpointing=explicit)
        assert choose_gradient_checkpointing(fixed, "cpu").value is explicit


def test_an_unknown_model_size_gets_checkpointing(tiny_model, finetome, tmp_path):
    config = tiny_config(tmp_path / "no-model", finetome, tmp_path / "run")
    config.train.gradient_checkpointing = None
    choice = choose_gradient_checkpointing(config, "cpu")
    assert choice.value is True and choice.reason.startswith("on: no memory estimate")


@pytest.mark.parametrize(
    ("padding_free", "setting", "grouped"),
    [(False, None, True), (True, None, False), (True, True, True), (False, False, False)],
)
def test_length_grouping_is_on_for_padded_batches_unless_set(
    tiny_model, finetome, tmp_path, padding_free, setting, grouped
):
    import torch

    config = tiny_config(
        tiny_model, finetome, tmp_path, padding_free=padding_free, group_by_length=setting
    )
    assert choose_group_by_length(config).value is grouped
    args = build_sft_config(
        config, tmp_path, device="cpu", model_dtype=torch.float32, has_eval=False
    )
    assert args.train_sampling_strategy == ("group_by_length" if grouped else "random")


# --- a padded run, again from the tokens cache, stopped and resumed, and with other lengths ---


@pytest.fixture(scope="module")
def padded_runs(tiny_model, finetome, tmp_path_factory):
    """Padded runs (so batches are length-grouped by default) under one parent folder, which
    holds their tokens cache: uninterrupted, repeated, stopped + resumed, other max length."""
    root = tmp_path_factory.mktemp("padded")
    config = tiny_config(tiny_model, finetome, root / "first", padding_free=False)
    runs = {"first": _train_spying(config)}
    runs["again"] = _train_spying(tiny_config(tiny_model, finetome, root / "again",
                                              padding_free=False))  # fmt: skip
    stopped_config = tiny_config(tiny_model, finetome, root / "stopped", padding_free=False)
    stopper = _StopAfter(STOP_AT - 1)
    runs["stopped"] = _train_spying(stopped_config, reporter=stopper, stop=stopper.stop)
    runs["resumed"] = _train_spying(stopped_config, resume=True)
    shorter = tiny_config(
        tiny_model, finetome, root / "shorter", padding_free=False, max_seq_length=200, max_steps=1
    )
    runs["shorter"] = _train_spying(shorter)
    return runs


def test_the_run_card_says_what_the_run_chose_and_why(padded_runs):
    speed = _card(padded_runs["first"])["speed"]
    assert set(speed) == {
        "threads", "gradient_checkpointing", "group_by_length", "chunked_loss", "liger_kernel",
        "fused_lora", "fused_layers", "attention",
    }  # fmt: skip
    assert speed["threads"]["value"] >= 1 and "physical core" in speed["threads"]["reason"]
    # The test config sets checkpointing off; the rest is decided for a padded run on CPU.
    assert speed["gradient_checkpointing"] == {
        "value": False,
        "reason": "train.gradient_checkpointing",
    }
    assert speed["group_by_length"]["value"] is True
    assert speed["chunked_loss"]["value"] is True
    # No CUDA here: no Triton kernels, and attention is sdpa (what the model really runs).
    assert speed["liger_kernel"] == {"value": False, "reason": "off: the chunked loss is on"}
    assert speed["attention"] == {"value": "sdpa", "reason": "model.attn_implementation: auto"}
    assert speed["fused_lora"] == {"value": True, "reason": "on: vanilla LoRA without dropout"}
    assert speed["fused_layers"] == {"value": True, "reason": "on: fewer activations kept"}
    assert all(choice["reason"] for choice in speed.values())
    readme = (padded_runs["first"].result.output_dir / "README.md").read_text()
    assert "length-grouped batches on" in readme and "chunked loss on" in readme
    assert "fused LoRA layers on" in readme and "fused norm and MLP layers on" in readme


def test_length_grouped_padded_run_trains(padded_runs):
    losses = padded_runs["first"].losses()
    assert sorted(losses) == list(range(1, STEPS + 1))
    assert losses[STEPS] < losses[1]


def test_the_second_run_loads_its_tokens_from_the_cache(padded_runs):
    first, again = _card(padded_runs["first"])["data"], _card(padded_runs["again"])["data"]
    assert first["tokens_cache"] == "miss" and again["tokens_cache"] == "hit"
    for fact in ("tokens_fingerprint", "train_examples", "train_tokens", "trained_tokens"):
        assert again[fact] == first[fact], fact
    cached = padded_runs["first"].result.output_dir.parent / ".cache" / "tokenized"
    assert len([p for p in cached.iterdir() if not p.name.startswith(".")]) >= 1
    # The cached tokens train exactly as the fresh ones.
    assert padded_runs["again"].losses() == pytest.approx(padded_runs["first"].losses(), rel=1e-6)


def test_a_resumed_length_grouped_run_hits_the_cache_and_repeats_the_losses(padded_runs):
    resumed = padded_runs["resumed"]
    assert _card(resumed)["data"]["tokens_cache"] == "hit"
    assert resumed.result.step == STEPS
    reference = padded_runs["first"].losses()
    after = resumed.losses()
    assert sorted(after) == list(range(STOP_AT + 1, STEPS + 1))
    for step, loss in after.items():
        assert loss == pytest.approx(reference[step], rel=1e-5, abs=1e-6), step


def test_another_max_seq_length_misses_the_cache(padded_runs):
    shorter = _card(padded_runs["shorter"])["data"]
    first = _card(padded_runs["first"])["data"]
    assert shorter["tokens_cache"] == "miss"
    assert shorter["tokens_fingerprint"] != first["tokens_fingerprint"]


def test_liger_kernel_is_chosen_for_cuda_with_the_package_and_refused_without(
    monkeypatch, tmp_path
):
    import importlib.util

    from loralab.errors import Unsupported
    from loralab.training.builders import choose_liger_kernel

    real_find_spec = importlib.util.find_spec
    installed = {"liger_kernel": False}

    def find_spec(name, *args):
        if name in installed:
            return object() if installed[name] else None
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    auto = choose_liger_kernel(None, "cpu", chunked_loss=False)
    assert auto.value is False and "need CUDA" in auto.reason
    auto = choose_liger_kernel(None, "cuda", chunked_loss=False)
    assert auto.value is False and "pip install loralab[gpu]" in auto.reason
    with pytest.raises(Unsupported, match="needs a CUDA GPU and liger-kernel") as err:
        choose_liger_kernel(True, "cpu", chunked_loss=False)
    assert "Leave train.liger_kernel empty" in err.value.fix
    installed["liger_kernel"] = True
    assert choose_liger_kernel(None, "cuda", chunked_loss=False).value is True
    assert choose_liger_kernel(True, "cuda", chunked_loss=False).value is True
    assert choose_liger_kernel(False, "cuda", chunked_loss=False).value is False
    # Never together with the chunked loss: both replace the loss path.
    assert choose_liger_kernel(None, "cuda", chunked_loss=True).value is False
    config = build_sft_config(
        tiny_config(tmp_path / "model", tmp_path / "rows.jsonl", tmp_path / "out"),
        tmp_path / "out", device="cpu", model_dtype=None, has_eval=False,
        gradient_checkpointing=False, group_by_length=False, liger_kernel=False,
    )  # fmt: skip
    assert config.use_liger_kernel is False


def test_auto_attention_is_flash_attention_2_on_cuda_with_flash_attn_and_half_precision(
    monkeypatch,
):
    import importlib.util

    import torch

    from loralab.models.loader import _attn_implementation

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name == "flash_attn" else real_find_spec(name, *a),
    )
    assert _attn_implementation("auto", True, torch.bfloat16) == "flash_attention_2"
    assert _attn_implementation("auto", True, torch.float16) == "flash_attention_2"
    assert _attn_implementation("auto", True, torch.float32) == "sdpa"  # FA2 needs half
    assert _attn_implementation("auto", False, torch.bfloat16) == "sdpa"
    assert _attn_implementation("sdpa", True, torch.bfloat16) == "sdpa"  # the setting wins
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)
    if real_find_spec("flash_attn") is None:
        assert _attn_implementation("auto", True, torch.bfloat16) == "sdpa"
