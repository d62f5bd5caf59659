"""Evaluations: read an evaluation's samples and summary, and vote in the arena.

An evaluation is an ``evaluate`` job; its samples are the ``samples.jsonl`` its worker wrote.
The arena shows a sample's two answers as "A" and "B" with the sides drawn once per sample
(``secrets``) and kept, so a reload shows the same pair; which side is which is said only in
the answer to the vote. Nothing here imports the generation stack.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import BaseModel, Field

from loralab.config import StrictModel
from loralab.errors import Conflict, LoralabError, NotFound
from loralab.evaluation.arena import best_and_worst, judge_agreement, vote_winner, win_rate
from loralab.evaluation.layout import SAMPLES_FILE
from loralab.evaluation.metrics import METRICS
from loralab.services.job_results import finished_job_rows
from loralab.services.jobs import Job, list_jobs, to_job
from loralab.store import Database, reading
from loralab.store import jobs as job_store
from loralab.store import votes as store
from loralab.store.tables import JobRow

__all__ = [
    "ArenaPair",
    "EvaluationSummary",
    "SamplePage",
    "VoteCreate",
    "VoteResult",
    "arena_next",
    "cast_vote",
    "evaluation_samples",
    "evaluation_summary",
    "get_evaluation",
    "list_evaluations",
]

Metric = Literal["exact_match", "token_f1", "rouge_l", "bleu"]


class SamplePage(BaseModel):
    """A page of an evaluation's samples: ``{id, prompt, messages, reference, base, tuned,
    metrics: {base, tuned}, checkpoints?, judge?}`` each (see docs/evaluate.md)."""

    total: int
    offset: int
    samples: list[dict[str, Any]]


class ArenaPair(BaseModel):
    """Two answers to one prompt, sides hidden."""

    sample_id: str
    prompt: str
    messages: list[dict[str, Any]] = Field(description="The whole prompt, as the models saw it.")
    reference: str | None = Field(description="The expected answer, when the rows had one.")
    a: str
    b: str
    remaining: int = Field(description="Samples without a vote, this one included.")


class VoteCreate(StrictModel):
    """A vote on the pair the arena showed."""

    sample_id: str = Field(min_length=1, max_length=64)
    choice: Literal["a", "b", "tie", "both_bad"] = Field(
        description="a or b: that answer is better; tie: equally good; both_bad: neither is good."
    )


class WinRate(BaseModel):
    """Tuned over base, ties (and both-bad) as half a win; Wilson 95% interval."""

    value: float | None
    low: float | None
    high: float | None
    n: int


class EvaluationSummary(BaseModel):
    """What the votes, the judge and the metrics say together."""

    votes: dict[str, int] = Field(description="{tuned, base, tie, both_bad}")
    win_rate: WinRate
    judge_agreement: float | None = Field(
        description="Share of voted samples where the judge picked the same winner."
    )
    judge: dict[str, Any] | None = Field(description="The judge's counts (from the result).")
    metric: str = Field(description="The metric best and worst are ranked by.")
    best: list[str] = Field(description="Samples where tuning helped most on the metric.")
    worst: list[str] = Field(description="Samples where tuning hurt most on the metric.")
    deltas: dict[str, Any] | None = Field(description="Tuned - base per metric: {mean, std, n}.")
    samples: int
    remaining: int = Field(description="Samples without a vote.")


class VoteResult(BaseModel):
    """Which side was which, and the summary with this vote in it."""

    reveal: dict[str, str] = Field(description='{a: "base"|"tuned", b: ...}')
    winner: str = Field(description="What the vote chose: tuned, base, tie or both_bad.")
    summary: EvaluationSummary


# -- finding an evaluation and its samples -------------------------------------------------------


def _not_found(job_id: str) -> NotFound:
    return NotFound(f"Evaluation '{job_id}' does not exist.", code="evaluation_not_found")


def _evaluation_row(session, job_id: str) -> JobRow:
    row = job_store.get_job(session, job_id)
    if row is None or row.kind != "evaluate":
        raise _not_found(job_id)
    return row


def _samples(row: JobRow) -> list[dict[str, Any]]:
    """The samples of a completed evaluation (409 ``evaluation_not_ready`` before, 410
    ``evaluation_files_gone`` when the file was removed)."""
    return finished_job_rows(
        row,
        SAMPLES_FILE,
        what="samples",
        codes=("evaluation_not_ready", "evaluation_files_gone"),
        fix="Run the evaluation again.",
    )


def list_evaluations(db: Database) -> list[Job]:
    """Every evaluation, newest first, with its result."""
    return list_jobs(db, kind="evaluate")


def get_evaluation(db: Database, job_id: str) -> Job:
    """One evaluation (404 ``evaluation_not_found``)."""
    with reading(db) as session:
        return to_job(_evaluation_row(session, job_id))


def evaluation_samples(db: Database, job_id: str, *, offset: int, limit: int) -> SamplePage:
    """A page of the samples, in the order they were evaluated."""
    with reading(db) as session:
        row = _evaluation_row(session, job_id)
    samples = _samples(row)
    return SamplePage(total=len(samples), offset=offset, samples=samples[offset : offset + limit])


# -- the arena -----------------------------------------------------------------------------------


def _summary(session, row: JobRow, samples: list[dict[str, Any]], metric: str):
    votes = store.list_votes(session, row.id)
    counts = {"tuned": 0, "base": 0, "tie": 0, "both_bad": 0}
    winners = []
    for vote in votes:
        winner = vote_winner(vote.choice, vote.a_is)
        counts[winner] += 1
        winners.append((vote.sample_id, winner))
    judged = {str(s["id"]): (s.get("judge") or {}).get("winner") for s in samples}
    best, worst = best_and_worst(samples, metric)
    result = row.result or {}
    return EvaluationSummary(
        votes=counts,
        win_rate=WinRate(**win_rate(counts)),
        judge_agreement=judge_agreement(winners, judged),
        judge=result.get("judge"),
        metric=metric,
        best=best,
        worst=worst,
        deltas=result.get("deltas"),
        samples=len(samples),
        remaining=len(samples) - len({v.sample_id for v in votes}),
    )


def evaluation_summary(db: Database, job_id: str, metric: str = "rouge_l") -> EvaluationSummary:
    """Votes, win rate with its Wilson interval, judge agreement, best/worst, deltas."""
    if metric not in METRICS:
        raise LoralabError(f"Unknown metric '{metric}'.", code="invalid_request", status=422)
    with reading(db) as session:
        row = _evaluation_row(session, job_id)
        samples = _samples(row)
        return _summary(session, row, samples, metric)


def arena_next(db: Database, job_id: str) -> ArenaPair:
    """The first sample without a vote, its sides drawn once (404 ``arena_done`` when every
    sample has a vote)."""
    with reading(db) as session:
        row = _evaluation_row(session, job_id)
    samples = _samples(row)
    with db.write() as session:
        voted = store.voted_sample_ids(session, job_id)
        pending = [s for s in samples if str(s["id"]) not in voted]
        if not pending:
            raise NotFound(
                f"Every sample of evaluation '{job_id}' has a vote.",
                code="arena_done",
                fix=f"See GET /api/evaluations/{job_id}/summary.",
            )
        sample = pending[0]
        drawn = "tuned" if secrets.randbelow(2) else "base"
        a_is = store.keep_arena_pair(session, job_id, str(sample["id"]), drawn).a_is
    b_is = "base" if a_is == "tuned" else "tuned"
    return ArenaPair(
        sample_id=str(sample["id"]),
        prompt=sample.get("prompt") or "",
        messages=sample.get("messages") or [],
        reference=sample.get("reference"),
        a=sample[a_is]["text"],
        b=sample[b_is]["text"],
        remaining=len(pending),
    )


def cast_vote(db: Database, job_id: str, body: VoteCreate, metric: str = "rouge_l") -> VoteResult:
    """Record a vote on a shown pair and reveal its sides.

    Raises NotFound (404 ``evaluation_not_found``, ``sample_not_found``), Conflict (409
    ``evaluation_not_ready``, ``sample_not_shown`` before the arena showed it,
    ``already_voted``).
    """
    with reading(db) as session:
        row = _evaluation_row(session, job_id)
    samples = _samples(row)
    if not any(str(s["id"]) == body.sample_id for s in samples):
        raise NotFound(
            f"Evaluation '{job_id}' has no sample '{body.sample_id}'.", code="sample_not_found"
        )
    with db.write() as session:
        pair = store.arena_pair(session, job_id, body.sample_id)
        if pair is None:
            raise Conflict(
                f"Sample '{body.sample_id}' has not been shown in the arena.",
                code="sample_not_shown",
                fix=f"Ask GET /api/evaluations/{job_id}/arena/next for it first.",
            )
        store.add_vote(
            session, job_id=job_id, sample_id=body.sample_id, choice=body.choice, a_is=pair.a_is
        )
        summary = _summary(session, row, samples, metric)
    b_is = "base" if pair.a_is == "tuned" else "tuned"
    return VoteResult(
        reveal={"a": pair.a_is, "b": b_is},
        winner=vote_winner(body.choice, pair.a_is),
        summary=summary,
    )
