"""votes: the arena's votes and the sides it showed for each sample of an evaluation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New tables only: no table is copied, so no foreign key elsewhere is touched.
    op.create_table(
        "arena_pairs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("sample_id", sa.String(length=64), nullable=False),
        sa.Column("a_is", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "sample_id", name="uq_arena_pairs_job_sample"),
    )
    op.create_index(op.f("ix_arena_pairs_job_id"), "arena_pairs", ["job_id"], unique=False)
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("sample_id", sa.String(length=64), nullable=False),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.Column("a_is", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "sample_id", name="uq_votes_job_sample"),
    )
    op.create_index(op.f("ix_votes_job_id"), "votes", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_votes_job_id"), table_name="votes")
    op.drop_table("votes")
    op.drop_index(op.f("ix_arena_pairs_job_id"), table_name="arena_pairs")
    op.drop_table("arena_pairs")
