"""``model.adapter``: a run continues training an existing adapter (what ``adapter:<id>``
resolves to) instead of starting a fresh LoRA."""

from __future__ import annotations

import json

from safetensors.torch import load_file

from loralab.training import ListReporter, train

from .conftest import tiny_config


def test_a_run_continues_an_adapter_keeping_its_rank_and_starting_from_its_weights(
    full_run, tiny_model, finetome, tmp_path
):
    start = full_run.result.adapter_dir
    config = tiny_config(tiny_model, finetome, tmp_path / "more", max_steps=2)
    config.model.adapter = str(start)
    config.lora.r = 32  # not used: the adapter keeps its own rank and modules

    result = train(config, ListReporter())

    assert result.status == "completed"
    saved = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert saved["r"] == 8  # the adapter's rank (tiny_config's lora.r), not 32
    before = load_file(start / "adapter_model.safetensors")
    after = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert before.keys() == after.keys()
    # LoRA B starts at zero in a fresh adapter; here it starts from the trained one and moves on.
    b_keys = [k for k in before if "lora_B" in k]
    assert all(before[k].abs().sum() > 0 for k in b_keys)
    assert any(not after[k].equal(before[k]) for k in b_keys)
    drift = max((after[k] - before[k]).abs().max().item() for k in b_keys)
    fresh = max(after[k].abs().max().item() for k in b_keys)
    assert drift < fresh  # it moved from the old weights, it did not start over
