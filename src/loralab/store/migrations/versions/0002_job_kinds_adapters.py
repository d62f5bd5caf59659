"""job kinds and adapters: generic result/parent/adapter/devices columns, the adapters table

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapters",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("base_model", sa.String(length=1024), nullable=False),
        sa.Column("base_ref", sa.String(length=1024), nullable=True),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("info", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    with op.batch_alter_table("adapters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_adapters_job_id"), ["job_id"], unique=False)

    # A batch copy of `jobs` on SQLite: safe because migrate() turns foreign keys off around
    # the migration (dropping the old table would otherwise cascade into job_events).
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("result", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("adapter_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("parent_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("devices", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_jobs_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_adapter_id"), ["adapter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_jobs_adapter_id_adapters", "adapters", ["adapter_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            "fk_jobs_parent_id_jobs", "jobs", ["parent_id"], ["id"], ondelete="SET NULL"
        )
    # Adapters of finished runs are registered from their run folders when the server starts
    # (services.adapters.register_finished_runs): the database alone does not know the files.


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_jobs_parent_id_jobs", type_="foreignkey")
        batch_op.drop_constraint("fk_jobs_adapter_id_adapters", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_jobs_parent_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_adapter_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_kind"))
        batch_op.drop_column("devices")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("adapter_id")
        batch_op.drop_column("result")
    with op.batch_alter_table("adapters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adapters_job_id"))
    op.drop_table("adapters")
