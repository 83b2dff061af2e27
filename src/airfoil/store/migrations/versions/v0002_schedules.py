"""Schedules: activated launch plans and when each fires next.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Frozen: it spells the table out instead of importing ``_schema``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    return sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("project", _key(), primary_key=True),
        sa.Column("domain", _key(), primary_key=True),
        sa.Column("name", _key(), primary_key=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("code_root", sa.Text(), nullable=False),
        sa.Column("executor", _key(), nullable=False),
        sa.Column("last_fired_at", sa.Double(), nullable=True),
        sa.Column("last_execution_id", _key(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("project", "domain", "name", name="pk_schedules"),
    )
    op.create_index("ix_schedules_active_next_fire_at", "schedules", ["active", "next_fire_at"])


def downgrade() -> None:
    op.drop_index("ix_schedules_active_next_fire_at", table_name="schedules")
    op.drop_table("schedules")
