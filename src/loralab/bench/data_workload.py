"""Workload ``data``: validate and tokenize a 100k-row FineTome JSONL, loralab vs pandas.

Both sides read the same file, built from the FineTome sample by repeating its 300 rows with a
marker in every human turn (so no row repeats another) and shuffling them. Each configuration
is a whole process, interleaved with the other (``runner.run_interleaved``):

- **loralab**: what a user's run goes through. ``validate_dataset`` with the model's light
  tokenizer and chat template (``loralab data inspect --model``), then the training path:
  ``read_conversations`` and ``tokenize_splits`` (ids + assistant-only labels, tokens cache
  off) with the model's transformers tokenizer.
- **pandas**: the script a user would otherwise write. ``pandas.read_json(lines=True)``, then
  per row ``tokenizer.apply_chat_template(..., return_assistant_tokens_mask=True)`` for the ids
  and the assistant mask, cut at the same length. It checks nothing: one bad line fails it.

Rows/s is over the whole process (imports and tokenizer load included), as the runner times
it; peak RSS is the child's ``ru_maxrss``. The goal is bounded memory: loralab under 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import random
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

__all__ = ["build_finetome_jsonl", "run"]

FULL_ROWS = 100_000
QUICK_ROWS = 2_000
MAX_LENGTH = 2048  # train.max_seq_length's default
MEMORY_GOAL_MB = 1536  # 1.5 GB
_MODULE = "loralab.bench.data_workload"
_SAMPLE = "formats/finetome_sample.jsonl"


def build_finetome_jsonl(sample: Path, out: Path, rows: int, *, seed: int = 0) -> Path:
    """Write ``rows`` FineTome rows to ``out``: the sample's rows repeated, every copy after the
    first with a numbered marker in its human turns, shuffled. Kept when already built."""
    if out.is_file() and _count_lines(out) == rows:
        return out
    base = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines() if line]
    order = list(range(rows))
    random.Random(seed).shuffle(order)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for n in order:
            row = base[n % len(base)]
            copy = n // len(base)
            if copy:
                turns = [
                    {**t, "value": f"{t['value']} (variant {copy})"} if t["from"] == "human" else t
                    for t in row["conversations"]
                ]
                row = {**row, "conversations": turns}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return out


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def _tiny_model(work_dir: Path) -> Path:
    from loralab.models import make_tiny_model

    folder = work_dir / "tiny-qwen2"
    if not (folder / "tokenizer.json").is_file():
        make_tiny_model(folder, arch="qwen2")
    return folder


def run(name: str, options: BenchOptions) -> WorkloadResult:
    """Validate + tokenize ``100k`` rows (``quick``: 2k) as loralab and as pandas, side by side."""
    rows = QUICK_ROWS if options.quick else FULL_ROWS
    work = options.work_dir / "data"
    data = build_finetome_jsonl(sample_file(_SAMPLE), work / f"finetome_{rows}.jsonl", rows)
    model = _tiny_model(options.work_dir)
    common = ["--data", str(data), "--model", str(model), "--max-length", str(MAX_LENGTH)]
    # The runner turns the fast tokenizers' thread pool off for every workload; here both sides
    # get what a user's shell gives them: the pool on (tokenizers' default), which spreads a
    # batch of texts over the cores (pandas' apply_chat_template encodes a row at a time).
    parallel = {"TOKENIZERS_PARALLELISM": "true"}
    plan = [
        Proc("loralab", module_argv(_MODULE, "loralab", *common), env=parallel),
        Proc("pandas", module_argv(_MODULE, "pandas", *common), env=parallel),
    ]
    options.log(f"data: {rows:,} rows, {options.repeats} rounds")
    runs = run_interleaved(plan, options.repeats, log=options.log)
    return _result(name, rows, runs)


def _result(name: str, rows: int, runs: list[Run]) -> WorkloadResult:
    table_rows = []
    figures = {}
    for label, what in (
        ("loralab", "validate_dataset + read_conversations + tokenize_splits"),
        ("pandas", "read_json(lines=True) + apply_chat_template per row"),
    ):
        wall = median_of(runs, label)
        work = median_of(runs, label, "work_s")
        rss = median_of(runs, label, "peak_rss_mb")
        counted = median_of(runs, label, "rows")
        figures[label] = (wall, rss)
        table_rows.append(
            [
                label,
                what,
                int(counted) if counted is not None else None,
                rows / wall if wall else None,
                rows / work if work else None,
                rss,
            ]
        )
    (l_wall, l_rss), (p_wall, p_rss) = figures["loralab"], figures["pandas"]
    speed = p_wall / l_wall if l_wall and p_wall else None
    table = markdown_table(
        ["configuration", "what it does", "rows", "rows/s (process)", "rows/s (work)", "peak MB"],
        table_rows,
    )
    goals = [
        Goal(
            name="loralab peak RSS at 100k rows",
            target=f"<= {MEMORY_GOAL_MB / 1024:.1f} GB (bounded memory)",
            measured=f"{l_rss:.0f} MB" if l_rss is not None else "n/a",
            met=l_rss <= MEMORY_GOAL_MB if l_rss is not None else None,
            note="" if rows == FULL_ROWS else f"quick run: {rows:,} rows",
        ),
        Goal(
            name="rows/s vs pandas + apply_chat_template",
            target="not slower",
            measured=f"{speed:.2f}x" if speed else "n/a",
            met=speed >= 1.0 if speed else None,
            note="loralab also validates every row (a second pass) and reports what it finds",
        ),
    ]
    details = markdown_table(
        ["round", "configuration", "wall s", "work s", "validate s", "tokenize s", "peak MB",
         "rows", "tokens"],
        [
            [r.round + 1, r.label, r.wall_s, r.out.get("work_s"), r.out.get("validate_s"),
             r.out.get("tokenize_s"), r.peak_rss_mb, r.out.get("rows"), r.out.get("tokens")]
            for r in runs
        ],
    )  # fmt: skip
    memory = f"{p_rss / l_rss:.2f}x less memory" if l_rss and p_rss else "n/a"
    notes = [
        f"{rows:,} FineTome rows, tiny Qwen2 tokenizer and ChatML template, max length "
        f"{MAX_LENGTH}; loralab {speed:.2f}x the pandas script's rows/s, {memory}."
        if speed
        else f"{rows:,} FineTome rows."
    ]
    return WorkloadResult(
        name=name,
        title="Validate + tokenize FineTome rows: loralab vs pandas",
        table=table,
        goals=goals,
        details=details,
        notes=notes,
    )


# -- the configurations, each run as its own process ----------------------------------------------


class _Quiet:
    def report(self, event) -> None:  # a Reporter that drops every event
        pass


def _run_loralab(data: Path, model: Path, max_length: int) -> dict:
    from loralab.config import DataConfig, ModelConfig
    from loralab.data import load_chat_template, load_light_tokenizer, validate_dataset
    from loralab.models import load_tokenizer
    from loralab.training.sft_data import read_conversations, tokenize_splits

    started = time.perf_counter()
    config = DataConfig(source=str(data))
    report = validate_dataset(
        config,
        tokenizer=load_light_tokenizer(model),
        chat_template=load_chat_template(model),
        max_seq_length=max_length,
    )
    validated = time.perf_counter()
    tokenizer = load_tokenizer(ModelConfig(name_or_path=str(model)))
    conversations = read_conversations(config, seed=42, reporter=_Quiet())
    train, _ = tokenize_splits(
        conversations,
        tokenizer,
        max_length=max_length,
        assistant_only_loss=True,
        reporter=_Quiet(),
        cache_dir=None,
    )
    done = time.perf_counter()
    return {
        "rows": len(train.dataset),
        "valid_rows": report.valid_rows,
        "tokens": train.tokens,
        "label_tokens": train.label_tokens,
        "validate_s": round(validated - started, 3),
        "tokenize_s": round(done - validated, 3),
        "work_s": round(done - started, 3),
    }


def _run_pandas(data: Path, model: Path, max_length: int) -> dict:
    import pandas as pd
    from transformers import AutoTokenizer

    roles = {"system": "system", "human": "user", "gpt": "assistant"}
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    frame = pd.read_json(data, lines=True)
    input_ids, labels = [], []
    tokens = 0
    for conversation in frame["conversations"]:
        messages = [{"role": roles[t["from"]], "content": t["value"]} for t in conversation]
        out = tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        ids = out["input_ids"][:max_length]
        mask = out["assistant_masks"][:max_length]
        input_ids.append(ids)
        labels.append([t if m else -100 for t, m in zip(ids, mask, strict=True)])
        tokens += len(ids)
    done = time.perf_counter()
    return {"rows": len(input_ids), "tokens": tokens, "work_s": round(done - started, 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}")
    parser.add_argument("config", choices=["loralab", "pandas"])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--max-length", type=int, default=MAX_LENGTH)
    args = parser.parse_args(argv)
    fn = _run_loralab if args.config == "loralab" else _run_pandas
    out = fn(args.data, args.model, args.max_length)
    write_json_line({**out, "config": args.config, "self_peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    sys.exit(main())
