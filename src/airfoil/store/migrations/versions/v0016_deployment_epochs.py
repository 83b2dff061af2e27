"""Deployment lease epochs: ``server_deployments.epoch``, the lease's fencing token, goes up
whenever the lease changes hands (a holder that renews its own lease, even one that ran out
while no one else took it, keeps its epoch; A -> B -> A gives A a new one), and a
supervisor's write is refused unless the lease it claimed (holder and epoch) is still the
deployment's.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

Frozen: it spells the column out. Rows written before this revision start at epoch 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "server_deployments",
        sa.Column("epoch", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("server_deployments") as batch:
        batch.drop_column("epoch")
