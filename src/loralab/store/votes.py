"""Query functions for the arena: the side each sample showed as "A", and the votes.

Each takes the caller's Session.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loralab.errors import Conflict
from loralab.store.tables import ArenaPairRow, VoteRow

__all__ = [
    "add_vote",
    "arena_pair",
    "count_votes",
    "keep_arena_pair",
    "list_votes",
    "voted_sample_ids",
]


def arena_pair(session: Session, job_id: str, sample_id: str) -> ArenaPairRow | None:
    """The side drawn for the sample, or None before it was first shown."""
    query = select(ArenaPairRow).where(
        ArenaPairRow.job_id == job_id, ArenaPairRow.sample_id == sample_id
    )
    return session.scalars(query).first()


def keep_arena_pair(session: Session, job_id: str, sample_id: str, a_is: str) -> ArenaPairRow:
    """Remember ``a_is`` for the sample, unless a side was drawn already (that one stays).

    Two requests showing the same sample at once keep one side: the loser of the race reads
    the winner's row.
    """
    existing = arena_pair(session, job_id, sample_id)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            row = ArenaPairRow(job_id=job_id, sample_id=sample_id, a_is=a_is)
            session.add(row)
    except IntegrityError:
        existing = arena_pair(session, job_id, sample_id)
        assert existing is not None
        return existing
    return row


def voted_sample_ids(session: Session, job_id: str) -> set[str]:
    """The samples of the evaluation that have a vote."""
    return set(session.scalars(select(VoteRow.sample_id).where(VoteRow.job_id == job_id)))


def add_vote(session: Session, *, job_id: str, sample_id: str, choice: str, a_is: str) -> VoteRow:
    """Store a vote; one a sample (409 ``already_voted``)."""
    try:
        with session.begin_nested():
            row = VoteRow(job_id=job_id, sample_id=sample_id, choice=choice, a_is=a_is)
            session.add(row)
    except IntegrityError:
        raise Conflict(
            f"Sample '{sample_id}' has a vote already.",
            code="already_voted",
            fix="Each sample takes one vote; ask arena/next for the next sample.",
        ) from None
    return row


def list_votes(session: Session, job_id: str) -> list[VoteRow]:
    """The evaluation's votes, oldest first."""
    query = select(VoteRow).where(VoteRow.job_id == job_id).order_by(VoteRow.id)
    return list(session.scalars(query))


def count_votes(session: Session, job_id: str) -> int:
    """How many samples of the evaluation have a vote."""
    return int(
        session.scalar(select(func.count()).select_from(VoteRow).where(VoteRow.job_id == job_id))
        or 0
    )
