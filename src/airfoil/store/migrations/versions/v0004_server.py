"""The server's tables: projects, code packages, registered entities and launch plans, API
keys, control requests and secrets (``server_*``, beside the store's own).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

Frozen: it spells the tables out instead of importing ``airfoil.server``. Servers before this
revision created these tables themselves at start; upgrading such a database keeps them (a
table that already exists is left as it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = 300


def _tables() -> list[tuple[str, list[sa.Column[Any]], list[tuple[str, list[str]]]]]:
    key = sa.String(_KEY)
    return [
        (
            "server_projects",
            [
                sa.Column("name", key, primary_key=True),
                sa.Column("description", sa.Text(), nullable=False),
                sa.Column("created_at", sa.Double(), nullable=False),
            ],
            [],
        ),
        (
            "server_packages",
            [
                sa.Column("sha256", sa.String(64), primary_key=True),
                sa.Column("size", sa.BigInteger(), nullable=False),
                sa.Column("created_at", sa.Double(), nullable=False),
            ],
            [],
        ),
        (
            "server_entities",
            [
                sa.Column("project", key, primary_key=True),
                sa.Column("name", key, primary_key=True),
                sa.Column("version", key, primary_key=True),
                sa.Column("kind", sa.String(20), nullable=False),
                sa.Column("content_hash", sa.String(64), nullable=False),
                sa.Column("package", sa.String(64), nullable=False),
                sa.Column("registered_at", sa.Double(), nullable=False),
                sa.Column("spec", sa.Text(), nullable=False),
            ],
            [("ix_server_entities_project_registered", ["project", "registered_at"])],
        ),
        (
            "server_launch_plans",
            [
                sa.Column("project", key, primary_key=True),
                sa.Column("name", key, primary_key=True),
                sa.Column("version", key, primary_key=True),
                sa.Column("workflow", key, nullable=False),
                sa.Column("workflow_version", key, nullable=False),
                sa.Column("package", sa.String(64), nullable=False),
                sa.Column("registered_at", sa.Double(), nullable=False),
                sa.Column("spec", sa.Text(), nullable=False),
            ],
            [("ix_server_launch_plans_project_registered", ["project", "registered_at"])],
        ),
        (
            "server_api_keys",
            [
                sa.Column("id", sa.String(32), primary_key=True),
                sa.Column("project", key, nullable=False),
                sa.Column("role", sa.String(20), nullable=False),
                sa.Column("secret_hash", sa.String(64), nullable=False),
                sa.Column("created_at", sa.Double(), nullable=False),
                sa.Column("revoked", sa.Boolean(), nullable=False),
            ],
            [],
        ),
        (
            "server_control",
            [
                sa.Column("execution_id", key, primary_key=True),
                sa.Column("action", sa.String(20), nullable=False),
                sa.Column("reason", sa.Text(), nullable=False),
                sa.Column("requested_at", sa.Double(), nullable=False),
            ],
            [],
        ),
        (
            "server_secrets",
            [
                sa.Column("project", key, primary_key=True),
                sa.Column("name", key, primary_key=True),
                sa.Column("ciphertext", sa.Text(), nullable=False),
                sa.Column("updated_at", sa.Double(), nullable=False),
            ],
            [],
        ),
    ]


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns, indexes in _tables():
        if name in existing:  # made by a server before this revision
            continue
        op.create_table(name, *columns)
        for index, cols in indexes:
            op.create_index(index, name, cols)


def downgrade() -> None:
    for name, _, indexes in reversed(_tables()):
        for index, _cols in indexes:
            op.drop_index(index, table_name=name)
        op.drop_table(name)
