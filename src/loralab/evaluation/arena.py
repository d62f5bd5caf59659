"""The numbers of the voting arena: win rate with its Wilson interval, best and worst samples,
and how often people agree with the judge.

A vote is ``a``, ``b``, ``tie`` or ``both_bad`` on a pair whose sides were hidden; once mapped
to the side it chose it counts as ``tuned``, ``base``, ``tie`` or ``both_bad``. The win rate is
tuned over base with a tie (and "both bad", as Chatbot Arena counts it) as half a win each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "CHOICES",
    "best_and_worst",
    "judge_agreement",
    "vote_winner",
    "wilson_interval",
    "win_rate",
]

CHOICES = ("a", "b", "tie", "both_bad")
_Z95 = 1.959963984540054


def wilson_interval(successes: float, n: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (95% by default).

    ``successes`` may be fractional (ties counted as halves). Raises ValueError for n < 1 or
    successes outside 0..n.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def vote_winner(choice: str, a_is: str) -> str:
    """What a vote says: ``tuned``, ``base``, ``tie`` or ``both_bad``."""
    if choice == "a":
        return a_is
    if choice == "b":
        return "base" if a_is == "tuned" else "tuned"
    if choice in ("tie", "both_bad"):
        return choice
    raise ValueError(f"unknown choice {choice!r}")


def win_rate(counts: Mapping[str, int]) -> dict[str, Any]:
    """Tuned over base from ``{tuned, base, tie, both_bad}`` counts, ties as halves.

    Returns ``{value, low, high, n}``; the three numbers are None before the first vote.
    """
    tuned, base = counts.get("tuned", 0), counts.get("base", 0)
    ties = counts.get("tie", 0) + counts.get("both_bad", 0)
    n = tuned + base + ties
    if n == 0:
        return {"value": None, "low": None, "high": None, "n": 0}
    wins = tuned + 0.5 * ties
    low, high = wilson_interval(wins, n)
    return {"value": round(wins / n, 6), "low": round(low, 6), "high": round(high, 6), "n": n}


def best_and_worst(
    samples: Iterable[Mapping[str, Any]], metric: str = "rouge_l", k: int = 5
) -> tuple[list[str], list[str]]:
    """The ids of the ``k`` samples where tuning helped most and hurt most on ``metric``.

    A sample's delta is ``metrics.tuned[metric] - metrics.base[metric]``; only samples that
    really moved count (best > 0, worst < 0), largest change first, ties by id.
    """
    moved = []
    for sample in samples:
        metrics = sample.get("metrics") or {}
        base, tuned = (
            (metrics.get("base") or {}).get(metric),
            (metrics.get("tuned") or {}).get(metric),
        )
        if base is None or tuned is None:
            continue
        moved.append((tuned - base, str(sample["id"])))
    best = sorted((d for d in moved if d[0] > 0), key=lambda d: (-d[0], d[1]))
    worst = sorted((d for d in moved if d[0] < 0), key=lambda d: (d[0], d[1]))
    return [i for _, i in best[:k]], [i for _, i in worst[:k]]


def judge_agreement(
    votes: Sequence[tuple[str, str]], judge_winners: Mapping[str, str | None]
) -> float | None:
    """The share of voted samples on which the person and the judge name the same winner.

    ``votes`` are ``(sample_id, winner)`` with winners as ``vote_winner`` gives them ("both
    bad" counts as a tie); ``judge_winners`` maps sample ids to the judge's ``tuned``, ``base``
    or ``tie``. None when no voted sample has a judge verdict.
    """
    pairs = [
        ("tie" if winner == "both_bad" else winner, judge_winners[sample_id])
        for sample_id, winner in votes
        if judge_winners.get(sample_id) is not None
    ]
    if not pairs:
        return None
    return round(sum(1 for human, judge in pairs if human == judge) / len(pairs), 6)
