"""The inference worker against plain `model.generate` (``loralab bench inference``).

For each model (the tiny Qwen2, and SmolLM2-135M-Instruct when its folder is cached by the
test fixture or given with ``--smollm2``), a real worker process
(`python -m loralab.inference.worker`) and plain
`model.generate` in this process answer the same chat prompt greedily, in turn, `--runs`
times; the worker's time is the client's (HTTP included). Then the time to switch adapters:
requests of one token that alternate two adapters, against the same requests on one adapter.
Prints a Markdown table (medians) for docs/benchmarks.md, then the rows as one JSON line
(``{"rows": [...]}``, what ``loralab.bench.inference_workload`` reads).

    .venv/bin/python -m loralab.bench.inference [--runs 5] [--tokens 64] [--models tiny,smollm2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MESSAGES = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]
TOKEN_HEADER = "X-Loralab-Inference-Token"


def _cache_dir() -> Path:
    env = os.environ.get("LORALAB_TEST_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "loralab-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Worker:
    """A real inference worker process on a free port."""

    def __init__(self, log: Path) -> None:
        self.port = _free_port()
        self.token = secrets.token_urlsafe(16)
        env = {**os.environ, "LORALAB_INFERENCE_TOKEN": self.token, "CUDA_VISIBLE_DEVICES": ""}
        cmd = [sys.executable, "-m", "loralab.inference.worker", "--port", str(self.port)]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {TOKEN_HEADER: self.token}
        # One client for every request, as the server keeps one (a new client per request
        # builds a TLS context each time, tens of milliseconds the worker never spends).
        self.http = httpx.Client(timeout=600)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", headers=self.headers).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit(f"the worker did not start; see {log}")

    def generate(self, target: dict, max_tokens: int) -> dict:
        body = {
            "target": target,
            "messages": MESSAGES,
            "params": {"max_tokens": max_tokens},
            "stream": False,
        }
        reply = self.http.post(f"{self.url}/generate", json=body, headers=self.headers)
        reply.raise_for_status()
        return reply.json()["result"]

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _plain(model_dir: Path):
    """Plain transformers: load, template, `generate` (what a user's script does)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    text = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])

    def run(max_tokens: int) -> tuple[int, float]:
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )
        return out.shape[1] - ids.shape[1], time.perf_counter() - started

    return run


def _adapters(model_dir: Path, out: Path) -> list[Path]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        config = LoraConfig(
            r=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], init_lora_weights=False
        )
        path = out / f"lora-{seed}"
        get_peft_model(model, config).save_pretrained(path)
        paths.append(path)
    return paths


def bench_model(name: str, model_dir: Path, tmp: Path, runs: int, tokens: int) -> dict:
    worker = Worker(tmp / f"worker-{name}.log")
    try:
        plain = _plain(model_dir)
        base = {"base": str(model_dir)}
        worker.generate(base, 4)  # load + warm up both
        plain(4)
        plain_rates, worker_rates, engine_rates, counts = [], [], [], set()
        for _ in range(runs):  # in turn, so drift hits both alike
            n, seconds = plain(tokens)
            plain_rates.append(n / seconds)
            started = time.perf_counter()
            result = worker.generate(base, tokens)
            worker_rates.append(result["completion_tokens"] / (time.perf_counter() - started))
            engine_rates.append(result["tokens_per_second"])
            counts.update({n, result["completion_tokens"]})
        lora_a, lora_b = _adapters(model_dir, tmp / name)
        targets = [
            {**base, "adapter_id": "a", "adapter_path": str(lora_a)},
            {**base, "adapter_id": "b", "adapter_path": str(lora_b)},
        ]
        first_load = []
        for target in targets:
            started = time.perf_counter()
            worker.generate(target, 1)
            first_load.append(time.perf_counter() - started)
        same, switched = [], []
        for i in range(runs * 2):
            for series, target in ((same, targets[0]), (switched, targets[i % 2])):
                started = time.perf_counter()
                worker.generate(target, 1)
                series.append(time.perf_counter() - started)
        return {
            "model": name,
            "tokens": sorted(counts),
            "plain_tps": statistics.median(plain_rates),
            "worker_tps": statistics.median(worker_rates),
            "engine_decode_tps": statistics.median(engine_rates),
            "adapter_first_load_s": statistics.median(first_load),
            "one_token_same_s": statistics.median(same),
            "one_token_switch_s": statistics.median(switched),
        }
    finally:
        worker.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--models", default="tiny,smollm2", help="comma-separated: tiny, smollm2")
    p.add_argument("--smollm2", type=Path, help="the SmolLM2-135M-Instruct folder to use")
    a = p.parse_args()
    models = {m.strip() for m in a.models.split(",") if m.strip()}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from loralab.models import make_tiny_model

    rows = []
    with tempfile.TemporaryDirectory(prefix="loralab-bench-inference-") as tmp:
        if "tiny" in models:
            tiny = make_tiny_model(Path(tmp) / "tiny-qwen2", arch="qwen2")
            rows.append(bench_model("tiny-qwen2", tiny, Path(tmp), a.runs, a.tokens))
            print(json.dumps(rows[-1]), file=sys.stderr)
        smol = a.smollm2 or _cache_dir() / "smollm2-135m-instruct"
        if "smollm2" in models and (smol / "config.json").is_file():
            rows.append(bench_model("SmolLM2-135M-Instruct", smol, Path(tmp), a.runs, a.tokens))
            print(json.dumps(rows[-1]), file=sys.stderr)
        elif "smollm2" in models:
            print(f"note: {smol} not found (the smollm2 test fixture builds it); row skipped")

    print(
        f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(f"Command: python -m loralab.bench.inference --runs {a.runs} --tokens {a.tokens}\n")
    print(
        "| model | tokens | plain generate tok/s | worker tok/s (HTTP) | worker / plain "
        "| engine decode tok/s | adapter first load (s) | 1-token request, same adapter (s) "
        "| 1-token request, switching (s) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ratio = r["worker_tps"] / r["plain_tps"]
        print(
            f"| {r['model']} | {'/'.join(map(str, r['tokens']))} | {r['plain_tps']:.1f} "
            f"| {r['worker_tps']:.1f} | {ratio:.1%} | {r['engine_decode_tps']:.1f} "
            f"| {r['adapter_first_load_s']:.3f} | {r['one_token_same_s']:.4f} "
            f"| {r['one_token_switch_s']:.4f} |"
        )
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
