"""Artifacts: named, versioned artifacts (trained models, published task outputs), their
aliases and the aliases' audit trail (see :mod:`airfoil.store.artifacts`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

Frozen: it spells the tables out instead of importing ``_server_tables``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    key = sa.String(300)
    op.create_table(
        "server_artifact_versions",
        sa.Column("project", key, nullable=False),
        sa.Column("name", key, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("partitions", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", "version", name="pk_server_artifact_versions"),
    )
    op.create_index(
        "ix_server_artifact_versions_hash",
        "server_artifact_versions",
        ["project", "name", "content_hash"],
    )
    op.create_table(
        "server_artifact_aliases",
        sa.Column("project", key, nullable=False),
        sa.Column("name", key, nullable=False),
        sa.Column("alias", key, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", "alias", name="pk_server_artifact_aliases"),
    )
    op.create_table(
        "server_artifact_moves",
        sa.Column("project", key, nullable=False),
        sa.Column("name", key, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("alias", key, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", "seq", name="pk_server_artifact_moves"),
    )


def downgrade() -> None:
    op.drop_table("server_artifact_moves")
    op.drop_table("server_artifact_aliases")
    op.drop_index("ix_server_artifact_versions_hash", table_name="server_artifact_versions")
    op.drop_table("server_artifact_versions")
