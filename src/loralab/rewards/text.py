"""Pure text helpers shared by the reward presets and evaluation: answer normalisation, exact
match, token F1 and ROUGE-L (moved here from ``evaluation/metrics.py``, which re-exports them),
and how a TRL prompt or completion (a string or a chat list) becomes plain text.

Every metric is on a 0..1 scale, higher is better.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from functools import lru_cache
from typing import Any

__all__ = [
    "as_text",
    "exact_match",
    "normalize_answer",
    "rouge_l",
    "token_f1",
]

_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")


def normalize_answer(text: str) -> str:
    """Lowercase, drop ASCII punctuation, collapse whitespace."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when both normalise to the same text, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the normalised tokens in common (each token counted as often as it occurs)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (``rouge_score``; its tokenizer keeps ASCII letters and digits)."""
    return float(_rouge().score(reference, prediction)["rougeL"].fmeasure)


def as_text(value: Any, *, role: str | None = None) -> str:
    """Plain text of a TRL prompt or completion.

    A string stays as it is. A chat list (``[{"role": ..., "content": ...}]``) gives the content
    of its messages with ``role`` (all messages when None or when none has it), joined by a
    newline; content given as parts (``[{"type": "text", "text": ...}]``) keeps its text parts.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _content(value.get("content"))
    if isinstance(value, (list, tuple)):
        messages = [m for m in value if isinstance(m, dict)]
        if not messages:
            return "\n".join(str(v) for v in value)
        chosen = [m for m in messages if role is None or m.get("role") == role] or messages
        return "\n".join(_content(m.get("content")) for m in chosen)
    return str(value)


def _content(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)
