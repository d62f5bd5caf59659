"""Text metrics of one answer against its reference, and their summaries over a set.

Every metric is on a 0..1 scale, higher is better:

- ``exact_match``: 1 when the normalised answer equals the normalised reference. Normalising
  lowercases, drops punctuation and collapses whitespace (SQuAD's rule, keeping articles).
- ``token_f1``: the F1 of the normalised tokens the answer shares with the reference (SQuAD).
- ``rouge_l``: ROUGE-L F-measure (longest common subsequence), ``rouge_score``'s tokenizer.
- ``bleu``: sentence BLEU with sacrebleu's default ``exp`` smoothing, divided by 100.

A set of samples is summarised as ``{mean, std}`` per metric (std with n-1, 0 for one sample);
tuned against base as the per-sample difference ``tuned - base`` with its mean and std.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# The pure text metrics live one layer down, where the reward presets score with them too.
from loralab.rewards.text import exact_match, normalize_answer, rouge_l, token_f1

__all__ = [
    "METRICS",
    "cost_per_1k_requests",
    "deltas",
    "exact_match",
    "normalize_answer",
    "rouge_l",
    "score_answer",
    "sentence_bleu",
    "speed_summary",
    "summarize",
    "summarize_metrics",
    "token_f1",
]

METRICS = ("exact_match", "token_f1", "rouge_l", "bleu")


def sentence_bleu(prediction: str, reference: str) -> float:
    """sacrebleu's sentence BLEU (13a tokenizer, exp smoothing), on a 0..1 scale."""
    import sacrebleu

    return float(sacrebleu.sentence_bleu(prediction, [reference]).score) / 100.0


def score_answer(prediction: str, reference: str) -> dict[str, float]:
    """Every metric of one answer: ``{exact_match, token_f1, rouge_l, bleu}``."""
    return {
        "exact_match": exact_match(prediction, reference),
        "token_f1": round(token_f1(prediction, reference), 6),
        "rouge_l": round(rouge_l(prediction, reference), 6),
        "bleu": round(sentence_bleu(prediction, reference), 6),
    }


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """``{mean, std, n}`` of the values (sample std, n-1; 0 for one value; None when empty)."""
    n = len(values)
    if n == 0:
        return {"mean": None, "std": None, "n": 0}
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": round(mean, 6), "std": round(std, 6), "n": n}


def summarize_metrics(per_sample: Iterable[Mapping[str, float]]) -> dict[str, dict[str, Any]]:
    """``{metric: {mean, std, n}}`` over samples' metric dicts."""
    rows = list(per_sample)
    return {name: summarize([row[name] for row in rows if name in row]) for name in METRICS}


def deltas(
    base: Sequence[Mapping[str, float]], tuned: Sequence[Mapping[str, float]]
) -> dict[str, dict[str, Any]]:
    """Per-sample ``tuned - base`` of each metric, as ``{metric: {mean, std, n}}``.

    ``base`` and ``tuned`` are the same samples in the same order.
    """
    if len(base) != len(tuned):
        raise ValueError(f"{len(base)} base and {len(tuned)} tuned samples differ in number")
    return {
        name: summarize([t[name] - b[name] for b, t in zip(base, tuned, strict=True)])
        for name in METRICS
    }


def speed_summary(generations: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Latency and throughput of a set of generations (``latency_s``, ``ttft_s``,
    ``completion_tokens``, ``tokens_per_second`` each).

    ``tokens_per_second`` is all completion tokens over all decode time (each generation's
    tokens divided by its own rate), so long answers weigh as much as they cost.
    """
    if not generations:
        return {
            "mean_latency_s": None,
            "mean_ttft_s": None,
            "tokens_per_second": None,
            "mean_completion_tokens": None,
        }
    n = len(generations)
    tokens = [int(g.get("completion_tokens") or 0) for g in generations]
    decode = [
        t / float(g["tokens_per_second"])
        for t, g in zip(tokens, generations, strict=True)
        if t and g.get("tokens_per_second")
    ]
    rate = sum(t for t, g in zip(tokens, generations, strict=True) if g.get("tokens_per_second"))
    return {
        "mean_latency_s": round(math.fsum(g.get("latency_s") or 0.0 for g in generations) / n, 6),
        "mean_ttft_s": round(math.fsum(g.get("ttft_s") or 0.0 for g in generations) / n, 6),
        "tokens_per_second": round(rate / math.fsum(decode), 3) if decode else None,
        "mean_completion_tokens": round(sum(tokens) / n, 3),
    }


def cost_per_1k_requests(
    tokens_per_second: float | None, mean_completion_tokens: float | None, price_per_gpu_hour: float
) -> float | None:
    """What 1,000 requests cost at ``price_per_gpu_hour``, one request at a time.

    A request takes ``mean_completion_tokens / tokens_per_second`` seconds of the device;
    1,000 of them are that many seconds times 1,000, priced by the hour. None when the speed
    is unknown.
    """
    if not tokens_per_second or mean_completion_tokens is None:
        return None
    seconds = 1000.0 * mean_completion_tokens / tokens_per_second
    return round(seconds / 3600.0 * price_per_gpu_hour, 6)
