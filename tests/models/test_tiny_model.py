"""The tiny test models: they load offline, keep their token ids, chat, and produce logits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TEXTS = [
    "Hello world! What is 12 + 7?\n\n  indented",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "héllo ünïcode 日本語 🎉 café",
    "It's  don't\r\n\ttabs   and    spaces",
    "",
]
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "And 3 + 3?"},
    {"role": "assistant", "content": "6, of course."},
]


@pytest.fixture(params=["qwen2", "llama"])
def tiny(request):
    """Each tiny model in turn: (arch, folder)."""
    fixture = "tiny_model" if request.param == "qwen2" else "tiny_llama"
    return request.param, request.getfixturevalue(fixture)


def test_ids_survive_autotokenizer_reload(tiny):
    from transformers import AutoTokenizer

    from loralab.models.tiny import _train_tokenizer

    _, path = tiny
    trained = _train_tokenizer(seed=0)
    reloaded = AutoTokenizer.from_pretrained(path)
    for text in TEXTS:
        ids = trained.encode(text).ids
        assert reloaded(text)["input_ids"] == ids, text
        assert reloaded.decode(ids) == text


def test_tokenizer_json_loads_without_transformers(tiny):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    _, path = tiny
    plain = Tokenizer.from_file(str(path / "tokenizer.json"))
    hf = AutoTokenizer.from_pretrained(path)
    assert 2000 <= plain.get_vocab_size() <= 4096
    for text in TEXTS:
        assert plain.encode(text).ids == hf(text)["input_ids"]
    # Specials are single tokens, not spelled out.
    assert plain.encode("<|im_start|><|im_end|><|endoftext|>").ids == [1, 2, 0]


def test_special_tokens_and_generation_config(tiny):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    _, path = tiny
    tok = AutoTokenizer.from_pretrained(path)
    assert tok.pad_token == "<|endoftext|>"
    assert tok.eos_token == "<|im_end|>"
    assert tok.bos_token is None
    config = AutoConfig.from_pretrained(path)
    assert config.eos_token_id == tok.eos_token_id
    assert config.pad_token_id == tok.pad_token_id
    assert GenerationConfig.from_pretrained(path).eos_token_id == tok.eos_token_id


def test_chat_template_renders_chatml_with_assistant_mask(tiny):
    from transformers import AutoTokenizer

    _, path = tiny
    assert "{% generation %}" in (path / "chat_template.jinja").read_text()
    tok = AutoTokenizer.from_pretrained(path)

    text = tok.apply_chat_template(MESSAGES[:2], tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    out = tok.apply_chat_template(
        MESSAGES, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(ids) == len(mask)
    assistant = [i for i, m in zip(ids, mask, strict=True) if m]
    # Both assistant turns, each with its <|im_end|> so the model learns to stop.
    assert tok.decode(assistant) == "4<|im_end|>6, of course.<|im_end|>"


def test_model_has_real_architecture_and_finite_logits(tiny):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    arch, path = tiny
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == arch
    assert config["hidden_size"] % 256 == 0 and config["intermediate_size"] % 256 == 0
    # Qwen2.5's small models tie embeddings; Llama 3.1 does not.
    assert config["tie_word_embeddings"] is (arch == "qwen2")

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.vocab_size == len(tok)
    batch = tok(["What is 2 + 2?", "Hello"], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**batch, labels=batch["input_ids"])
    assert out.logits.shape[:2] == batch["input_ids"].shape
    assert out.logits.shape[-1] == len(tok)
    assert torch.isfinite(out.logits).all()
    assert torch.isfinite(out.loss)


def test_same_seed_gives_same_model(tmp_path):
    from safetensors.torch import load_file

    from loralab.models import make_tiny_model

    a = make_tiny_model(tmp_path / "a", arch="llama", seed=3)
    b = make_tiny_model(tmp_path / "b", arch="llama", seed=3)
    c = make_tiny_model(tmp_path / "c", arch="llama", seed=4)
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()
    wa, wb, wc = (load_file(p / "model.safetensors") for p in (a, b, c))
    assert all((wa[k] == wb[k]).all() for k in wa)
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not (wa[q] == wc[q]).all()


def test_unknown_arch_raises_model_error(tmp_path):
    from loralab.errors import ModelError
    from loralab.models import make_tiny_model

    with pytest.raises(ModelError) as info:
        make_tiny_model(tmp_path, arch="gpt2")  # type: ignore[arg-type]
    assert info.value.code == "model_error"


def test_importing_models_does_not_import_torch():
    code = (
        "import sys, loralab.models\n"
        "heavy = {'torch', 'transformers', 'peft', 'trl', 'datasets'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
