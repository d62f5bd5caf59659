"""The batch recipe: answer many prompts with one model and keep every answer.

    prompts (lines or a file) -> one generation each -> results.jsonl
    -> summary: count, mean latency, tokens/s, exact match where an answer was expected

Like the evaluation recipe, the engine and the reporter come from the caller
(``loralab.jobs.generate_job``).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loralab.evaluation.layout import RESULTS_FILE
from loralab.evaluation.metrics import exact_match, speed_summary
from loralab.evaluation.rows import PromptRow
from loralab.evaluation.run import Generator, ProgressReporter, StopFlag

__all__ = ["run_batch"]


def run_batch(
    rows: Sequence[PromptRow],
    target: Any,
    params: Any,
    *,
    engine: Generator,
    out_dir: str | Path,
    reporter: ProgressReporter,
    stop: StopFlag | None = None,
) -> dict[str, Any] | None:
    """Generate an answer for every row and write ``results.jsonl`` (one object a row:
    ``id, prompt, messages, expected, text, finish_reason, prompt_tokens, completion_tokens,
    latency_s, ttft_s, tokens_per_second, exact_match``).

    Returns ``{count, mean_latency_s, tokens_per_second, exact_match}`` (``exact_match`` over
    the rows with an expected answer, None when none has one), or None when stopped.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = len(rows)
    reporter.emit("started", {"total_steps": total})
    reporter.log(f"Answering {total} prompts")
    partial = out / f".{RESULTS_FILE}.partial"
    generations: list[dict[str, Any]] = []
    matches: list[float] = []
    started = time.monotonic()
    with partial.open("w", encoding="utf-8") as handle:
        for i, row in enumerate(rows):
            if stop is not None and stop.is_set():
                handle.close()
                partial.unlink(missing_ok=True)
                reporter.log(f"Stopped after {i} of {total} prompts.")
                return None
            g = engine.generate(target, messages=row.messages, params=params)
            record: dict[str, Any] = {
                "id": row.id,
                "prompt": row.prompt,
                "messages": row.messages,
                "expected": row.reference,
                "text": g.text,
                "finish_reason": g.finish_reason,
                "prompt_tokens": g.prompt_tokens,
                "completion_tokens": g.completion_tokens,
                "latency_s": round(g.latency_s, 6),
                "ttft_s": round(g.ttft_s, 6),
                "tokens_per_second": round(g.tokens_per_second, 3),
                "exact_match": None,
            }
            if row.reference is not None:
                record["exact_match"] = exact_match(g.text, row.reference)
                matches.append(record["exact_match"])
            generations.append(record)
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            elapsed = time.monotonic() - started
            reporter.emit(
                "step",
                {
                    "step": i + 1,
                    "total_steps": total,
                    "eta_seconds": round(elapsed / (i + 1) * (total - i - 1), 1),
                    "elapsed_seconds": round(elapsed, 3),
                },
            )
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, out / RESULTS_FILE)
    speed = speed_summary(generations)
    result = {
        "count": total,
        "mean_latency_s": speed["mean_latency_s"],
        "tokens_per_second": speed["tokens_per_second"],
        "exact_match": round(math.fsum(matches) / len(matches), 6) if matches else None,
    }
    reporter.emit("finished", {"step": total, "metrics": result})
    return result
