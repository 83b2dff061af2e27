"""The control inbox: signals and terminate requests to a running execution.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Frozen: it spells the table out instead of importing ``_schema``. Signals used to be blobs
(``signals/<execution>/<name>.json``) and terminate requests rows of ``server_control``;
both now arrive through this table, which the driving loop reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key() -> sa.types.TypeEngine[str]:
    return sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "control_messages",
        sa.Column("execution_id", _key(), primary_key=True),
        sa.Column("kind", _key(), primary_key=True),
        sa.Column("name", _key(), primary_key=True),
        sa.Column("sent_at", sa.Double(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_control_messages_execution_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", "kind", "name", name="pk_control_messages"),
    )


def downgrade() -> None:
    op.drop_table("control_messages")
