"""Cheaper rows on the engine's write path: the events table loses its ``(execution_id,
cause_id)`` index (0007's), which no query used, and on PostgreSQL the nodes table leaves
half of each page free (``fillfactor = 50``) so rewriting a node's record is a heap-only
update (no new index entry). On the server each trivial task inserts ~4 events and rewrites
its node ~3 times.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

Frozen: it spells the index and the fill factor out. The fill factor applies to pages
written from now on; existing pages keep their rows where they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_events_execution_id_cause_id", table_name="events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE nodes SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE nodes RESET (fillfactor)")
    op.create_index("ix_events_execution_id_cause_id", "events", ["execution_id", "cause_id"])
