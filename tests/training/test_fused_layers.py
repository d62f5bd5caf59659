"""Fused RMSNorm and MLP layers: the model's own numbers (outputs and every gradient) with
fewer tensors kept for the backward pass, and the model's own forward wherever they do not
apply."""

from __future__ import annotations

import pytest
import torch

from loralab.training import fused_layers
from loralab.training.fused_layers import (
    apply_fused_layers,
    choose_fused_layers,
    remove_fused_layers,
)
from loralab.training.fused_lora import apply_fused_lora

LAYERS = 7  # 2 blocks x (2 norms + 1 MLP) + the final norm


def _peft_model(model_dir, dtype=torch.float32, **lora):
    import peft
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    lora.setdefault("target_modules", "all-linear")
    config = peft.LoraConfig(r=8, lora_alpha=16, task_type="CAUSAL_LM", **lora)
    model = peft.get_peft_model(base, config)
    for name, param in model.named_parameters():
        if "lora_B" in name:  # PEFT starts B at zero; give the LoRA branch something to add
            torch.nn.init.normal_(param, std=0.02)
    return model


def _ids(model):
    return torch.randint(
        3, model.config.vocab_size, (2, 40), generator=torch.Generator().manual_seed(1)
    )


def _step(model, ids):
    """Logits, loss, every gradient, and the bytes autograd saved for the backward pass.

    Counted as the backward unpacks them: what the graph really kept (a tensor saved by a
    part of the graph discarded during the forward, as PEFT's DoRA norm, is never unpacked),
    all alive at once at the end of the forward, so their addresses tell them apart."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def unpack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            saved[ptr] = t.untyped_storage().nbytes()
        return t

    model.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t, unpack):
        out = model(input_ids=ids, labels=ids, use_cache=False)
        out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return out.logits.detach(), out.loss.detach(), grads, sum(saved.values())


def _assert_same(got, want):
    torch.testing.assert_close(got[0], want[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got[1], want[1])
    assert got[2].keys() == want[2].keys() and got[2]
    for name, grad in want[2].items():
        torch.testing.assert_close(got[2][name], grad, atol=1e-6, rtol=1e-4, msg=name)


@pytest.mark.parametrize("arch", ["tiny_model", "tiny_llama"])  # Qwen2 has q/k/v biases
def test_fused_layers_keep_the_numbers_and_save_less(arch, request):
    model = _peft_model(request.getfixturevalue(arch))
    ids = _ids(model)
    apply_fused_lora(model)
    want = _step(model, ids)

    assert apply_fused_layers(model) == LAYERS
    got = _step(model, ids)

    _assert_same(got, want)
    # The MLP keeps gate and up (not silu(gate), nor down's input): 2 of 4 intermediate-sized
    # tensors a token; everything else saved is the same.
    cfg = model.config
    tokens = ids.numel()
    mlp_share = 2 * cfg.intermediate_size * 4 * tokens * cfg.num_hidden_layers
    assert want[3] - got[3] == pytest.approx(mlp_share, rel=0.02)
    assert apply_fused_layers(model) == LAYERS  # again: nothing more to replace
    assert remove_fused_layers(model) == LAYERS and remove_fused_layers(model) == 0
    _assert_same(_step(model, ids), want)


def test_with_peft_s_lora_layers_the_mlp_fuses_only_the_activation(tiny_llama, monkeypatch):
    """``train.fused_lora: false``: PEFT's LoRA layers stay, around ``SwiGLU``."""
    model = _peft_model(tiny_llama)
    ids = _ids(model)
    want = _step(model, ids)
    calls: list[str] = []
    for name in ("SwiGLU", "FusedLoraMLP"):
        cls = getattr(fused_layers, name)
        spy = staticmethod(lambda *a, _o=cls.apply, _n=name: calls.append(_n) or _o(*a))
        monkeypatch.setattr(cls, "apply", spy)
    apply_fused_layers(model, lora=False)
    got = _step(model, ids)
    _assert_same(got, want)
    assert calls == ["SwiGLU", "SwiGLU"]  # one MLP a block, never the LoRA-computing one
    cfg = model.config
    assert want[3] - got[3] == pytest.approx(
        cfg.intermediate_size * 4 * ids.numel() * cfg.num_hidden_layers, rel=0.02
    )


def test_mlp_without_lora_and_a_trained_norm_get_their_gradients(tiny_llama):
    """Attention-only LoRA: the MLP's projections are frozen ``nn.Linear`` layers, fused all
    the same; a norm weight set trainable gets its gradient from ``FusedRMSNorm``."""
    model = _peft_model(tiny_llama, target_modules=["q_proj", "v_proj"])
    norm = model.base_model.model.model.layers[0].post_attention_layernorm
    norm.weight.requires_grad_(True)
    ids = _ids(model)
    want = _step(model, ids)
    apply_fused_layers(model)
    got = _step(model, ids)
    _assert_same(got, want)
    assert any(name.endswith("post_attention_layernorm.weight") for name in got[2])
    assert got[3] < want[3]


def test_what_the_fused_layers_do_not_cover_runs_the_model_s_own_forward(tiny_llama):
    """bf16 layers and DoRA projections: the own forward (the norms), ``SwiGLU`` between
    PEFT's DoRA layers (the MLP)."""
    bf16 = _peft_model(tiny_llama, dtype=torch.bfloat16)
    ids = _ids(bf16)
    want = _step(bf16, ids)
    assert apply_fused_layers(bf16) == LAYERS  # replaced, and handing every call back
    got = _step(bf16, ids)
    assert torch.equal(got[0], want[0]) and got[3] == want[3]

    dora = _peft_model(tiny_llama, use_dora=True)
    want = _step(dora, ids)
    apply_fused_layers(dora)
    got = _step(dora, ids)
    _assert_same(got, want)
    assert got[3] < want[3]  # silu(gate) is not kept


def test_choose_fused_layers_says_why():
    assert choose_fused_layers(None, "cpu", liger_kernel=False).facts() == {
        "value": True,
        "reason": "on: fewer activations kept",
    }
    assert choose_fused_layers(False, "cpu", liger_kernel=False).facts() == {
        "value": False,
        "reason": "train.fused_layers",
    }
    off = choose_fused_layers(None, "cuda", liger_kernel=True)
    assert off.value is False and "Liger" in off.reason
