"""Observability: ``metric_series`` keeps the metric time series each attempt logged
(``current_context().log_metric`` / ``.count``), one row per ``(execution, node, attempt,
name)`` with the whole series as JSON in ``record``; ``failures`` keeps each failed attempt
with its signature (exception type, normalised message, top user frame), grouped across runs
by ``airfoil failures``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Frozen: it spells the table out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("execution_id", _KEY, nullable=False),
        sa.Column("node_id", _KEY, nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", _KEY, nullable=False),
        sa.Column("task", _KEY, nullable=False),
        sa.Column("kind", _KEY, nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Double(), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_metric_series_execution_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "execution_id", "node_id", "attempt", "name", name="pk_metric_series"
        ),
    )
    op.create_index("ix_metric_series_task_name", "metric_series", ["task", "name"])
    op.create_table(
        "failures",
        sa.Column("execution_id", _KEY, nullable=False),
        sa.Column("node_id", _KEY, nullable=False),
        sa.Column("attempt", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("project", _KEY, nullable=False),
        sa.Column("task", _KEY, nullable=False),
        sa.Column("version", _KEY, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("signature", _KEY, nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_failures_execution_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "node_id", "attempt", name="pk_failures"),
    )
    op.create_index("ix_failures_project_signature_at", "failures", ["project", "signature", "at"])
    op.create_index("ix_failures_project_at", "failures", ["project", "at"])


def downgrade() -> None:
    op.drop_index("ix_failures_project_at", table_name="failures")
    op.drop_index("ix_failures_project_signature_at", table_name="failures")
    op.drop_table("failures")
    op.drop_index("ix_metric_series_task_name", table_name="metric_series")
    op.drop_table("metric_series")
