"""SmolLM2-135M-Instruct after a short LoRA (a few optimizer steps here): its F16 GGUF, made
by llama.cpp's converter, computes what the merged HF model computes (real tokenizer, real
chat template with its default system prompt)."""

from __future__ import annotations

import json

import pytest

from .conftest import export_once

pytestmark = pytest.mark.slow


def short_lora(base, out):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"])
    model = get_peft_model(model, config)
    chat = [
        {"role": "user", "content": "Reverse the words: red green blue"},
        {"role": "assistant", "content": "blue green red"},
    ]
    ids = tokenizer.apply_chat_template(chat, return_tensors="pt", return_dict=True)["input_ids"]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(4):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    return out


def test_smollm2_after_a_short_lora_f16_gguf_matches_the_merged_model(smollm2, tmp_path):
    adapter = short_lora(smollm2, tmp_path / "lora")
    export = export_once(smollm2, adapter, tmp_path / "export", quants=["f16"])
    report = export["result"]["parity"]["quantizations"][0]
    print(json.dumps({k: v for k, v in report.items() if k != "prompts"}, indent=2))
    assert report["tokenization_equal"]
    assert report["passed"] is True, report
    assert report["max_logit_diff"] < 0.5
    assert export["result"]["suspect"] is False
    assert "default system prompt" in (export["out"] / "Modelfile").read_text()
