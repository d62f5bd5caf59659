"""Measure real LoRA runs on tiny models; run as a script by test_estimate.py.

For each run given on the command line, loads the model, wraps it with PEFT LoRA on all linear
layers, and trains three AdamW steps on one fixed batch of random tokens. It records the exact
bytes of the frozen weights, trainable parameters, gradients and optimizer state, and the peak
rise in process RSS (sampled every 2 ms by a thread) over the RSS after a warm-up step. The
warm-up pays the one-off costs (autograd engine, oneDNN buffers, optimizer state), so the rise
is what the activations and their gradients cost.

Runs share the process. That is only sound when freed memory goes back to the OS at once
(``MALLOC_MMAP_THRESHOLD_=131072``); otherwise give one run per process.

usage: python measure_lora_peak.py '[{"model": DIR, "batch": 2, "seq": 384,
                                      "checkpointing": false, "r": 16, "fused": false}, ...]'
``fused`` applies SFT's fused LoRA and fused layers, as ``loralab train`` does by default.
Prints a JSON list with one result object per run.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time

os.environ["HF_HUB_OFFLINE"] = "1"


def measure(
    model_dir: str, batch: int, seq: int, checkpointing: bool, r: int, fused: bool = False
) -> dict:
    import psutil
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    model = get_peft_model(
        model, LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear", lora_dropout=0.0)
    )
    if fused:  # what SFT does by default on float32 (training/sft.py)
        from loralab.training.fused_layers import apply_fused_layers
        from loralab.training.fused_lora import apply_fused_lora

        apply_fused_lora(model)
        apply_fused_layers(model, lora=True)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-2)
    vocab = model.config.vocab_size

    def step(ids):
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        return out.loss.item()

    named = dict(model.named_parameters())
    before = {n: p.detach().clone() for n, p in named.items()}
    step(torch.randint(3, vocab, (1, 32)))  # warm-up
    ids = torch.randint(3, vocab, (batch, seq))
    gc.collect()
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    # The same batch each step, so the loss must fall as LoRA learns it.
    losses = [step(ids) for _ in range(3)]
    done.set()
    sampler.join()

    return {
        "trainable_params": sum(p.numel() for p in trainable),
        "frozen_weight_bytes": sum(
            p.numel() * p.element_size() for p in named.values() if not p.requires_grad
        ),
        "grad_bytes": sum(p.grad.numel() * p.grad.element_size() for p in trainable),
        "optimizer_bytes": sum(
            t.numel() * t.element_size()
            for state in opt.state.values()
            for t in state.values()
            if torch.is_tensor(t) and t.dim() > 0  # skip the scalar step counters
        ),
        "peak_rss_rise": peak[0] - base,
        "losses": losses,
        "lora_changed": all(
            not torch.equal(before[n], p) for n, p in named.items() if p.requires_grad
        ),
        "base_unchanged": all(
            torch.equal(before[n], p) for n, p in named.items() if not p.requires_grad
        ),
    }


def main() -> None:
    import torch

    torch.set_num_threads(1)  # the CPU is shared; one thread also keeps RSS steadier
    results = []
    for run in json.loads(sys.argv[1]):
        args = [run[k] for k in ("model", "batch", "seq", "checkpointing", "r")]
        results.append(measure(*args, fused=run.get("fused", False)))
        gc.collect()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
