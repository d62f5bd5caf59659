"""SFT side by side: ``loralab train`` against the scripts and tools a user would otherwise run.

Workloads ``sft-tiny`` (a tiny Llama built here, 2,000 FineTome-format rows, batch 4, length
1,024) and ``sft-smollm2`` (SmolLM2-135M-Instruct, the real model of FIELD-NOTES, batch 4,
length 512). Every configuration trains the same rows for one epoch with LoRA r16 / alpha 32 on
every linear layer at the same learning rate, each as a whole process, interleaved:

- *plain TRL script*: ``trl_script.py``, a tutorial's SFTTrainer with TRL's defaults (padded
  batches, checkpointing on, torch's threads). The baseline every ratio is against.
- *TRL script, tuned*: the same with TRL's own two switches, ``padding_free`` and no
  checkpointing, so the table shows what loralab adds beyond them.
- *LLaMA-Factory* with and without ``neat_packing``, where its venv exists
  (``llamafactory.py``).
- *loralab train*: the real CLI with a run YAML that sets none of the speed settings: what a
  new user gets.

Quality is compared on the same tokens: each trained adapter's loss on the assistant tokens
of held-out rows none of them saw (``heldout_loss.py``), because each trainer logs a loss over
different tokens.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from loralab.bench import llamafactory
from loralab.bench.runner import (
    BenchOptions,
    Goal,
    Proc,
    Run,
    WorkloadResult,
    markdown_table,
    median_of,
    module_argv,
    ratio_text,
    run_interleaved,
    run_process,
    sample_file,
)

__all__ = ["run"]

SAMPLE = "formats/finetome_sample.parquet"
HELDOUT_ROWS = 40  # of the sample's 300; the training rows are drawn from the other 260
TRL = "plain TRL script (its defaults)"
TRL_TUNED = "TRL script, padding-free + no checkpointing"
LORALAB = "loralab train (its defaults)"
LORALAB_CKPT = "loralab train, gradient_checkpointing: true"
# loralab's rows: label -> (output folder, --set overrides). The defaults, and single parts of
# the fast path switched, so what each part is worth is measured in the same run.
LORALAB_RUNS = {
    LORALAB: ("loralab", ()),
    LORALAB_CKPT: ("loralab-ckpt", ("train.gradient_checkpointing=true",)),
    "loralab train, model.attn_implementation: sdpa": (
        "loralab-sdpa",
        ("model.attn_implementation=sdpa",),
    ),
    "loralab train, fused_lora: false": ("loralab-unfused", ("train.fused_lora=false",)),
    "loralab train, fused_layers: false": ("loralab-nofusedlayers", ("train.fused_layers=false",)),
}


@dataclass(frozen=True)
class _Setup:
    title: str
    rows: int
    batch_size: int
    max_length: int
    learning_rate: float
    speed_goal: float  # loralab / plain TRL
    memory_goal: float | None  # loralab peak RSS / plain TRL's
    loralab_runs: tuple[str, ...]  # labels of LORALAB_RUNS, the defaults first
    llamafactory: bool  # its two rows too (on the tiny model; SmolLM2's run would double)


SETUPS = {
    "sft-tiny": _Setup(
        "tiny Llama (2 layers, hidden 256)",
        rows=2000,
        batch_size=4,
        max_length=1024,
        learning_rate=2e-4,
        speed_goal=2.5,
        memory_goal=None,
        loralab_runs=(
            LORALAB,
            "loralab train, model.attn_implementation: sdpa",
            "loralab train, fused_lora: false",
        ),
        llamafactory=True,
    ),
    "sft-smollm2": _Setup(
        "SmolLM2-135M-Instruct",
        rows=64,
        batch_size=4,
        max_length=512,
        learning_rate=2e-4,
        speed_goal=2.5,
        memory_goal=0.6,
        # the memory end of the trade-off too, and the fused layers' share of the memory
        loralab_runs=(LORALAB, LORALAB_CKPT, "loralab train, fused_layers: false"),
        llamafactory=False,
    ),
}
QUICK_ROWS = {"sft-tiny": 48, "sft-smollm2": 8}


def run(name: str, options: BenchOptions) -> WorkloadResult:
    setup = SETUPS[name]
    work = options.work_dir / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    model = _model(name, options)
    rows = QUICK_ROWS[name] if options.quick else setup.rows
    train_file, heldout_file = _data(work, rows)
    tokens = _count_tokens(model, train_file, setup.max_length)
    plan = _plan(model, train_file, work, setup)
    options.log(f"{name}: {rows} rows, {tokens:,} tokens, {len(plan)} configurations")
    runs = run_interleaved(plan, options.repeats, log=options.log)
    losses = _heldout_losses(model, plan, work, heldout_file, setup.max_length, options)
    return _report(name, setup, rows, tokens, plan, runs, losses, options)


# ----------------------------------------------------------------------------- inputs


def _model(name: str, options: BenchOptions) -> Path:
    if name == "sft-tiny":
        from loralab.models import make_tiny_model

        out = options.work_dir / "tiny-llama"
        if not out.exists():
            make_tiny_model(out, arch="llama")
        return out
    from loralab.models.starter import build_starter_model

    cache = Path.home() / ".cache" / "loralab-test"
    return build_starter_model(
        cache / "smollm2-135m-instruct", cache_dir=cache / ".cache", progress=options.log
    )


def _data(work: Path, rows: int) -> tuple[Path, Path]:
    """``rows`` training rows drawn from the sample (shuffled repeats) and disjoint held-out rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sample = pq.read_table(sample_file(SAMPLE)).to_pylist()
    rng = random.Random(0)
    rng.shuffle(sample)
    heldout, pool = sample[:HELDOUT_ROWS], sample[HELDOUT_ROWS:]
    train: list[dict] = []
    while len(train) < rows:
        batch = list(pool)
        rng.shuffle(batch)
        train += batch
    train_file, heldout_file = work / "train.parquet", work / "heldout.parquet"
    pq.write_table(pa.Table.from_pylist(train[:rows]), train_file)
    pq.write_table(pa.Table.from_pylist(heldout), heldout_file)
    return train_file, heldout_file


