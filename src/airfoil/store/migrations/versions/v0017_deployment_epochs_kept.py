"""Deployment epochs kept after a stop: ``server_deployment_epochs`` holds the lease epoch a
stopped deployment had (written in the transaction that deletes its row), and a name deployed
again starts from it, so a lease's epoch never repeats for a name: a supervisor's pass that
began before the stop (under epoch e) cannot write onto, or act for, the deployment of the
same name made after it, even when the same supervisor claims the new one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

Frozen: it spells the table out. Deployments stopped before this revision left no epoch:
a name stopped then starts again from epoch 0, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    key = sa.String(300)
    op.create_table(
        "server_deployment_epochs",
        sa.Column("project", key, nullable=False),
        sa.Column("name", key, nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", name="pk_server_deployment_epochs"),
    )


def downgrade() -> None:
    op.drop_table("server_deployment_epochs")
