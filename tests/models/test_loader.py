"""Loading models and tokenizers from local folders and the cache, and the errors offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loralab.config import ModelConfig
from loralab.errors import HubUnavailable, ModelError, Unsupported
from loralab.models import load_model_and_tokenizer, resolve_source

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FAKE_ID = "loralab-test/no-such-model"


def test_local_folder_loads_for_training(tiny_model):
    import torch

    model, tok = load_model_and_tokenizer(ModelConfig(name_or_path=str(tiny_model)))
    assert model.dtype == torch.float32  # auto on CPU
    assert model.config.use_cache is False
    assert model.config._attn_implementation == "sdpa"
    assert tok.padding_side == "right"
    assert (
        model.config.pad_token_id == tok.pad_token_id == tok.convert_tokens_to_ids("<|endoftext|>")
    )
    batch = tok(["Hi", "What is 2 + 2?"], return_tensors="pt", padding=True)
    loss = model(**batch, labels=batch["input_ids"]).loss
    loss.backward()
    assert torch.isfinite(loss)


def test_inference_load_pads_left_and_uses_config_dtype(tiny_llama):
    import torch

    cfg = ModelConfig(name_or_path=str(tiny_llama), dtype="bfloat16", attn_implementation="eager")
    model, tok = load_model_and_tokenizer(cfg, for_training=False)
    assert model.dtype == torch.bfloat16
    assert not model.training
    assert model.config._attn_implementation == "eager"
    assert tok.padding_side == "left"


def test_chat_template_override_and_missing_pad_token(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    # A copy of the tiny model whose tokenizer has no pad token.
    folder = tmp_path / "no-pad"
    shutil.copytree(tiny_model, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.pad_token = None
    tok.save_pretrained(folder)
    assert AutoTokenizer.from_pretrained(folder).pad_token is None

    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    cfg = ModelConfig(name_or_path=str(folder), chat_template=template)
    model, tok = load_model_and_tokenizer(cfg)
    assert tok.pad_token == tok.eos_token == "<|im_end|>"  # no pad/unk token: eos is the fallback
    assert model.config.pad_token_id == tok.pad_token_id
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert text == "[user] hi\n"


def test_missing_folder_and_non_model_folder_raise_model_error(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for path in (tmp_path / "missing", tmp_path, tmp_path / "file.txt", "./no/such/folder"):
        with pytest.raises(ModelError) as info:
            load_model_and_tokenizer(ModelConfig(name_or_path=str(path)))
        assert info.value.code == "model_error"
        assert info.value.fix


def test_invalid_hub_id_raises_model_error():
    with pytest.raises(ModelError):
        load_model_and_tokenizer(ModelConfig(name_or_path="not a valid id!"))


def test_uncached_hub_id_offline_raises_hub_unavailable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnavailable) as info:
        load_model_and_tokenizer(ModelConfig(name_or_path=FAKE_ID))
    assert info.value.code == "hub_unavailable" and info.value.status == 503
    assert FAKE_ID in info.value.message
    assert "download it first or give a local path" in info.value.message


def test_uncached_hub_id_with_unreachable_hub_raises_hub_unavailable(monkeypatch):
    # Offline mode off, but the hub endpoint is a closed local port: nothing answers.
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(HubUnavailable) as info:
        load_model_and_tokenizer(ModelConfig(name_or_path=FAKE_ID))
    assert "127.0.0.1:9" in info.value.message


def _put_in_hub_cache(model_dir: Path, cache: Path, repo_id: str) -> None:
    """Lay a model folder out as huggingface_hub's cache does (snapshots + refs/main)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    snapshot = repo / "snapshots" / commit
    shutil.copytree(model_dir, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)


def test_model_in_the_hub_cache_loads_offline_by_id(tiny_llama, tmp_path):
    cache = tmp_path / "hub"
    _put_in_hub_cache(tiny_llama, cache, "loralab-test/tiny-llama")
    # huggingface_hub reads its cache location at import, so this runs in a fresh process.
    code = (
        "from loralab.config import ModelConfig\n"
        "from loralab.models import load_model_and_tokenizer, resolve_source\n"
        "assert resolve_source('loralab-test/tiny-llama').kind == 'cached'\n"
        "m, t = load_model_and_tokenizer(ModelConfig(name_or_path='loralab-test/tiny-llama'))\n"
        "assert type(m).__name__ == 'LlamaForCausalLM', type(m)\n"
        "assert t.eos_token == '<|im_end|>'\n"
    )
    env = dict(os.environ, HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _has(module: str) -> bool:
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec(module) is not None


def test_four_bit_needs_cuda_and_bitsandbytes(tiny_model):
    cfg = ModelConfig(name_or_path=str(tiny_model), quantization="4bit")
    if _has("bitsandbytes"):
        model, _ = load_model_and_tokenizer(cfg)
        assert getattr(model, "is_loaded_in_4bit", False)
        return
    with pytest.raises(Unsupported) as info:
        load_model_and_tokenizer(cfg)
    assert info.value.code == "unsupported"
    assert "4-bit quantization needs a CUDA GPU and bitsandbytes" in info.value.message
    assert "model.quantization: none" in info.value.message


def test_flash_attention_needs_cuda_and_flash_attn(tiny_model):
    cfg = ModelConfig(name_or_path=str(tiny_model), attn_implementation="flash_attention_2")
    if _has("flash_attn"):
        model, _ = load_model_and_tokenizer(cfg)
        assert model.config._attn_implementation == "flash_attention_2"
        return
    with pytest.raises(Unsupported):
        load_model_and_tokenizer(cfg)


def test_resolve_source_kinds(tiny_model):
    assert resolve_source(str(tiny_model)).kind == "local"
    assert resolve_source(FAKE_ID, check_hub=False).kind == "hub"


def test_server_model_reference_outside_the_server_is_a_model_error():
    from loralab.errors import ModelError
    from loralab.models import resolve_source

    with pytest.raises(ModelError) as info:
        resolve_source("model:0123456789abcdef0123456789abcdef")
    assert info.value.fix
