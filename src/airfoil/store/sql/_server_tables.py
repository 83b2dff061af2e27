"""The server's tables (``server_*``), beside the metadata store's in the same database.

They are part of the store's Alembic schema (revision 0004 on) and live here, in the store
layer, so a new database can be created from the table definitions in one step (see
:mod:`airfoil.store.sql._create`); the registry store and the server's modules use them.
These objects mirror the newest revision (a test compares them with a migrated database).
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "KEY",
    "api_keys",
    "artifact_aliases",
    "artifact_moves",
    "artifact_versions",
    "control",
    "deployment_epochs",
    "deployments",
    "entities",
    "launch_plans",
    "meta",
    "package_projects",
    "packages",
    "projects",
    "secrets_table",
]

#: The server tables' metadata (the store's own tables are in ``_schema.metadata``); primary
#: keys are named as the revisions name them.
meta = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
#: A key column of the server tables.
KEY = sa.String(300)

projects = sa.Table(
    "server_projects",
    meta,
    sa.Column("name", KEY, primary_key=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.Double, nullable=False),
)
packages = sa.Table(
    "server_packages",
    meta,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)
entities = sa.Table(
    "server_entities",
    meta,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("version", KEY, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("package", sa.String(64), nullable=False),
    sa.Column("registered_at", sa.Double, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Index("ix_server_entities_project_registered", "project", "registered_at"),
)
launch_plans = sa.Table(
    "server_launch_plans",
    meta,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("version", KEY, primary_key=True),
    sa.Column("workflow", KEY, nullable=False),
    sa.Column("workflow_version", KEY, nullable=False),
    sa.Column("package", sa.String(64), nullable=False),
    sa.Column("registered_at", sa.Double, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Index("ix_server_launch_plans_project_registered", "project", "registered_at"),
)
api_keys = sa.Table(
    "server_api_keys",
    meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", KEY, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)
#: Terminate requests before the control inbox (revision 0005): kept in the schema so older
#: databases keep their table; nothing reads or writes it any more.
control = sa.Table(
    "server_control",
    meta,
    sa.Column("execution_id", KEY, primary_key=True),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_at", sa.Double, nullable=False),
)
secrets_table = sa.Table(
    "server_secrets",
    meta,
    sa.Column("project", sa.String(300), primary_key=True),
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
package_projects = sa.Table(
    "server_package_projects",
    meta,
    sa.Column("project", sa.String(300), primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Double, nullable=False),
)
#: Artifact versions, aliases and the aliases' audit trail (revision 0009; see
#: :mod:`airfoil.store.artifacts`): the whole record is JSON in ``record``.
artifact_versions = sa.Table(
    "server_artifact_versions",
    meta,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("partitions", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Index("ix_server_artifact_versions_hash", "project", "name", "content_hash"),
)
artifact_aliases = sa.Table(
    "server_artifact_aliases",
    meta,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("alias", KEY, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
artifact_moves = sa.Table(
    "server_artifact_moves",
    meta,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("alias", KEY, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)
#: Deployments the server supervises (revision 0010; see :mod:`airfoil.store.deployments`):
#: the whole record, replicas included, is JSON in ``record``; ``owner`` and ``lease_until``
#: say which server runs its processes (claimed atomically, see ``claim_deployment``);
#: ``epoch`` (revision 0016) goes up at every acquisition and fences the holder's writes.
deployments = sa.Table(
    "server_deployments",
    meta,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("owner", KEY, nullable=False, default=""),
    sa.Column("lease_until", sa.Double, nullable=False, default=0.0),
    sa.Column("epoch", sa.Integer, nullable=False, default=0, server_default="0"),
)
#: The lease epoch each stopped deployment had (revision 0017): a name deployed again starts
#: from it, so a lease's epoch never repeats for a name (a pass from before the stop stays
#: fenced). Written when a deployment's row is deleted; kept after it is deployed again.
deployment_epochs = sa.Table(
    "server_deployment_epochs",
    meta,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("epoch", sa.Integer, nullable=False),
)
#: The admission authority of each cluster (revision 0013; see :mod:`airfoil.store.admission`):
#: one holder at a time, until ``lease_until``; ``epoch`` goes up at each takeover and fences
#: the holder's grants.
admission_authority = sa.Table(
    "server_admission_authority",
    meta,
    sa.Column("cluster", KEY, primary_key=True),
    sa.Column("holder", KEY, nullable=False),
    sa.Column("lease_until", sa.Double, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
)
#: Every replica's admission requests on a cluster (revision 0013): the work item is JSON in
#: ``item``; ``state``, ``placement`` and ``gpus`` (JSON lists) are the holder's decision.
admission_requests = sa.Table(
    "server_admission_requests",
    meta,
    sa.Column("cluster", KEY, primary_key=True),
    sa.Column("item_id", KEY, primary_key=True),
    sa.Column("owner", KEY, nullable=False),
    sa.Column("ticket", KEY, nullable=False),
    sa.Column("task", KEY, nullable=False),
    sa.Column("submit_time", sa.Double, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("item", sa.Text, nullable=False),
    sa.Column("placement", sa.Text, nullable=False),
    sa.Column("gpus", sa.Text, nullable=False),
    sa.Column("granted_at", sa.Double, nullable=False),
    sa.Column("alive_until", sa.Double, nullable=False),
)
