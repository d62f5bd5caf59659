"""Helpers for the inference tests: adapters that really change the tiny model's answers, and
the reference answers (plain ``generate``, a merged model) to compare the engine with."""

from __future__ import annotations

import shutil
from pathlib import Path

GREEDY_TOKENS = 12
MESSAGES = [{"role": "user", "content": "Tell me about the sea."}]


def make_adapter(base: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter of ``base`` with random A and B (``init_lora_weights=False``), so it
    changes the outputs; each seed gives another one."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_pretrained(base)
        config = LoraConfig(
            r=8,
            lora_alpha=32,
            target_modules=["q_proj", "v_proj", "o_proj"],
            init_lora_weights=False,
        )
        get_peft_model(model, config).save_pretrained(out)
    return out


def copy_model(base: Path, out: Path) -> Path:
    """The same weights in another folder: another base for the engine's LRU."""
    shutil.copytree(base, out)
    return out


def chat_ids(model_dir: Path, messages=MESSAGES) -> list[int]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tok(text, add_special_tokens=False)["input_ids"]


def reference_text(model_dir: Path, adapter: Path | None, ids: list[int], n: int) -> str:
    """Greedy text of plain ``model.generate`` on the base, or on the adapter merged into a
    fresh copy of it (``merge_and_unload``)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    input_ids = torch.tensor([ids])
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=n,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
    return tok.decode(out[0, len(ids) :], skip_special_tokens=True)
