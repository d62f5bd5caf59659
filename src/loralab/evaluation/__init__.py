"""Evaluation: base against tuned on held-out data, metrics, an optional LLM judge, the arena's
numbers, and batch answering.

The recipes (``run_evaluation``, ``run_batch``) take the engine from the caller; they and the
judge are loaded on first use, so the server can import the metrics and the arena's numbers
without the generation stack.
"""

from typing import TYPE_CHECKING, Any

from loralab.evaluation.arena import (
    CHOICES,
    best_and_worst,
    judge_agreement,
    vote_winner,
    wilson_interval,
    win_rate,
)
from loralab.evaluation.layout import RESULTS_FILE, SAMPLES_FILE, read_jsonl
from loralab.evaluation.metrics import (
    METRICS,
    cost_per_1k_requests,
    deltas,
    exact_match,
    normalize_answer,
    rouge_l,
    score_answer,
    sentence_bleu,
    speed_summary,
    summarize,
    summarize_metrics,
    token_f1,
)
from loralab.evaluation.rows import (
    PromptRow,
    conversation_row,
    read_conversation_rows,
    read_heldout,
    read_prompt_rows,
)

if TYPE_CHECKING:
    from loralab.evaluation.batch import run_batch
    from loralab.evaluation.judge import (
        JudgeEndpoint,
        JudgeUnavailable,
        PairVerdict,
        PairwiseJudge,
        judge_summary,
    )
    from loralab.evaluation.run import EvaluationPlan, run_evaluation

__all__ = [
    "CHOICES",
    "METRICS",
    "RESULTS_FILE",
    "SAMPLES_FILE",
    "EvaluationPlan",
    "JudgeEndpoint",
    "JudgeUnavailable",
    "PairVerdict",
    "PairwiseJudge",
    "PromptRow",
    "best_and_worst",
    "conversation_row",
    "cost_per_1k_requests",
    "deltas",
    "exact_match",
    "judge_agreement",
    "judge_summary",
    "normalize_answer",
    "read_conversation_rows",
    "read_heldout",
    "read_jsonl",
    "read_prompt_rows",
    "rouge_l",
    "run_batch",
    "run_evaluation",
    "score_answer",
    "sentence_bleu",
    "speed_summary",
    "summarize",
    "summarize_metrics",
    "token_f1",
    "vote_winner",
    "wilson_interval",
    "win_rate",
]

_LAZY = {
    "run_batch": "batch",
    "JudgeEndpoint": "judge",
    "JudgeUnavailable": "judge",
    "PairVerdict": "judge",
    "PairwiseJudge": "judge",
    "judge_summary": "judge",
    "EvaluationPlan": "run",
    "run_evaluation": "run",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loralab.evaluation' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"loralab.evaluation.{module}"), name)
