"""The catalog: every family asked for, consistent numbers, lookups."""

from __future__ import annotations

import pytest

from loralab.errors import NotFound
from loralab.models import find_entry, list_catalog, list_families


def test_catalog_has_every_family_with_instruct_models():
    families = list_families()
    assert families == ["qwen3", "qwen2.5", "llama", "mistral", "phi", "gemma", "smollm2"]
    for family in families:
        entries = list_catalog(family)
        assert any(e.kind == "instruct" for e in entries), family


def test_published_parameter_counts_match_the_dimensions():
    # A typo in hidden size, layers, heads or vocab moves the count by far more than 2%.
    for e in list_catalog():
        computed = e.dims.count_parameters()
        assert abs(computed / e.parameters - 1) < 0.02, (e.id, computed, e.parameters)


def test_entries_are_well_formed():
    ids = [e.id for e in list_catalog()]
    assert len(ids) == len(set(ids))
    for e in list_catalog():
        linear = {s.name for s in e.dims.linear_layers()}
        assert set(e.target_modules) == linear, e.id
        assert e.context_length >= 8192
        assert e.dims.hidden_size % 64 == 0
        if e.base_id:
            base = find_entry(e.base_id)
            assert base is not None and base.kind == "base" and base.dims == e.dims


@pytest.mark.parametrize(
    ("model_id", "hidden", "layers", "kv_heads", "vocab", "tied"),
    [
        ("Qwen/Qwen2.5-0.5B-Instruct", 896, 24, 2, 151936, True),
        ("Qwen/Qwen3-8B", 4096, 36, 8, 151936, False),
        ("meta-llama/Llama-3.2-1B-Instruct", 2048, 16, 8, 128256, True),
        ("meta-llama/Llama-3.1-8B-Instruct", 4096, 32, 8, 128256, False),
        ("mistralai/Mistral-7B-Instruct-v0.3", 4096, 32, 8, 32768, False),
        ("microsoft/Phi-4-mini-instruct", 3072, 32, 8, 200064, True),
        ("google/gemma-2-2b-it", 2304, 26, 4, 256000, True),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", 576, 30, 3, 49152, True),
    ],
)
def test_known_architectures(model_id, hidden, layers, kv_heads, vocab, tied):
    dims = find_entry(model_id).dims
    assert (dims.hidden_size, dims.num_layers, dims.num_kv_heads) == (hidden, layers, kv_heads)
    assert (dims.vocab_size, dims.tie_embeddings) == (vocab, tied)


def test_phi_uses_fused_projections_and_qwen3_a_wide_head_dim():
    phi = find_entry("microsoft/Phi-3.5-mini-instruct")
    assert phi.target_modules == ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")
    qwen3 = find_entry("Qwen/Qwen3-0.6B").dims
    assert qwen3.head_dim == 128 != qwen3.hidden_size // qwen3.num_heads


def test_find_entry_is_case_insensitive_and_none_when_missing():
    assert find_entry("qwen/qwen2.5-0.5b-instruct").id == "Qwen/Qwen2.5-0.5B-Instruct"
    assert find_entry("someone/unknown-model") is None


def test_family_filter_is_case_insensitive_and_unknown_family_is_not_found():
    assert {e.family for e in list_catalog("Llama")} == {"llama"}
    with pytest.raises(NotFound) as info:
        list_catalog("gpt")
    assert info.value.status == 404
    assert "qwen3" in info.value.fix
