"""An execution's workflow spec in a table of its own, ``execution_specs``, out of its
``record``: the row that every batch of the execution rewrites no longer carries the spec
(a chain of 100: 47 KB), which is written once, at the launch.

Moves each existing row's spec: its record's ``spec`` goes to ``execution_specs`` and the
record is written again without it (the same JSON otherwise: keys in order, as the store's
encoder writes them). A record read by the new code with no spec row and a spec of its own
still decodes (``_records``), so a row this revision did not reach stays readable. A record
that does not decode (not JSON, or not an object) is left as it was, unreadable as before
(readers report it by its id), rather than failing the upgrade and the server's start.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

Frozen: it spells the table out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.String().with_variant(sa.String(collation="C"), "postgresql")
_BATCH = 500


def upgrade() -> None:
    op.create_table(
        "execution_specs",
        sa.Column("execution_id", _KEY, primary_key=True),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_execution_specs_execution_id",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("execution_id", name="pk_execution_specs"),
    )
    _move_specs(op.get_bind())


def _move_specs(conn: sa.Connection) -> None:
    """Each execution's spec out of its record, a batch of rows at a time (by id)."""
    ex = sa.table("executions", sa.column("id"), sa.column("record"))
    specs = sa.table("execution_specs", sa.column("execution_id"), sa.column("spec"))
    after = ""
    while True:
        rows = conn.execute(
            sa.select(ex.c.id, ex.c.record).where(ex.c.id > after).order_by(ex.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        moved, rewritten = [], []
        for eid, record in rows:
            data = _object(record)
            spec = None if data is None else data.pop("spec", None)
            if data is None or spec is None:
                continue
            moved.append(
                {
                    "execution_id": eid,
                    "spec": json.dumps(spec, separators=(",", ":"), ensure_ascii=False),
                }
            )
            rewritten.append(
                {"eid": eid, "record": json.dumps(data, separators=(",", ":"), ensure_ascii=False)}
            )
        if moved:
            conn.execute(sa.insert(specs), moved)
            _rewrite(conn, rewritten)
        after = rows[-1][0]


def _rewrite(conn: sa.Connection, records: list[dict[str, str]]) -> None:
    """Each ``{"eid", "record"}``'s execution row given that record."""
    ex = sa.table("executions", sa.column("id"), sa.column("record"))
    update = sa.update(ex).where(ex.c.id == sa.bindparam("eid"))
    conn.execute(update.values(record=sa.bindparam("record")), records)


def _object(record: str) -> dict[str, object] | None:
    """``record``'s JSON object; None where it is not one (a record that does not decode)."""
    try:
        data = json.loads(record)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _with_spec(eid: str, record: str, spec: str) -> dict[str, str] | None:
    """The update putting ``spec`` back into ``record``, after its ``phase``; None where
    either does not decode (the row is unreadable either way: left as it is)."""
    data = _object(record)
    try:
        spec_data = json.loads(spec)
    except ValueError:
        data = None
    if data is None:
        return None
    out: dict[str, object] = {}
    for key, value in data.items():
        out[key] = value
        if key == "phase":
            out["spec"] = spec_data
    out.setdefault("spec", spec_data)  # a record without a phase: still its spec
    return {"eid": eid, "record": json.dumps(out, separators=(",", ":"), ensure_ascii=False)}


def downgrade() -> None:
    """Each spec back into its record, a batch of rows at a time (by id), as the upgrade
    moved them (all at once, a big database's specs were held in memory together)."""
    conn = op.get_bind()
    ex = sa.table("executions", sa.column("id"), sa.column("record"))
    specs = sa.table("execution_specs", sa.column("execution_id"), sa.column("spec"))
    after = ""
    while True:
        rows = conn.execute(
            sa.select(ex.c.id, ex.c.record, specs.c.spec)
            .join(specs, specs.c.execution_id == ex.c.id)
            .where(ex.c.id > after)
            .order_by(ex.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        rewritten = [r for r in (_with_spec(*row) for row in rows) if r is not None]
        if rewritten:
            _rewrite(conn, rewritten)
        after = rows[-1][0]
    op.drop_table("execution_specs")
