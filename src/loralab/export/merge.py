"""Merge a LoRA adapter into its base model and save the result as a plain HF folder."""

from __future__ import annotations

from pathlib import Path

__all__ = ["load_merged", "merge_adapter", "render_chat"]


def merge_adapter(base: str, adapter_path: str | Path, out_dir: Path, *, dtype: str) -> Path:
    """``merge_and_unload`` the adapter into ``base`` (merged in float32, saved in ``dtype``),
    with the tokenizer, its chat template and the generation config; returns ``out_dir``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter_path)).merge_and_unload()
    merged = merged.to(getattr(torch, dtype))
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir, safe_serialization=True)
    # The adapter's folder keeps the tokenizer the run trained with, when it saved one.
    source = adapter_path if (Path(adapter_path) / "tokenizer_config.json").is_file() else base
    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def load_merged(folder: Path):
    """The merged model (float32, eval mode) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def render_chat(tokenizer, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    """The text the model's own chat template makes of ``messages``."""
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
