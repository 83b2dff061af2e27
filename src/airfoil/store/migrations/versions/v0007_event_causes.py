"""Cause ids in the event log: ``events.cause_id`` is the ``seq`` of the entry of the same
execution's log that caused each entry (0: a stimulus from outside the engine, and every
entry written before this revision), indexed so "what did entry N cause" is one lookup.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Frozen: it spells the column out. The entry's JSON ``record`` carries the same value.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column("cause_id", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.create_index("ix_events_execution_id_cause_id", "events", ["execution_id", "cause_id"])


def downgrade() -> None:
    op.drop_index("ix_events_execution_id_cause_id", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("cause_id")
