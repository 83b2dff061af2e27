"""Named cache scopes get members: ``cache_scopes`` declares a scope (what a task's
``cache_scope=`` names) and ``cache_scope_members`` says which projects (or ``*``) may read or
write it. Before, any project naming a scope read and wrote its entries.

No rows are written: a database upgraded to 0020 has no declared scope, so local runs keep
using their scopes as before (an undeclared scope is open there) while a server refuses an
undeclared scope until an admin declares it and grants its projects.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

Frozen: it spells the tables out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.String().with_variant(sa.String(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cache_scopes",
        sa.Column("name", _KEY, primary_key=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_cache_scopes"),
    )
    op.create_table(
        "cache_scope_members",
        sa.Column("scope", _KEY, primary_key=True),
        sa.Column("project", _KEY, primary_key=True),
        sa.Column("access", sa.String(10), nullable=False),
        sa.Column("granted_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "project", name="pk_cache_scope_members"),
    )


def downgrade() -> None:
    op.drop_table("cache_scope_members")
    op.drop_table("cache_scopes")
