"""A real tiny SFT run on the CPU: the loss falls, only LoRA weights move, the files are right."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from loralab.config import load_run_config
from loralab.training import (
    CheckpointSaved,
    Finished,
    Phase,
    RunStarted,
    StepProgress,
)

from .conftest import STEPS


def test_loss_falls(full_run):
    losses = full_run.losses()

    assert sorted(losses) == list(range(1, STEPS + 1))
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    first, last = losses[1], sum(losses[s] for s in (STEPS - 1, STEPS)) / 2
    assert last < first - 0.05, losses


def test_lora_weights_change_and_base_weights_do_not(full_run, tiny_model):
    original = load_file(str(tiny_model / "model.safetensors"))
    lora_b, base = {}, {}
    for name, param in full_run.model.named_parameters():
        if "lora_" in name:
            assert param.requires_grad, name
            if "lora_B" in name:
                lora_b[name] = param.detach()
        else:
            assert not param.requires_grad, name
            base[name.replace(".base_layer", "")] = param.detach()

    # PEFT initialises lora_B to zero; training moved every one of them.
    assert lora_b and all(w.abs().max() > 0 for w in lora_b.values())
    compared = 0
    for key, tensor in original.items():
        if key in base:
            assert torch.equal(base[key], tensor), key
            compared += 1
    assert compared == len(original)


def test_events_tell_the_whole_story_in_order(full_run):
    kinds = [e.type for e in full_run.reporter.events]
    phases = [e.name for e in full_run.reporter.of(Phase)]

    assert phases[:3] == ["preparing_data", "loading_model", "tokenizing"]
    assert phases[-2:] == ["first_step", "saving"]
    assert kinds.index("run_started") < kinds.index("step") < kinds.index("finished")
    assert kinds[-1] == "finished"
    started = full_run.reporter.of(RunStarted)[0]
    assert started.total_steps == STEPS and started.resumed_from is None
    assert 0 < started.trainable_params < started.total_params
    steps = full_run.reporter.of(StepProgress)
    assert steps[-1].eta_seconds == 0 and steps[-1].tokens_per_second > 0
    assert all(s.elapsed_seconds > 0 for s in steps)
    saved = full_run.reporter.of(CheckpointSaved)
    assert [c.step for c in saved] == [STEPS]  # save_steps=100: only the final save


def test_output_layout_and_run_card(full_run):
    root = full_run.result.output_dir
    adapter = root / "adapter"

    assert full_run.result.status == "completed"
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "tokenizer.json").is_file()
    assert (root / "checkpoints" / f"checkpoint-{STEPS}" / "COMPLETE").is_file()
    assert (root / "README.md").read_text().startswith("---\nbase_model:")
    # The saved config repeats the run.
    assert load_run_config(root / "config.yaml") == full_run.config

    card = json.loads((root / "run_card.json").read_text())
    finished = full_run.reporter.of(Finished)[0]
    assert card["status"] == "completed" and card["step"] == STEPS
    assert card["data"]["fingerprint"].startswith("sha256:")
    assert card["data"]["train_examples"] == 48
    assert set(card["versions"]) >= {"torch", "transformers", "peft", "trl", "loralab"}
    assert card["metrics"]["train_loss"] == finished.metrics["train_loss"]
    assert card["timings"]["train"] > 0 and card["hardware"]["cpu_count"]
    assert card["config"] == full_run.config.model_dump(mode="json")