def _count_tokens(model: Path, data: Path, max_length: int) -> int:
    """Tokens in one epoch (the chat template's, every token): the same count for everyone."""
    from transformers import AutoTokenizer

    from loralab.config import DataConfig
    from loralab.data import load_conversations
    from loralab.training.sft_data import tokenize_conversations

    tokenizer = AutoTokenizer.from_pretrained(str(model))
    rows, _ = load_conversations(DataConfig(source=str(data), eval_fraction=0.0))
    tokenized = tokenize_conversations(rows, tokenizer, max_length=max_length).dataset
    return sum(len(ids) for ids in tokenized["input_ids"])


def _loralab_argv() -> list[str]:
    exe = Path(sys.executable).with_name("loralab")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from loralab.cli.app import main; main()"]


def _plan(model: Path, data: Path, work: Path, s: _Setup) -> list[Proc]:
    common = [
        "--model",
        str(model),
        "--data",
        str(data),
        "--batch-size",
        str(s.batch_size),
        "--max-length",
        str(s.max_length),
        "--lr",
        str(s.learning_rate),
        "--save",
    ]
    plan = [
        Proc(
            TRL,
            module_argv("loralab.bench.trl_script", *common, "--out", str(work / "trl-{round}")),
        ),
        Proc(
            TRL_TUNED,
            module_argv(
                "loralab.bench.trl_script",
                *common,
                "--padding-free",
                "--no-checkpointing",
                "--out",
                str(work / "trl-tuned-{round}"),
            ),
        ),
    ]
    if s.llamafactory:
        plan += llamafactory.plan(model, data, work, s.batch_size, s.max_length, s.learning_rate)
    run_yaml = work / "run.yaml"
    run_yaml.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "model": {"name_or_path": str(model)},
                "data": {"source": str(data), "eval_fraction": 0.0},
                "lora": {"r": 16, "alpha": 32, "target_modules": "all-linear"},
                "train": {
                    "method": "sft",
                    "num_epochs": 1,
                    "batch_size": s.batch_size,
                    "gradient_accumulation_steps": 1,
                    "learning_rate": s.learning_rate,
                    "max_seq_length": s.max_length,
                    "save_steps": 100_000,
                },
                "output": {"dir": str(work / "loralab")},  # -o per round, below
            },
            indent=2,
        )
    )
    # A folder per round, so its tokens cache (beside the output) is cold: a first run's cost.
    for label in s.loralab_runs:
        folder, sets = LORALAB_RUNS[label]
        out = str(work / f"{folder}-{{round}}" / "run")
        argv = [*_loralab_argv(), "train", str(run_yaml), "-o", out]
        for assignment in sets:
            argv += ["--set", assignment]
        plan.append(Proc(label, argv, env={"NO_COLOR": "1"}))
    return plan


