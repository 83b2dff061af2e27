"""Metric summaries: ``metric_series`` gains ``min_value``, ``max_value`` (over the series'
finite points) and ``last_at`` (when its last point was logged), so the experiment table of
many runs (``airfoil runs``) reads each series' summary from columns, never its points.
Rows stored before are filled from their ``record`` here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

Frozen: it spells the columns out and decodes the stored JSON itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _summary(record: str) -> dict[str, float | None]:
    data = json.loads(record)
    values = [v for v in data.get("values", []) if v is not None and math.isfinite(v)]
    times = data.get("times", [])
    return {
        "lo": min(values) if values else None,
        "hi": max(values) if values else None,
        "at": times[-1] if times else None,
    }


def upgrade() -> None:
    with op.batch_alter_table("metric_series") as batch:
        batch.add_column(sa.Column("min_value", sa.Double(), nullable=True))
        batch.add_column(sa.Column("max_value", sa.Double(), nullable=True))
        batch.add_column(sa.Column("last_at", sa.Double(), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT execution_id, node_id, attempt, name, record FROM metric_series")
    ).fetchall()
    update = sa.text(
        "UPDATE metric_series SET min_value = :lo, max_value = :hi, last_at = :at "
        "WHERE execution_id = :e AND node_id = :n AND attempt = :a AND name = :m"
    )
    for eid, node, attempt, name, record in rows:
        conn.execute(update, {"e": eid, "n": node, "a": attempt, "m": name, **_summary(record)})


def downgrade() -> None:
    with op.batch_alter_table("metric_series") as batch:
        batch.drop_column("last_at")
        batch.drop_column("max_value")
        batch.drop_column("min_value")
