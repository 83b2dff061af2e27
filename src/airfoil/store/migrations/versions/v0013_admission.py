"""Admission authority: one lease per cluster (``server_admission_authority``) and every server
replica's admission requests (``server_admission_requests``), so one replica runs the scheduling
policy for all (see :mod:`airfoil.store.admission`).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Frozen: it spells the tables out instead of importing ``_server_tables``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    key = sa.String(300)
    op.create_table(
        "server_admission_authority",
        sa.Column("cluster", key, nullable=False),
        sa.Column("holder", key, nullable=False),
        sa.Column("lease_until", sa.Double(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("cluster", name="pk_server_admission_authority"),
    )
    op.create_table(
        "server_admission_requests",
        sa.Column("cluster", key, nullable=False),
        sa.Column("item_id", key, nullable=False),
        sa.Column("owner", key, nullable=False),
        sa.Column("ticket", key, nullable=False),
        sa.Column("task", key, nullable=False),
        sa.Column("submit_time", sa.Double(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("item", sa.Text(), nullable=False),
        sa.Column("placement", sa.Text(), nullable=False),
        sa.Column("gpus", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.Double(), nullable=False),
        sa.Column("alive_until", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("cluster", "item_id", name="pk_server_admission_requests"),
    )


def downgrade() -> None:
    op.drop_table("server_admission_requests")
    op.drop_table("server_admission_authority")