# ----------------------------------------------------------------------------- results


def _adapter_of(proc: Proc, work: Path) -> Path:
    """The first round's adapter (every round trains the same, from the same seed)."""
    if proc.label == TRL:
        return work / "trl-0"
    if proc.label == TRL_TUNED:
        return work / "trl-tuned-0"
    if proc.label in LORALAB_RUNS:
        return work / f"{LORALAB_RUNS[proc.label][0]}-0" / "run" / "adapter"
    return llamafactory.adapter_dir(proc, 0)


def _train_seconds(proc: Proc, run: Run, work: Path) -> float | None:
    """Seconds of the training loop alone (``trainer.train()``), as each one reports it."""
    if proc.label in LORALAB_RUNS:
        card = work / f"{LORALAB_RUNS[proc.label][0]}-{run.round}" / "run" / "run_card.json"
        return json.loads(card.read_text()).get("timings", {}).get("train")
    if proc.label in (TRL, TRL_TUNED):
        return run.out.get("train_seconds")
    return llamafactory.train_seconds(proc, run.round)


def _heldout_losses(model, plan, work, heldout, max_length, options) -> dict[str, float | None]:
    losses: dict[str, float | None] = {}
    for proc in [None, *plan]:
        adapter = None if proc is None else _adapter_of(proc, work)
        label = "base model (no adapter)" if proc is None else proc.label
        args = ["--model", str(model), "--data", str(heldout), "--max-length", str(max_length)]
        if adapter is not None:
            args += ["--adapter", str(adapter)]
        try:
            out = run_process(Proc(label, module_argv("loralab.bench.heldout_loss", *args))).out
            losses[label] = out.get("heldout_loss")
        except RuntimeError as exc:  # one broken adapter must not lose the whole table
            options.log(f"held-out loss of {label} failed: {exc}")
            losses[label] = None
    return losses


