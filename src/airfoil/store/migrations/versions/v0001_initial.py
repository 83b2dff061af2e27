"""The initial schema: executions, nodes, attempts, events, cache entries and reservations.

Revision ID: 0001
Revises:
Create Date: 2024-11-28

Frozen: it spells the tables out instead of importing ``_schema``, so it keeps building
this revision's schema when the code's schema moves on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    return sa.String().with_variant(sa.String(collation="C"), "postgresql")


def _execution_id(table: str) -> sa.Column[str]:
    return sa.Column(
        "execution_id",
        _key(),
        sa.ForeignKey("executions.id", name=f"fk_{table}_execution_id", ondelete="CASCADE"),
        primary_key=True,
    )


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", _key(), primary_key=True),
        sa.Column("project", _key(), nullable=False),
        sa.Column("domain", _key(), nullable=False),
        sa.Column("workflow", _key(), nullable=False),
        sa.Column("phase", _key(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("lease_owner", _key(), nullable=True),
        sa.Column("lease_expires_at", sa.Double(), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    op.create_index("ix_executions_created_at_id", "executions", ["created_at", "id"])
    op.create_index(
        "ix_executions_project_domain_created_at_id",
        "executions",
        ["project", "domain", "created_at", "id"],
    )
    op.create_index(
        "ix_executions_workflow_created_at_id", "executions", ["workflow", "created_at", "id"]
    )
    op.create_index(
        "ix_executions_phase_created_at_id", "executions", ["phase", "created_at", "id"]
    )
    op.create_table(
        "nodes",
        _execution_id("nodes"),
        sa.Column("node_id", _key(), primary_key=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "node_id", name="pk_nodes"),
    )
    op.create_table(
        "attempts",
        _execution_id("attempts"),
        sa.Column("node_id", _key(), primary_key=True),
        sa.Column("attempt", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "node_id", "attempt", name="pk_attempts"),
    )
    op.create_table(
        "events",
        _execution_id("events"),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "seq", name="pk_events"),
    )
    op.create_table(
        "cache_entries",
        sa.Column("key", _key(), primary_key=True),
        sa.Column("task", _key(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_cache_entries"),
    )
    op.create_index(
        "ix_cache_entries_task_created_at_key", "cache_entries", ["task", "created_at", "key"]
    )
    op.create_index("ix_cache_entries_created_at_key", "cache_entries", ["created_at", "key"])
    op.create_table(
        "cache_reservations",
        sa.Column("key", _key(), primary_key=True),
        sa.Column("owner", _key(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_cache_reservations"),
    )


def downgrade() -> None:
    for table in ("cache_reservations", "cache_entries", "events", "attempts", "nodes"):
        op.drop_table(table)
    op.drop_index("ix_executions_phase_created_at_id", table_name="executions")
    op.drop_index("ix_executions_workflow_created_at_id", table_name="executions")
    op.drop_index("ix_executions_project_domain_created_at_id", table_name="executions")
    op.drop_index("ix_executions_created_at_id", table_name="executions")
    op.drop_table("executions")
