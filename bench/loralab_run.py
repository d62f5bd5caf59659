"""loralab's SFT recipe on the same model, data and batch shape as bench/trl_baseline.py.

Run by bench/run.py in its own process; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from loralab.config import parse_run_config
from loralab.training import ListReporter, StepProgress, train


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--grad-accum", type=int, default=4)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--threads", type=int, default=0, help="0 uses loralab's default")
    p.add_argument("--padding-free", choices=["on", "off"], default="on")
    p.add_argument(
        "--defaults",
        action="store_true",
        help="loralab's own defaults for threads, checkpointing, padding-free and the loss",
    )
    p.add_argument("--out", required=True)
    a = p.parse_args()
    speed = {
        "gradient_checkpointing": False,
        "padding_free": a.padding_free == "on",
        "cpu_threads": a.threads or None,
    }
    if a.defaults:
        speed = {}
    cfg = parse_run_config(
        {
            "model": {"name_or_path": a.model},
            "data": {"source": a.data},
            "lora": {"r": 16, "alpha": 32},
            "train": {
                "max_steps": a.steps,
                "batch_size": a.batch_size,
                "gradient_accumulation_steps": a.grad_accum,
                "max_seq_length": a.max_length,
                **speed,
                "save_steps": 10_000,
            },
            "output": {"dir": a.out},
        }
    )
    reporter = ListReporter()
    start = time.perf_counter()
    train(cfg, reporter)
    seconds = time.perf_counter() - start
    steps = [e for e in reporter.events if isinstance(e, StepProgress) and e.loss is not None]
    losses = [e.loss for e in steps][-5:]
    tps = [e.tokens_per_second for e in steps if e.tokens_per_second]
    samples = a.steps * a.batch_size * a.grad_accum
    import torch

    print(
        json.dumps(
            {
                "impl": "loralab (its defaults)"
                if a.defaults
                else f"loralab (padding-free {a.padding_free})",
                "seconds": round(seconds, 2),
                "samples_per_second": round(samples / seconds, 2),
                "tokens_per_second": round(sum(tps) / len(tps)) if tps else None,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "final_loss": round(sum(losses) / len(losses), 4) if losses else None,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
