"""The baseline: the plain TRL + PEFT script a user would otherwise write for LoRA SFT.

Nothing of loralab's: a tutorial's ``SFTTrainer`` on a ``messages`` dataset with TRL's own
defaults (padded batches, gradient checkpointing on, torch's own thread count), and the same
model, data, LoRA settings, batch, length and learning rate as the loralab run beside it.
``--padding-free`` and ``--no-checkpointing`` give the *tuned* script: the two switches TRL
already has. Run by ``loralab bench`` in its own process; prints one JSON line last.

    python -m loralab.bench.trl_script --model M --data rows.parquet --out DIR [--save]
"""

from __future__ import annotations

import argparse
import json
import time

import pyarrow.parquet as pq
import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer

ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


class Losses(TrainerCallback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="FineTome-format Parquet (conversations)")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=-1, help="-1: the whole epochs")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--threads", type=int, default=0, help="0 leaves torch's default")
    p.add_argument("--padding-free", action="store_true")
    p.add_argument("--no-checkpointing", action="store_true")
    p.add_argument("--save", action="store_true", help="save the adapter to --out")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)

    rows = pq.read_table(a.data).to_pylist()
    messages = [
        [{"role": ROLES[t["from"]], "content": t["value"]} for t in r["conversations"]]
        for r in rows
    ]
    dataset = Dataset.from_dict({"messages": messages})
    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    args = SFTConfig(
        output_dir=a.out,
        num_train_epochs=a.epochs,
        max_steps=a.steps,
        per_device_train_batch_size=a.batch_size,
        gradient_accumulation_steps=a.grad_accum,
        learning_rate=a.lr,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,  # transformers 5: a float below 1 is a ratio
        logging_steps=1,
        save_strategy="no",
        max_length=None if a.padding_free else a.max_length,
        padding_free=a.padding_free,
        gradient_checkpointing=not a.no_checkpointing,
        bf16=False,  # TRL defaults to bf16, which fails on CPU
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        seed=42,
    )
    peft = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    losses = Losses()
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft,
        callbacks=[losses],
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    if a.save:
        trainer.save_model(a.out)
    tail = losses.losses[-5:]
    print(
        json.dumps(
            {
                "train_seconds": round(seconds, 2),
                "steps": trainer.state.global_step,
                "final_loss": round(sum(tail) / len(tail), 4) if tail else None,
                "threads": torch.get_num_threads(),
                "adapter": a.out if a.save else None,
            }
        )
    )


if __name__ == "__main__":
    main()
