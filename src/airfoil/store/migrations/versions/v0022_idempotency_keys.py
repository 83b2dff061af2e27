"""Idempotent launches: ``executions.idempotency_key``, the ``Idempotency-Key`` of the launch
request that made the execution, unique within its project (index
``ux_executions_project_idempotency_key``; NULL, as in every row written before, holds none:
NULLs never collide). A retry of the request with that key is answered with the execution
instead of launching another.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

Frozen: it spells the column and index out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    # nullable, no default: SQLite adds it in place (no copy of the table)
    op.add_column("executions", sa.Column("idempotency_key", _KEY, nullable=True))
    op.create_index(
        "ux_executions_project_idempotency_key",
        "executions",
        ["project", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_executions_project_idempotency_key", table_name="executions")
    op.drop_column("executions", "idempotency_key")  # in place (SQLite >= 3.35)
