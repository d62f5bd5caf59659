"""GGUF export of LoRA fine-tunes of the tiny Qwen2 and Llama models, through llama.cpp's own
converter and quantizer, checked by llama.cpp itself (llama-cpp-python) and by the ``gguf``
package's reader: metadata, F16 parity, Q8_0 within tolerance, a K-quant that loads and
generates, and the merged model equal to base plus adapter."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from loralab.export.parity import NEAR_TIE, Q8_MIN

pytestmark = pytest.mark.slow

ARCHS = ["qwen2", "llama"]


def gguf_path(export, quant: str):
    return export["out"] / "gguf" / f"tiny-{quant}.gguf"


def parity_of(export, quant: str) -> dict:
    reports = export["result"]["parity"]["quantizations"]
    return next(r for r in reports if r["quantization"] == quant)


@pytest.mark.parametrize("arch", ARCHS)
def test_export_writes_every_file_listed_in_its_result(exported, arch):
    export = exported(arch)
    result, out = export["result"], export["out"]
    names = {f["name"] for f in result["files"]}
    assert names == {
        "adapter",
        "merged",
        "gguf/tiny-f16.gguf",
        "gguf/tiny-q8_0.gguf",
        "gguf/tiny-q4_k_m.gguf",
        "parity.json",
        "Modelfile",
        "README.md",
    }
    for f in result["files"]:
        assert (out / f["name"]).exists() and f["size_bytes"] > 0
    assert not (out / ".work").exists()
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "merged" / "model.safetensors").is_file()
    assert (out / "merged" / "chat_template.jinja").is_file()
    assert json.loads((out / "parity.json").read_text()) == result["parity"]
    assert result["suspect"] is False
    card = (out / "README.md").read_text()
    assert "ollama create" in card and "llama-cli" in card and "AutoModelForCausalLM" in card
    modelfile = (out / "Modelfile").read_text()
    assert "FROM ./gguf/tiny-q4_k_m.gguf" in modelfile
    assert 'PARAMETER stop "<|im_end|>"' in modelfile and 'SYSTEM """You are terse."""' in modelfile
    phases = [d["phase"] for kind, d in export["reporter"].events if kind == "phase"]
    assert phases == ["adapter", "merge", "gguf", "gguf", "quantize", "parity", "modelfile", "card"]
    steps = [d["step"] for kind, d in export["reporter"].events if kind == "step"]
    assert steps == list(range(1, len(steps) + 1))


@pytest.mark.parametrize("arch", ARCHS)
def test_gguf_metadata_carries_tokenizer_chat_template_and_stop_tokens(exported, arch):
    from gguf import GGUFReader
    from transformers import AutoTokenizer

    export = exported(arch)
    tokenizer = AutoTokenizer.from_pretrained(export["out"] / "merged")
    reader = GGUFReader(str(gguf_path(export, "f16")))

    def value(key):
        return reader.fields[key].contents()

    assert value("general.architecture") == arch
    assert value("tokenizer.ggml.model") == "gpt2"
    assert value("tokenizer.ggml.pre") == "qwen2"  # the tiny tokenizers split like Qwen2
    tokens = value("tokenizer.ggml.tokens")
    vocab = tokenizer.get_vocab()
    assert all(tokens[i] == t for t, i in vocab.items())
    assert value("tokenizer.chat_template") == tokenizer.chat_template
    assert value("tokenizer.ggml.eos_token_id") == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert value("tokenizer.ggml.padding_token_id") == tokenizer.pad_token_id
    # The chat markup tokens are control tokens (type 3), so llama.cpp treats them as special.
    types = value("tokenizer.ggml.token_type")
    for special in ("<|im_start|>", "<|im_end|>"):
        assert types[vocab[special]] == 3


@pytest.mark.parametrize("arch", ARCHS)
def test_f16_gguf_greedy_tokens_equal_the_merged_model(exported, arch):
    report = parity_of(exported(arch), "f16")
    assert report["tokenization_equal"]
    assert report["tokens"] >= 3 * 8
    assert report["passed"] is True, report
    # 100% teacher-forced agreement, or only near-ties flipped (FIELD-NOTES: GGUF).
    if report["agreement"] < 1.0:
        assert report["first_divergence"]["hf_margin"] < NEAR_TIE
    assert report["max_logit_diff"] < 0.05


@pytest.mark.parametrize("arch", ARCHS)
def test_q8_0_agrees_within_tolerance_and_k_quant_is_reported(exported, arch):
    export = exported(arch)
    q8 = parity_of(export, "q8_0")
    assert q8["tokenization_equal"] and q8["agreement"] >= Q8_MIN and q8["passed"] is True
    k = parity_of(export, "q4_k_m")
    assert k["passed"] is None and k["tokens"] == q8["tokens"]


@pytest.mark.parametrize("arch", ARCHS)
def test_k_quant_loads_and_generates_in_llama_cpp(exported, arch):
    from gguf import GGUFReader
    from llama_cpp import LLAMA_FTYPE_MOSTLY_Q4_K_M, Llama

    path = gguf_path(exported(arch), "q4_k_m")
    assert GGUFReader(str(path)).fields["general.file_type"].contents() == LLAMA_FTYPE_MOSTLY_Q4_K_M
    assert path.stat().st_size < gguf_path(exported(arch), "q8_0").stat().st_size
    llm = Llama(model_path=str(path), n_ctx=128, verbose=False, seed=0)
    out = llm.create_completion("<|im_start|>user\nHi<|im_end|>\n", max_tokens=8, temperature=0)
    assert out["usage"]["completion_tokens"] >= 1


@pytest.mark.parametrize("arch", ARCHS)
def test_merged_model_equals_base_plus_adapter(exported, arch):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    export = exported(arch)
    ids = torch.tensor([[5, 17, 42, 99, 256, 300, 7]])
    base = AutoModelForCausalLM.from_pretrained(export["base"], dtype=torch.float32)
    with torch.no_grad():
        plain = base(ids).logits
        tuned = PeftModel.from_pretrained(base, str(export["adapter"])).eval()(ids).logits
        merged_model = AutoModelForCausalLM.from_pretrained(
            export["out"] / "merged", dtype=torch.float32
        )
        merged = merged_model(ids).logits
    # Saved in float16: equal to base + adapter within float16 rounding, and the adapter
    # really changed the model.
    assert float((merged - tuned).abs().max()) < 2e-2
    assert float((tuned - plain).abs().max()) > 10 * float((merged - tuned).abs().max())
    assert np.array_equal(merged.argmax(-1).numpy(), tuned.argmax(-1).numpy())
