"""PostgreSQL: the tables a driver's fenced batch writes (nodes, attempts, events) lose their
foreign key to ``executions``. Every row of a fenced batch belongs to the execution whose row
the batch's fence updates (and locks) in the same statement, so the per-row referential check
(a ``SELECT ... FOR KEY SHARE`` of the execution's row through SPI, ~9 per trivial task, ~12%
of the backends' CPU in the server's throughput profile) proved nothing; the store's other
writes check the executions they name in their own transaction. SQLite keeps its keys.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

Frozen: it spells the constraint names out (0001's naming).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("nodes", "attempts", "events")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.drop_constraint(f"fk_{table}_execution_id", table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.create_foreign_key(
            f"fk_{table}_execution_id",
            table,
            "executions",
            ["execution_id"],
            ["id"],
            ondelete="CASCADE",
        )