def _report(name, setup, rows, tokens, plan, runs, losses, options) -> WorkloadResult:
    work = options.work_dir / name
    # Seconds of the training loop of every run (each round wrote its own folder).
    train_s: dict[str, list[float]] = {}
    for proc in plan:
        for run in (r for r in runs if r.label == proc.label):
            value = _train_seconds(proc, run, work)
            if value:
                train_s.setdefault(proc.label, []).append(value)
    import statistics

    base_wall = median_of(runs, TRL)
    base_rss = median_of(runs, TRL, "peak_rss_mb")
    base_train = statistics.median(train_s[TRL]) if train_s.get(TRL) else None
    table_rows = []
    figures: dict[str, dict] = {}
    for proc in plan:
        wall = median_of(runs, proc.label)
        rss = median_of(runs, proc.label, "peak_rss_mb")
        trained = statistics.median(train_s[proc.label]) if train_s.get(proc.label) else None
        tps = tokens / trained if trained else None
        figures[proc.label] = {"wall": wall, "rss": rss, "train": trained, "tps": tps}
        table_rows.append(
            [
                proc.label,
                len([r for r in runs if r.label == proc.label]),
                wall,
                ratio_text(base_wall, wall),
                trained,
                round(tps) if tps else None,
                ratio_text(base_train, trained),
                round(rss) if rss else None,
                f"{rss / base_rss:.2f}x" if rss and base_rss else "n/a",
                losses.get(proc.label),
            ]
        )
    table_rows.append(
        [
            "base model (no adapter)",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            losses.get("base model (no adapter)"),
        ]
    )
    table = markdown_table(
        [
            "configuration",
            "runs",
            "whole process (s)",
            "vs plain TRL",
            "training loop (s)",
            "tokens/s",
            "tokens/s vs plain TRL",
            "peak RSS (MB)",
            "RSS vs plain TRL",
            "held-out loss",
        ],
        table_rows,
    )
    ours, base = figures[LORALAB], figures[TRL]
    goals = []
    if name == "sft-tiny":
        speed = base["wall"] / ours["wall"] if ours["wall"] and base["wall"] else None
        goals.append(
            Goal(
                "whole process vs plain TRL",
                f">= {setup.speed_goal}x faster",
                ratio_text(base["wall"], ours["wall"]),
                speed is not None and speed >= setup.speed_goal,
            )
        )
    else:
        speed = ours["tps"] / base["tps"] if ours["tps"] and base["tps"] else None
        goals.append(
            Goal(
                "tokens/s vs plain TRL",
                f">= {setup.speed_goal}x faster",
                ratio_text(base["tps"], ours["tps"], higher_is_better=True),
                speed is not None and speed >= setup.speed_goal,
            )
        )
        memory = ours["rss"] / base["rss"] if ours["rss"] and base["rss"] else None
        goals.append(
            Goal(
                "peak RSS vs plain TRL",
                f"<= {setup.memory_goal}x",
                f"{memory:.2f}x" if memory else "n/a",
                memory is not None and memory <= setup.memory_goal,
            )
        )
        low = figures.get(LORALAB_CKPT)
        if low and low["rss"] and base["rss"]:
            goals.append(
                Goal(
                    "peak RSS vs plain TRL, loralab with checkpointing on",
                    f"<= {setup.memory_goal}x",
                    f"{low['rss'] / base['rss']:.2f}x at "
                    + ratio_text(base["tps"], low["tps"], higher_is_better=True),
                    low["rss"] / base["rss"] <= setup.memory_goal,
                    "the memory end of the trade-off: the same run, checkpointing forced on",
                )
            )
    ours_loss, trl_loss = losses.get(LORALAB), losses.get(TRL)
    goals.append(
        Goal(
            "held-out loss vs plain TRL (same tokens)",
            "equal or lower",
            f"{ours_loss} vs {trl_loss}",
            None if ours_loss is None or trl_loss is None else ours_loss <= trl_loss * 1.01,
            "within 1% counts as equal (seeds and kernels differ)",
        )
    )
    details = markdown_table(
        ["round", "configuration", "whole process (s)", "peak RSS (MB)", "output"],
        [[r.round + 1, r.label, r.wall_s, r.peak_rss_mb, json.dumps(r.out)] for r in runs],
    )
    notes = [
        f"{rows:,} training rows ({tokens:,} tokens a epoch), batch {setup.batch_size}, "
        f"max length {setup.max_length}, LoRA r16 alpha 32 on all linear layers, "
        f"learning rate {setup.learning_rate:g}, 1 epoch; held-out loss on {HELDOUT_ROWS} "
        "other rows, assistant tokens only.",
        *(llamafactory.notes() if setup.llamafactory else []),
    ]
    return WorkloadResult(
        name=name,
        title=f"SFT, {setup.title}",
        table=table,
        goals=goals,
        details=details,
        notes=notes,
    )
