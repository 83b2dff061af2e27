"""Code packages belong to projects: ``server_package_projects`` says which projects uploaded
(or were granted) each package, so one project cannot register code by naming the hash of
another project's package.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Frozen: it spells the table out. Packages already used by a project's registered entities
or launch plans are granted to that project.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "server_package_projects",
        sa.Column("project", sa.String(300), primary_key=True),
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Double(), nullable=False),
    )
    op.execute(
        "INSERT INTO server_package_projects (project, sha256, created_at) "
        "SELECT project, package, MIN(registered_at) FROM ("
        "SELECT project, package, registered_at FROM server_entities UNION ALL "
        "SELECT project, package, registered_at FROM server_launch_plans) used "
        "GROUP BY project, package"
    )


def downgrade() -> None:
    op.drop_table("server_package_projects")
