"""Workload ``estimator``: the memory estimate against the measured peak of a real SFT run.

For each model (the tiny Qwen2 and SmolLM2-135M; ``quick``: the tiny one only) a short
``loralab`` SFT run is its own process, started ``repeats`` times, interleaved with the other
model's. It trains with loralab's defaults for the CPU (chunked loss and gradient checkpointing
on auto, padding-free batches, LoRA r 16 on every linear layer) at batch 4 x 512 tokens, and its
peak RSS is measured from outside (``ru_maxrss``). The child computes
``loralab.models.estimate_memory`` for the same config on this machine's hardware before it
trains, as the run's own auto choices do.

The estimate is for the worst case, every micro-batch ``batch_size * max_seq_length`` tokens.
The data is made so that this is what the run trains on: eight FineTome conversations joined
into one long multi-turn conversation per row, so every row is cut at 512 tokens and every
micro-batch holds exactly 2,048. The child reports the tokens per micro-batch it saw. The goal
is that the estimate is within 20% of the measured peak.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from loralab.bench.runner import (
    BenchOptions,
    Goal,
    Proc,
    Run,
    WorkloadResult,
    markdown_table,
    median_of,
    module_argv,
    peak_rss_mb,
    run_interleaved,
    sample_file,
    write_json_line,
)

__all__ = ["build_long_conversations", "run"]

_MODULE = "loralab.bench.estimator_workload"
_SAMPLE = "formats/finetome_sample.jsonl"
BATCH, MAX_LENGTH = 4, 512
GOAL_SHARE = 0.20
_JOINED = 8  # FineTome conversations per row: about 3,000 characters, over 512 tokens
_ROLES = {"system": "system", "human": "user", "gpt": "assistant"}


def build_long_conversations(sample: Path, out: Path, rows: int) -> Path:
    """Write ``rows`` long multi-turn conversations (``{"messages": [...]}``), each the turns of
    ``_JOINED`` consecutive FineTome rows (system turns left out), so that each is longer than
    ``MAX_LENGTH`` tokens."""
    base = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines() if line]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for n in range(rows):
            messages = []
            for k in range(_JOINED):
                row = base[(n * _JOINED + k) % len(base)]
                messages += [
                    {"role": _ROLES[t["from"]], "content": t["value"]}
                    for t in row["conversations"]
                    if t["from"] != "system"
                ]
            fh.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    return out


def _models(options: BenchOptions) -> list[tuple[str, Path]]:
    from loralab.models import STARTER_NAME, build_starter_model, make_tiny_model

    tiny = options.work_dir / "tiny-qwen2"
    if not (tiny / "model.safetensors").is_file():
        make_tiny_model(tiny, arch="qwen2")
    models = [("tiny Qwen2", tiny)]
    if not options.quick:
        env = os.environ.get("LORALAB_TEST_CACHE")
        cache = Path(env).expanduser() if env else Path.home() / ".cache" / "loralab-test"
        smollm2 = build_starter_model(cache / STARTER_NAME, cache_dir=cache / ".cache")
        models.append(("SmolLM2-135M", smollm2))
    return models


def run(name: str, options: BenchOptions) -> WorkloadResult:
    """Estimate vs measured peak RSS for each model, whole processes, interleaved."""
    work = options.work_dir / "estimator"
    steps = 2 if options.quick else 3
    data = build_long_conversations(sample_file(_SAMPLE), work / "long_conversations.jsonl", 48)
    plan = []
    for label, folder in _models(options):
        out = work / "runs" / label.split()[0].lower()
        plan.append(
            Proc(
                label,
                module_argv(
                    _MODULE,
                    "train",
                    "--model",
                    str(folder),
                    "--data",
                    str(data),
                    "--out",
                    str(out),
                    "--steps",
                    str(steps),
                ),
            )  # fmt: skip
        )
    options.log(f"estimator: {len(plan)} models, {steps} steps each, {options.repeats} rounds")
    runs = run_interleaved(plan, options.repeats, log=options.log)
    return _result(name, [p.label for p in plan], runs)


def _result(name: str, labels: list[str], runs: list[Run]) -> WorkloadResult:
    rows, goals = [], []
    for label in labels:
        measured = median_of(runs, label, "peak_rss_mb")
        last = next(r for r in reversed(runs) if r.label == label).out
        estimate = last.get("estimate_mb")
        error = (estimate - measured) / measured if estimate and measured else None
        rows.append(
            [
                label,
                last.get("tokens_per_micro_batch"),
                last.get("seen_tokens_per_micro_batch"),
                "on" if last.get("chunked_loss") else "off",
                "on" if last.get("gradient_checkpointing") else "off",
                estimate,
                measured,
                f"{error:+.0%}" if error is not None else "n/a",
            ]
        )
        goals.append(
            Goal(
                name=f"memory estimate vs measured peak, {label}",
                target=f"within {GOAL_SHARE:.0%}",
                measured=f"{error:+.1%}" if error is not None else "n/a",
                met=abs(error) <= GOAL_SHARE if error is not None else None,
                note=_breakdown_text(last.get("breakdown_mb") or {}),
            )
        )
    table = markdown_table(
        ["model", "tokens/micro-batch (estimated)", "tokens/micro-batch (trained)",
         "chunked loss", "checkpointing", "estimate MB", "peak RSS MB", "error"],
        rows,
    )  # fmt: skip
    details = markdown_table(
        ["round", "model", "wall s", "peak RSS MB", "estimate MB", "final loss"],
        [
            [r.round + 1, r.label, r.wall_s, r.peak_rss_mb, r.out.get("estimate_mb"),
             r.out.get("loss")]
            for r in runs
        ],
    )  # fmt: skip
    return WorkloadResult(
        name=name,
        title="Memory estimate vs measured peak RSS (CPU, SFT, batch 4 x 512)",
        table=table,
        goals=goals,
        details=details,
        notes=[
            "Every row is longer than 512 tokens, so each micro-batch holds the estimate's "
            "worst case, batch x max length; the peak is the whole process's ru_maxrss."
        ],
    )


def _breakdown_text(breakdown: dict) -> str:
    parts = [f"{k} {v:.0f}" for k, v in breakdown.items() if k != "total"]
    return "estimate MB: " + ", ".join(parts) if parts else ""


# -- the configuration, run as its own process ---------------------------------------------------


class _LastLoss:
    """A reporter that keeps the last loss (everything else is dropped)."""

    def __init__(self) -> None:
        self.loss: float | None = None

    def report(self, event) -> None:
        loss = getattr(event, "loss", None)
        if isinstance(loss, int | float):
            self.loss = float(loss)


def _train(model: Path, data: Path, out: Path, steps: int) -> dict:
    from loralab.config import parse_run_config
    from loralab.models import detect_hardware, estimate_memory
    from loralab.training import train

    if out.exists():
        shutil.rmtree(out)
    config = parse_run_config(
        {
            "model": {"name_or_path": str(model)},
            "data": {"source": str(data)},
            "train": {
                "batch_size": BATCH,
                "max_seq_length": MAX_LENGTH,
                "gradient_accumulation_steps": 1,
                "max_steps": steps,
                "save_steps": 10_000,
            },
            "output": {"dir": str(out)},
        }
    )
    estimate = estimate_memory(config, detect_hardware())
    reporter = _LastLoss()
    started = time.perf_counter()
    result = train(config, reporter)
    card = json.loads(Path(result.run_card).read_text(encoding="utf-8")) if result.run_card else {}
    speed = card.get("speed", {})
    data_facts = card.get("data", {})
    examples = data_facts.get("train_examples") or 0
    seen = round(data_facts.get("train_tokens", 0) / examples * BATCH) if examples else None
    mb = 1024**2
    return {
        "estimate_mb": round(estimate.breakdown.total / mb),
        "breakdown_mb": {k: round(v / mb) for k, v in estimate.breakdown.model_dump().items()},
        "tokens_per_micro_batch": estimate.tokens_per_micro_batch,
        "seen_tokens_per_micro_batch": seen,
        "estimate_checkpointing": estimate.gradient_checkpointing,
        "chunked_loss": (speed.get("chunked_loss") or {}).get("value"),
        "gradient_checkpointing": (speed.get("gradient_checkpointing") or {}).get("value"),
        "steps": result.step,
        "loss": reporter.loss,
        "train_s": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}")
    parser.add_argument("config", choices=["train"])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    out = _train(args.model, args.data, args.out, args.steps)
    write_json_line({**out, "self_peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    sys.exit(main())
