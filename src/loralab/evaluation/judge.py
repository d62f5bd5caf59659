"""An LLM judge: which of two answers is better, through any OpenAI-compatible endpoint.

Judges prefer whichever answer they read first (or second) more often than the answers
deserve. Each pair is therefore judged twice, once with the base answer as "A" and once with
the tuned answer as "A"; a side wins only when both orders name it, and anything else is a
tie. How often the two orders agree (``order_consistent``) says how much to trust the judge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loralab.errors import LoralabError

__all__ = [
    "JudgeEndpoint",
    "JudgeUnavailable",
    "PairVerdict",
    "PairwiseJudge",
    "judge_summary",
    "parse_verdict",
]

SYSTEM_PROMPT = (
    "You compare two answers to the same request and decide which one is better: more correct, "
    "more helpful and closer to the reference answer when one is given. Reply with exactly one "
    "word: A if Answer A is better, B if Answer B is better, or TIE if neither is better."
)
_WORD = re.compile(r"[A-Za-z]+")


class JudgeUnavailable(LoralabError):
    """The judge endpoint could not be reached or refused the request."""

    code = "judge_unavailable"
    status = 503


@dataclass(frozen=True)
class JudgeEndpoint:
    """Where the judge answers: an OpenAI-compatible base URL (``.../v1``) and a model name."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0


@dataclass
class PairVerdict:
    """The judge's view of one pair.

    Attributes:
        winner: ``tuned``, ``base`` or ``tie`` (a tie also when the two orders disagree).
        verdicts: what each order said: ``{order, said, winner}`` with ``order`` one of
            ``base_first`` and ``tuned_first``, ``said`` the parsed ``A``/``B``/``TIE``.
        order_consistent: both orders named the same winner (or both a tie).
    """

    winner: str
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    order_consistent: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "verdicts": self.verdicts,
            "order_consistent": self.order_consistent,
        }


def parse_verdict(text: str) -> str:
    """``A``, ``B`` or ``TIE`` from the judge's reply (its first word); ``TIE`` when unclear."""
    match = _WORD.search(text or "")
    word = match.group(0).upper() if match else ""
    return word if word in ("A", "B", "TIE") else "TIE"


def _user_prompt(prompt: str, reference: str | None, a: str, b: str) -> str:
    parts = [f"[Request]\n{prompt}"]
    if reference:
        parts.append(f"[Reference answer]\n{reference}")
    parts += [f"[Answer A]\n{a}", f"[Answer B]\n{b}", "Which answer is better? Reply A, B or TIE."]
    return "\n\n".join(parts)


class PairwiseJudge:
    """Judges pairs of answers with one model behind an OpenAI-compatible endpoint.

    Args:
        endpoint: where to ask.
        client: an ``openai.OpenAI`` client to use instead of building one (tests).
    """

    def __init__(self, endpoint: JudgeEndpoint, *, client: Any | None = None) -> None:
        self.endpoint = endpoint
        if client is None:
            from openai import OpenAI

            client = OpenAI(
                base_url=endpoint.base_url,
                api_key=endpoint.api_key or "not-needed",
                timeout=endpoint.timeout_s,
                max_retries=1,
            )
        self.client = client

    def ask(self, prompt: str, reference: str | None, a: str, b: str) -> str:
        """One verdict, ``A``, ``B`` or ``TIE``, with ``a`` shown first.

        Raises:
            JudgeUnavailable: the endpoint failed (connection, status, timeout).
        """
        import openai

        try:
            reply = self.client.chat.completions.create(
                model=self.endpoint.model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": _user_prompt(prompt, reference, a, b)},
                ],
                temperature=0,
                max_tokens=4,
            )
        except openai.OpenAIError as exc:
            raise JudgeUnavailable(
                f"The judge at {self.endpoint.base_url} failed: {type(exc).__name__}: {exc}"[:500],
                fix="Check the judge's base_url, model and api_key.",
            ) from exc
        choices = getattr(reply, "choices", None) or []
        return parse_verdict(choices[0].message.content if choices else "")

    def compare(
        self, prompt: str, base_answer: str, tuned_answer: str, reference: str | None = None
    ) -> PairVerdict:
        """Judge the pair in both orders; a side wins only when both orders say so."""
        first = self.ask(prompt, reference, base_answer, tuned_answer)
        second = self.ask(prompt, reference, tuned_answer, base_answer)
        by_first = {"A": "base", "B": "tuned", "TIE": "tie"}[first]
        by_second = {"A": "tuned", "B": "base", "TIE": "tie"}[second]
        consistent = by_first == by_second
        return PairVerdict(
            winner=by_first if consistent else "tie",
            verdicts=[
                {"order": "base_first", "said": first, "winner": by_first},
                {"order": "tuned_first", "said": second, "winner": by_second},
            ],
            order_consistent=consistent,
        )


def judge_summary(verdicts: Iterable[Mapping[str, Any] | None]) -> dict[str, Any]:
    """``{tuned_wins, base_wins, ties, order_consistent, judged, failed}`` over the samples'
    verdicts (``PairVerdict.to_dict()``; None or ``{"error": ...}`` for a pair not judged).

    ``order_consistent`` is the share of judged pairs on which both orders agreed (None when
    none was judged).
    """
    counts = {"tuned": 0, "base": 0, "tie": 0}
    consistent = judged = failed = 0
    for verdict in verdicts:
        if not verdict or verdict.get("winner") not in counts:
            failed += 1
            continue
        judged += 1
        counts[verdict["winner"]] += 1
        consistent += bool(verdict.get("order_consistent"))
    return {
        "tuned_wins": counts["tuned"],
        "base_wins": counts["base"],
        "ties": counts["tie"],
        "order_consistent": round(consistent / judged, 6) if judged else None,
        "judged": judged,
        "failed": failed,
    }
