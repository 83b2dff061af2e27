"""Execution heads: ``executions.head`` holds the execution's :class:`ExecutionHead` JSON (its
record without the workflow spec, inputs and outputs), written with every record, so a
listing or a phase check reads a few hundred bytes per row instead of the whole record (a
fan-out of 100 tasks: ~59 KB, TOASTed and compressed on PostgreSQL).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

Frozen: it spells the column out. Rows written before this revision have no head (NULL):
readers fall back to ``record``, which decodes as a head too.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("head", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("head")
