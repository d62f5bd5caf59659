"""dataset columns: system_prompt, mapping_chosen and problems move out of the report JSON

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:30:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Where 0002 and older kept these facts: keys of the report JSON.
_OLD_KEYS = {
    "system_prompt": "_system_prompt",
    "mapping_chosen": "_chosen",
    "problems": "_problems",
}

_datasets = sa.table(
    "datasets",
    sa.column("id", sa.String),
    sa.column("report", sa.JSON),
    sa.column("system_prompt", sa.Text),
    sa.column("mapping_chosen", sa.Boolean),
    sa.column("problems", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        # A plain-string default keeps SQLite on ALTER TABLE ADD COLUMN: a batch table copy would
        # drop `datasets`, and SQLite's implicit DELETE would null every jobs.dataset_id.
        batch_op.add_column(
            sa.Column("mapping_chosen", sa.Boolean(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("system_prompt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("problems", sa.JSON(), nullable=True))

    # In Python, not SQL: SQLite's JSON functions and PostgreSQL's json operators differ.
    bind = op.get_bind()
    for dataset_id, report in bind.execute(sa.select(_datasets.c.id, _datasets.c.report)).all():
        if not isinstance(report, dict) or not any(k.startswith("_") for k in report):
            continue
        bind.execute(
            _datasets.update()
            .where(_datasets.c.id == dataset_id)
            .values(
                system_prompt=report.get(_OLD_KEYS["system_prompt"]),
                mapping_chosen=bool(report.get(_OLD_KEYS["mapping_chosen"])),
                problems=list(report.get(_OLD_KEYS["problems"]) or []) or None,
                report={k: v for k, v in report.items() if not k.startswith("_")} or None,
            )
        )


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            _datasets.c.id,
            _datasets.c.report,
            _datasets.c.system_prompt,
            _datasets.c.mapping_chosen,
            _datasets.c.problems,
        )
    ).all()
    for dataset_id, report, system_prompt, chosen, problems in rows:
        old: dict[str, Any] = {}
        if system_prompt is not None:
            old[_OLD_KEYS["system_prompt"]] = system_prompt
        if chosen:
            old[_OLD_KEYS["mapping_chosen"]] = True
        if problems:
            old[_OLD_KEYS["problems"]] = problems
        if old:
            bind.execute(
                _datasets.update()
                .where(_datasets.c.id == dataset_id)
                .values(report={**(report if isinstance(report, dict) else {}), **old})
            )
    # Plain ALTER TABLE DROP COLUMN (SQLite 3.35+), not a batch table copy (see upgrade).
    op.drop_column("datasets", "problems")
    op.drop_column("datasets", "system_prompt")
    op.drop_column("datasets", "mapping_chosen")
