"""The loss of a trained adapter on held-out rows, computed the same way for every trainer.

Trainers log different losses (TRL's script over every token, loralab over the assistant's,
LLaMA-Factory over its own masking), so ``loralab bench`` compares what a user cares about
instead: the mean next-token cross-entropy on the *assistant* tokens of rows none of them
trained on, with the adapter loaded by plain PEFT. Prints one JSON line.

    python -m loralab.bench.heldout_loss --model M --adapter DIR --data heldout.parquet
"""

from __future__ import annotations

import argparse

import torch

from loralab.bench.runner import write_json_line


def heldout_loss(model_dir: str, adapter_dir: str | None, data: str, max_length: int) -> dict:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from loralab.config import DataConfig
    from loralab.data import load_conversations
    from loralab.training.sft_data import tokenize_conversations

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter_dir:
        model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    rows, _ = load_conversations(DataConfig(source=data, eval_fraction=0.0))
    tokens = tokenize_conversations(rows, tokenizer, max_length=max_length).dataset
    loss_sum, count = 0.0, 0
    with torch.no_grad():
        for row in tokens:
            ids = torch.tensor([row["input_ids"]])
            labels = torch.tensor([row["labels"]])
            logits = model(input_ids=ids).logits[0, :-1].float()
            target = labels[0, 1:]
            keep = target != -100
            loss = torch.nn.functional.cross_entropy(logits[keep], target[keep], reduction="sum")
            loss_sum += float(loss)
            count += int(keep.sum())
    return {"heldout_loss": round(loss_sum / max(1, count), 4), "heldout_tokens": count}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--adapter", default=None)
    p.add_argument("--data", required=True)
    p.add_argument("--max-length", type=int, default=1024)
    a = p.parse_args()
    write_json_line(heldout_loss(a.model, a.adapter, a.data, a.max_length))


if __name__ == "__main__":
    main()
