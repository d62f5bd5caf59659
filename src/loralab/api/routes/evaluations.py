"""``/api/evaluations``: evaluations (``evaluate`` jobs), their samples, and the voting arena."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from loralab.api.deps import DbDep
from loralab.services import evaluations as service
from loralab.services.evaluations import (
    ArenaPair,
    EvaluationSummary,
    Metric,
    SamplePage,
    VoteCreate,
    VoteResult,
)
from loralab.services.jobs import Job

router = APIRouter(prefix="/api/evaluations", tags=["evaluations"])

JobId = Path(description="The evaluation's job id.", max_length=64)
MetricQuery = Query(default="rouge_l", description="Rank best and worst samples by this metric.")


@router.get("", response_model=list[Job])
def list_evaluations(db: DbDep) -> list[Job]:
    """Every evaluation, newest first, with its result (metrics, deltas, speed, cost, judge)."""
    return service.list_evaluations(db)


@router.get("/{job_id}", response_model=Job)
def get_evaluation(db: DbDep, job_id: str = JobId) -> Job:
    """One evaluation (404 `evaluation_not_found`)."""
    return service.get_evaluation(db, job_id)


@router.get("/{job_id}/samples", response_model=SamplePage)
def evaluation_samples(
    db: DbDep,
    job_id: str = JobId,
    offset: int = Query(default=0, ge=0, le=1_000_000),
    limit: int = Query(default=50, ge=1, le=500),
) -> SamplePage:
    """A page of the samples: prompt, reference, both answers with their metrics, the judge."""
    return service.evaluation_samples(db, job_id, offset=offset, limit=limit)


@router.get("/{job_id}/arena/next", response_model=ArenaPair)
def arena_next(db: DbDep, job_id: str = JobId) -> ArenaPair:
    """The next pair to vote on, sides hidden (404 `arena_done` when all have a vote)."""
    return service.arena_next(db, job_id)


@router.post("/{job_id}/votes", response_model=VoteResult, status_code=201)
def cast_vote(
    body: VoteCreate, db: DbDep, job_id: str = JobId, metric: Metric = MetricQuery
) -> VoteResult:
    """Vote on a shown pair; reveals which side was which (409 `already_voted`)."""
    return service.cast_vote(db, job_id, body, metric)


@router.get("/{job_id}/summary", response_model=EvaluationSummary)
def evaluation_summary(
    db: DbDep, job_id: str = JobId, metric: Metric = MetricQuery
) -> EvaluationSummary:
    """Votes, win rate with its Wilson 95% interval, judge agreement, best/worst, deltas."""
    return service.evaluation_summary(db, job_id, metric)
