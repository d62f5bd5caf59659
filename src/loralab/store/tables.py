"""The tables. One class per resource; query functions live in the resource's own module."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AdapterRow",
    "ArenaPairRow",
    "Base",
    "ConfigRow",
    "DatasetRow",
    "EventRow",
    "JobRow",
    "ModelRow",
    "VoteRow",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # upload | hub
    stored_name: Mapped[str | None] = mapped_column(String(64))  # generated file name
    original_filename: Mapped[str | None] = mapped_column(String(255))
    hub_id: Mapped[str | None] = mapped_column(String(255))
    split: Mapped[str | None] = mapped_column(String(64))
    subset: Mapped[str | None] = mapped_column(String(128))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|ready|invalid
    format: Mapped[str | None] = mapped_column(String(32))
    field_mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Whether the person chose the format and mapping; until then detection runs afresh.
    mapping_chosen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    system_prompt: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # Why it is invalid, as FieldProblem.to_dict() entries.
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    row_count: Mapped[int | None] = mapped_column(Integer)
    fingerprint: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # A kind from loralab.jobs.registry (train, validate, demo_model, ...); `kind` indexes the
    # runs list (train) apart from everything else.
    kind: Mapped[str] = mapped_column(String(16), default="train", index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    # The kind's spec, validated and resolved at submit time (a RunConfig for train).
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the work produced, for the kind to describe (train: {"adapter_id": ...}).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What it refers to: the dataset it reads, the adapter it starts from or works on, the job
    # it belongs to (an evaluation of a run, a retry).
    dataset_id: Mapped[str | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    adapter_id: Mapped[str | None] = mapped_column(
        ForeignKey("adapters.id", ondelete="SET NULL", use_alter=True), index=True
    )
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    # The GPUs a device-bound job is pinned to (its CUDA_VISIBLE_DEVICES), e.g. "0" or "2,3".
    devices: Mapped[str | None] = mapped_column(String(64))
    output_dir: Mapped[str | None] = mapped_column(String(1024))
    pid: Mapped[int | None] = mapped_column(Integer)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the cancel came in: the launcher force-kills after cancel_grace_seconds from here.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resume_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int | None] = mapped_column(Integer)
    total_steps: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[float | None] = mapped_column(Float)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, index=True
    )


class EventRow(Base):
    __tablename__ = "job_events"
    __table_args__ = (
        UniqueConstraint("job_id", "seq", name="uq_job_events_job_seq"),
        Index("ix_job_events_job_seq", "job_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConfigRow(Base):
    __tablename__ = "configs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # local | adapter
    path: Mapped[str] = mapped_column(String(1024))
    base_model: Mapped[str | None] = mapped_column(String(1024))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdapterRow(Base):
    """A LoRA adapter: made by a training run, promoted from a checkpoint, or registered."""

    __tablename__ = "adapters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  # training | checkpoint | external
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    # What a worker loads the adapter onto: a hub id or a local folder.
    base_model: Mapped[str] = mapped_column(String(1024))
    # The reference a person used for it (model:<id> or a hub id), when there was one.
    base_ref: Mapped[str | None] = mapped_column(String(1024))
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    step: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str | None] = mapped_column(String(16))
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    files: Mapped[list[Any]] = mapped_column(JSON, default=list)
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # rank, alpha, target modules
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ArenaPairRow(Base):
    """Which side the arena showed as "A" for one sample of an evaluation (drawn once, kept)."""

    __tablename__ = "arena_pairs"
    __table_args__ = (UniqueConstraint("job_id", "sample_id", name="uq_arena_pairs_job_sample"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[str] = mapped_column(String(64))
    a_is: Mapped[str] = mapped_column(String(8))  # base | tuned
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VoteRow(Base):
    """A person's vote on one sample of an evaluation: one vote a sample."""

    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("job_id", "sample_id", name="uq_votes_job_sample"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[str] = mapped_column(String(64))
    choice: Mapped[str] = mapped_column(String(16))  # a | b | tie | both_bad
    a_is: Mapped[str] = mapped_column(String(8))  # base | tuned, as the pair showed it
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
