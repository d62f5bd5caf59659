"""Fused LoRA layers: PEFT's numbers (outputs and every gradient), and PEFT's own forward
wherever the layer is not plain LoRA."""

from __future__ import annotations

import pytest
import torch

from loralab.config import LoraConfig
from loralab.training.fused_lora import (
    FusedForward,
    apply_fused_lora,
    choose_fused_lora,
    remove_fused_lora,
)


def _peft_model(model_dir, **lora):
    import peft
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    config = peft.LoraConfig(
        r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM", **lora
    )
    model = peft.get_peft_model(base, config)
    for name, param in model.named_parameters():
        if "lora_B" in name:  # PEFT starts B at zero; give the LoRA branch something to add
            torch.nn.init.normal_(param, std=0.02)
    return model


def _step(model, ids):
    model.zero_grad(set_to_none=True)
    out = model(input_ids=ids, labels=ids, use_cache=False)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.logits.detach(), out.loss.detach(), grads


@pytest.mark.parametrize("arch", ["tiny_model", "tiny_llama"])  # Qwen2 has base biases
def test_fused_layers_give_peft_s_outputs_and_gradients(arch, request):
    model = _peft_model(request.getfixturevalue(arch))
    ids = torch.randint(
        3, model.config.vocab_size, (2, 40), generator=torch.Generator().manual_seed(1)
    )
    want_logits, want_loss, want_grads = _step(model, ids)

    fused = apply_fused_lora(model)
    got_logits, got_loss, got_grads = _step(model, ids)

    assert fused == 14  # 7 linear layers a block, 2 blocks
    torch.testing.assert_close(got_logits, want_logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got_loss, want_loss)
    assert got_grads.keys() == want_grads.keys() and all("lora_" in n for n in got_grads)
    for name, grad in want_grads.items():
        torch.testing.assert_close(got_grads[name], grad, atol=1e-6, rtol=1e-4, msg=name)
    assert apply_fused_lora(model) == 14 and remove_fused_lora(model) == 14
    assert remove_fused_lora(model) == 0


def _count_fused(monkeypatch):
    from loralab.training import fused_lora

    calls = []
    original = fused_lora.FusedLoraLinear.apply
    monkeypatch.setattr(
        fused_lora.FusedLoraLinear, "apply", lambda *a: calls.append(1) or original(*a)
    )
    return calls


def test_layers_that_are_not_plain_lora_keep_peft_s_forward(tiny_llama, monkeypatch):
    calls = _count_fused(monkeypatch)
    ids = torch.randint(3, 500, (1, 16), generator=torch.Generator().manual_seed(2))

    model = _peft_model(tiny_llama)
    apply_fused_lora(model)
    with torch.no_grad():
        tuned = model(input_ids=ids).logits
        assert len(calls) == 14
        with model.disable_adapter():  # the base model, as evaluation compares against
            base = model(input_ids=ids).logits
        assert len(calls) == 14
        model.merge_adapter()  # merged weights: PEFT's path
        merged = model(input_ids=ids).logits
        model.unmerge_adapter()
        assert len(calls) == 14
    assert not torch.allclose(tuned, base)
    torch.testing.assert_close(merged, tuned, atol=1e-5, rtol=1e-4)

    dropout = _peft_model(tiny_llama, lora_dropout=0.1)
    apply_fused_lora(dropout)
    dropout(input_ids=ids)
    assert len(calls) == 14
    layer = dropout.base_model.model.model.layers[0].self_attn.q_proj
    assert isinstance(layer.__dict__["forward"], FusedForward)


def test_the_run_fuses_vanilla_lora_and_says_why_not_otherwise():
    assert choose_fused_lora(None, LoraConfig()).facts() == {
        "value": True,
        "reason": "on: vanilla LoRA without dropout",
    }
    assert choose_fused_lora(False, LoraConfig()).facts() == {
        "value": False,
        "reason": "train.fused_lora",
    }
    off = choose_fused_lora(None, LoraConfig(dropout=0.05, use_dora=True))
    assert not off.value
    assert off.reason == "off: lora.dropout is 0.05 and lora.use_dora is on (PEFT's own layers)"


def test_a_run_that_asks_for_fused_lora_it_cannot_use_says_so_in_its_log(
    tiny_model, finetome, tmp_path
):
    from loralab.config import parse_run_config
    from loralab.training import ListReporter, LogLine

    from .conftest import _train_spying, tiny_config

    raw = tiny_config(tiny_model, finetome, tmp_path / "run", fused_lora=True, max_steps=2)
    config = parse_run_config(
        {**raw.model_dump(mode="json"), "lora": {**raw.lora.model_dump(), "dropout": 0.1}}
    )
    run = _train_spying(config, reporter=ListReporter())
    assert run.result.status == "completed"
    warnings = [e.message for e in run.reporter.of(LogLine) if e.level == "warning"]
    assert "train.fused_lora is on but not used: off: lora.dropout is 0.1" in " ".join(warnings)
    card = run.result.run_card.read_text()
    assert '"fused_lora": {' in card and "lora.dropout is 0.1" in card
