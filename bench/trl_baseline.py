"""The baseline: the plain TRL script a user would otherwise write for LoRA SFT.

Run by bench/run.py in its own process, so peak memory is this script's alone. It prints one JSON
line with its measurements.
"""

from __future__ import annotations

import argparse
import json
import resource
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
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--grad-accum", type=int, default=4)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--threads", type=int, default=0, help="0 leaves torch's default")
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
        max_steps=a.steps,
        per_device_train_batch_size=a.batch_size,
        gradient_accumulation_steps=a.grad_accum,
        learning_rate=2e-4,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,  # transformers 5: a float below 1 is a ratio
        logging_steps=1,
        save_strategy="no",
        max_length=a.max_length,
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
    samples = a.steps * a.batch_size * a.grad_accum
    print(
        json.dumps(
            {
                "impl": "trl-script",
                "seconds": round(seconds, 2),
                "samples_per_second": round(samples / seconds, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "final_loss": round(sum(losses.losses[-5:]) / len(losses.losses[-5:]), 4),
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
