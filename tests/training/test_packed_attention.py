"""``sdpa_packed``: padding-free batches attend per sequence, with the same numbers as sdpa's
block mask, and everything else (padded batches, generation with a cache) is sdpa's own."""

from __future__ import annotations

import pytest
import torch

from loralab.config import RunConfig
from loralab.models.packed_attention import (
    PACKED_SDPA,
    packed_attention_unsupported,
    register_packed_attention,
)
from loralab.training.builders import choose_attention

LENGTHS = [37, 64, 21, 50]  # one padding-free row of four sequences


def _load(model_dir, attn: str):
    from transformers import AutoModelForCausalLM

    register_packed_attention()
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation=attn)


def _packed_row(vocab: int):
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, vocab, (1, sum(LENGTHS)), generator=generator)
    positions = torch.cat([torch.arange(n) for n in LENGTHS]).unsqueeze(0)
    return ids, positions


@pytest.mark.parametrize("arch", ["tiny_model", "tiny_llama"])  # Qwen2 (GQA, biases), Llama
def test_packed_row_gives_sdpa_logits_and_gradients(arch, request):
    model_dir = request.getfixturevalue(arch)
    results = {}
    for attn in ("sdpa", PACKED_SDPA):
        model = _load(model_dir, attn).train()
        ids, positions = _packed_row(model.config.vocab_size)
        logits = model(input_ids=ids, position_ids=positions, use_cache=False).logits
        logits.float().logsumexp(-1).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results[attn] = (logits.detach(), grads)
        assert model.config._attn_implementation == attn

    (sdpa_logits, sdpa_grads), (packed_logits, packed_grads) = results["sdpa"], results[PACKED_SDPA]
    torch.testing.assert_close(packed_logits, sdpa_logits, atol=2e-5, rtol=1e-4)
    assert packed_grads.keys() == sdpa_grads.keys() and len(sdpa_grads) > 10
    for name, grad in sdpa_grads.items():
        torch.testing.assert_close(packed_grads[name], grad, atol=1e-5, rtol=1e-3, msg=name)


def test_each_packed_sequence_sees_only_itself(tiny_llama):
    model = _load(tiny_llama, PACKED_SDPA).eval()
    ids, positions = _packed_row(model.config.vocab_size)
    second = slice(LENGTHS[0], LENGTHS[0] + LENGTHS[1])
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=positions, use_cache=False).logits
        alone = model(input_ids=ids[:, second], use_cache=False).logits
        changed = ids.clone()
        changed[:, : LENGTHS[0]] = 5  # another first sequence
        after_change = model(input_ids=changed, position_ids=positions, use_cache=False).logits
    torch.testing.assert_close(packed[:, second], alone, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(after_change[:, second], packed[:, second])


def test_padded_batches_and_generation_are_sdpa_s_own(tiny_model):
    sdpa, packed = _load(tiny_model, "sdpa").eval(), _load(tiny_model, PACKED_SDPA).eval()
    ids = torch.randint(
        3, sdpa.config.vocab_size, (2, 12), generator=torch.Generator().manual_seed(2)
    )
    mask = torch.ones_like(ids)
    mask[1, :5] = 0  # left padding: the mask goes to sdpa
    with torch.no_grad():
        want = sdpa(input_ids=ids, attention_mask=mask).logits
        got = packed(input_ids=ids, attention_mask=mask).logits
        torch.testing.assert_close(got[mask.bool()], want[mask.bool()], atol=2e-5, rtol=1e-4)
        # Greedy decoding goes through the KV cache: queries are not the keys there.
        settings = dict(max_new_tokens=8, do_sample=False, pad_token_id=0)
        assert torch.equal(
            packed.generate(input_ids=ids, attention_mask=mask, **settings),
            sdpa.generate(input_ids=ids, attention_mask=mask, **settings),
        )


def test_models_it_cannot_cover_keep_their_attention(tiny_model):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_model)
    config._attn_implementation = "sdpa"
    assert packed_attention_unsupported(config) is None
    config.layer_types = ["full_attention", "sliding_attention"]
    assert packed_attention_unsupported(config) == "the model has sliding-window layers"
    config._attn_implementation = "eager"
    assert packed_attention_unsupported(config) == "the model runs eager attention"


def _config(model_dir, **train) -> RunConfig:
    return RunConfig.model_validate(
        {
            "model": {"name_or_path": str(model_dir)},
            "data": {"source": "rows.jsonl"},
            "train": {"method": "sft", **train},
        }
    )


def test_the_run_chooses_sdpa_packed_for_padding_free_cpu_runs_and_says_why(tiny_model):
    auto = _load(tiny_model, "sdpa")
    choice = choose_attention(_config(tiny_model), "cpu", auto)
    assert choice.value == PACKED_SDPA == auto.config._attn_implementation
    assert "padding-free" in choice.reason

    padded = _load(tiny_model, "sdpa")
    choice = choose_attention(_config(tiny_model, padding_free=False), "cpu", padded)
    assert (choice.value, padded.config._attn_implementation) == ("sdpa", "sdpa")

    asked = _load(tiny_model, "sdpa")
    config = _config(tiny_model)
    config.model.attn_implementation = "sdpa"  # the override: what the user set stays
    choice = choose_attention(config, "cpu", asked)
    assert choice == type(choice)("sdpa", "model.attn_implementation: sdpa")
    assert choose_attention(_config(tiny_model), "cuda", _load(tiny_model, "sdpa")).value == "sdpa"
