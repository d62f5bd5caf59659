"""The evaluation recipe, top to bottom: base against tuned on held-out rows.

    held-out rows -> for each sample: base answer, tuned answer (and each checkpoint's)
    -> metrics against the reference -> optional judge (both orders) -> samples.jsonl
    -> summary: means and spreads, tuned - base deltas, speed, serving cost

The engine comes from the caller (``loralab.jobs.evaluate_job`` builds a
``loralab.inference.Engine``): anything with ``generate(target, messages=..., params=...)``
returning a Generation. Progress goes to a reporter with ``emit(type, data)`` and ``log(text)``
(the worker's ``StoreReporter``): a ``step`` per sample, so the job shows a progress bar.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from loralab.evaluation.judge import JudgeEndpoint, JudgeUnavailable, PairwiseJudge, judge_summary
from loralab.evaluation.layout import SAMPLES_FILE
from loralab.evaluation.metrics import (
    METRICS,
    cost_per_1k_requests,
    deltas,
    score_answer,
    speed_summary,
    summarize_metrics,
)
from loralab.evaluation.rows import PromptRow

__all__ = ["EvaluationPlan", "Generator", "ProgressReporter", "run_evaluation"]

_JUDGE_FAILURES_TO_GIVE_UP = 3


class Generator(Protocol):
    """What answers: ``loralab.inference.Engine``."""

    def generate(
        self, target: Any, *, messages: Any = None, prompt: Any = None, params: Any = ...
    ): ...


class ProgressReporter(Protocol):
    """Where progress goes: ``loralab.jobs.StoreReporter``."""

    def emit(self, kind: str, data: dict[str, Any]) -> None: ...

    def log(self, message: str, level: str = "info") -> None: ...


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class EvaluationPlan:
    """What to compare and how.

    Attributes:
        base, tuned: the engine's targets (``ModelTarget``): the base alone, and with the adapter.
        params: the engine's ``SamplingParams``, the same for every side.
        checkpoints: ``(step, target)`` of checkpoints of the adapter's run to score too.
        judge: an OpenAI-compatible endpoint to judge base against tuned, or None.
        price_per_gpu_hour: what an hour of the device costs, for the serving cost.
    """

    base: Any
    tuned: Any
    params: Any
    checkpoints: list[tuple[int, Any]] = field(default_factory=list)
    judge: JudgeEndpoint | None = None
    price_per_gpu_hour: float = 2.0


def _answer(engine: Generator, target: Any, row: PromptRow, params: Any) -> dict[str, Any]:
    g = engine.generate(target, messages=row.messages, params=params)
    return {
        "text": g.text,
        "finish_reason": g.finish_reason,
        "length": g.completion_tokens,
        "prompt_tokens": g.prompt_tokens,
        "latency_s": round(g.latency_s, 6),
        "ttft_s": round(g.ttft_s, 6),
        "tokens_per_second": round(g.tokens_per_second, 3),
    }


def _speed(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return speed_summary([{**a, "completion_tokens": a["length"]} for a in answers])


def _mean(summary: dict[str, dict[str, Any]], name: str) -> Any:
    return (summary.get(name) or {}).get("mean")


def run_evaluation(
    rows: Sequence[PromptRow],
    plan: EvaluationPlan,
    *,
    engine: Generator,
    out_dir: str | Path,
    reporter: ProgressReporter,
    stop: StopFlag | None = None,
    judge: PairwiseJudge | None = None,
) -> dict[str, Any] | None:
    """Answer every row with the base and the tuned model, score both, write the samples.

    Args:
        rows: prompts with references (``rows.read_heldout`` or ``read_conversation_rows``).
        plan: targets, sampling, checkpoints, judge and price.
        engine: generates (see ``Generator``).
        out_dir: ``samples.jsonl`` goes here, complete or not at all.
        reporter: gets ``started``, a ``step`` per sample, log lines and ``finished``.
        stop: checked between samples; once set, returns None and writes no samples file.
        judge: a judge to use instead of one built from ``plan.judge`` (tests).

    Returns:
        The summary (see ``docs/evaluate.md``), or None when stopped.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if judge is None and plan.judge is not None:
        judge = PairwiseJudge(plan.judge)
    per_sample = 1 + len(plan.checkpoints)
    total = len(rows) * per_sample
    reporter.emit("started", {"total_steps": total})
    reporter.log(
        f"Evaluating {len(rows)} samples: base, tuned and {len(plan.checkpoints)} "
        "checkpoint(s)" + (f", judged by {plan.judge.model}" if plan.judge else "")
    )

    # 1. Answers and metrics, sample by sample, into a partial file (renamed when complete).
    partial = out / f".{SAMPLES_FILE}.partial"
    answers: dict[str, list[dict[str, Any]]] = {"base": [], "tuned": []}
    scores: dict[str, list[dict[str, float]]] = {"base": [], "tuned": []}
    checkpoint_scores: dict[int, list[dict[str, float]]] = {s: [] for s, _ in plan.checkpoints}
    verdicts: list[dict[str, Any] | None] = []
    judge_failures = 0
    started = time.monotonic()
    with partial.open("w", encoding="utf-8") as handle:
        for i, row in enumerate(rows):
            if stop is not None and stop.is_set():
                handle.close()
                partial.unlink(missing_ok=True)
                reporter.log(f"Stopped after {i} of {len(rows)} samples.")
                return None
            reference = row.reference or ""
            sample: dict[str, Any] = {
                "id": row.id,
                "prompt": row.prompt,
                "messages": row.messages,
                "reference": row.reference,
            }
            for side, target in (("base", plan.base), ("tuned", plan.tuned)):
                answer = _answer(engine, target, row, plan.params)
                answers[side].append(answer)
                scores[side].append(score_answer(answer["text"], reference))
                sample[side] = answer
            sample["metrics"] = {"base": scores["base"][-1], "tuned": scores["tuned"][-1]}
            if plan.checkpoints:
                sample["checkpoints"] = {}
                for step, target in plan.checkpoints:
                    answer = _answer(engine, target, row, plan.params)
                    metrics = score_answer(answer["text"], reference)
                    checkpoint_scores[step].append(metrics)
                    sample["checkpoints"][str(step)] = {"text": answer["text"], "metrics": metrics}

            # 2. The judge, both orders; a judge that keeps failing is given up, not waited on.
            if judge is not None and judge_failures < _JUDGE_FAILURES_TO_GIVE_UP:
                try:
                    verdict = judge.compare(
                        row.prompt, sample["base"]["text"], sample["tuned"]["text"], reference
                    ).to_dict()
                    judge_failures = 0
                except JudgeUnavailable as exc:
                    judge_failures += 1
                    verdict = {"winner": None, "error": exc.message}
                    reporter.log(f"Judge failed on sample {row.id}: {exc.message}", "warning")
                    if judge_failures == _JUDGE_FAILURES_TO_GIVE_UP:
                        reporter.log(
                            "The judge failed 3 times in a row; not asking it again.", "warning"
                        )
                sample["judge"] = verdict
                verdicts.append(verdict)
            elif judge is not None:
                verdicts.append(None)

            handle.write(json.dumps(sample, ensure_ascii=False) + "\n")
            done = (i + 1) * per_sample
            elapsed = time.monotonic() - started
            reporter.emit(
                "step",
                {
                    "step": done,
                    "total_steps": total,
                    "eta_seconds": round(elapsed / done * (total - done), 1),
                    "elapsed_seconds": round(elapsed, 3),
                },
            )
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, out / SAMPLES_FILE)

    # 3. The summary: means and spreads, deltas, speed and cost, checkpoints, the judge.
    metrics = {side: summarize_metrics(scores[side]) for side in ("base", "tuned")}
    speed = {side: _speed(answers[side]) for side in ("base", "tuned")}
    result: dict[str, Any] = {
        "samples": len(rows),
        "metrics": metrics,
        "deltas": deltas(scores["base"], scores["tuned"]),
        "speed": speed,
        "cost_per_1k_requests": {
            side: cost_per_1k_requests(
                speed[side]["tokens_per_second"],
                speed[side]["mean_completion_tokens"],
                plan.price_per_gpu_hour,
            )
            for side in ("base", "tuned")
        },
        "price_per_gpu_hour": plan.price_per_gpu_hour,
        "checkpoints": [
            {"step": step, "metrics": summarize_metrics(checkpoint_scores[step])}
            for step, _ in plan.checkpoints
        ],
        "judge": judge_summary(verdicts) if judge is not None else None,
    }
    flat = {f"{side}_{name}": _mean(metrics[side], name) for side in metrics for name in METRICS}
    em, rl = (
        (flat[f"{s}_{m}"] or 0.0 for s in ("base", "tuned")) for m in ("exact_match", "rouge_l")
    )
    reporter.log(
        "Exact match {:.3f} -> {:.3f}, ROUGE-L {:.3f} -> {:.3f} (base -> tuned)".format(*em, *rl)
    )
    reporter.emit("finished", {"step": total, "metrics": flat})
    return result
