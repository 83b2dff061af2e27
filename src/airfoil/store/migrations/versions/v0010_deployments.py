"""Deployments: model services the server supervises (see :mod:`airfoil.store.deployments`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

Frozen: it spells the table out instead of importing ``_server_tables``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    key = sa.String(300)
    op.create_table(
        "server_deployments",
        sa.Column("project", key, nullable=False),
        sa.Column("name", key, nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("owner", key, nullable=False),
        sa.Column("lease_until", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", name="pk_server_deployments"),
    )


def downgrade() -> None:
    op.drop_table("server_deployments")
