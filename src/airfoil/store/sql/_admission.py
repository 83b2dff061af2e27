"""The admission authority in SQL: the ``server_admission_*`` tables (revision 0013) beside the
metadata store's, on SQLite or PostgreSQL (see :mod:`airfoil.store.admission`).

Invariants: every call is its own short transaction. A lease is taken or renewed by one
conditional UPDATE (or the first INSERT; the loser of two first inserts reads the winner's
row), so two claimers never both hold it. :meth:`SqlAdmissionStore.grant` locks the lease row
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write lock is database-wide) and checks the
holder and epoch before writing, so a takeover waits for an old holder's grant transaction to
end and an old holder's late grant writes nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from airfoil.core.errors import StoreError
from airfoil.store.admission import (
    AdmissionRow,
    AdmissionStore,
    AuthorityLease,
    Grant,
    Preemption,
)
from airfoil.store.sql._guard import at_head, guarded_connection, masked_url, store_engine
from airfoil.store.sql._migrate import migrate
from airfoil.store.sql._server_tables import admission_authority, admission_requests

__all__ = ["SqlAdmissionStore"]

_A = admission_authority.c
_R = admission_requests.c


def _lease(row: Any) -> AuthorityLease:
    return AuthorityLease(str(row[0]), str(row[1]), float(row[2]), int(row[3]))


def _row(r: Any) -> AdmissionRow:
    return AdmissionRow(
        item_id=r.item_id,
        owner=r.owner,
        ticket=r.ticket,
        item=r.item,
        task=r.task,
        submit_time=float(r.submit_time),
        state=r.state,
        placement=tuple(json.loads(r.placement)),
        gpus=tuple(json.loads(r.gpus)),
        granted_at=float(r.granted_at),
        alive_until=float(r.alive_until),
    )


class SqlAdmissionStore(AdmissionStore):
    """An :class:`AdmissionStore` in a SQL database.

    Args:
        url: the database URL (the metadata store's).

    Raises:
        StoreError: the database cannot be reached or migrated.
    """

    def __init__(self, url: str) -> None:
        self.engine = store_engine(url, pool_size=3, max_overflow=5)
        try:
            if not at_head(self.engine):
                migrate(url)
        except StoreError as exc:
            self.engine.dispose()
            raise StoreError(
                f"cannot open the admission tables at {masked_url(self.engine.url)}: {exc}"
            ) from exc

    def close(self) -> None:
        self.engine.dispose()

    def _connect(self, write: bool = False) -> contextlib.AbstractContextManager[sa.Connection]:
        return guarded_connection(self.engine, "the admission tables", write=write)

    def claim_authority(
        self, cluster: str, holder: str, now: float, ttl_s: float
    ) -> AuthorityLease:
        until = now + ttl_s
        for _ in range(3):  # a lost race for the first insert reads the winner's row
            try:
                with self._connect(write=True) as conn:
                    renewed = conn.execute(
                        admission_authority.update()
                        .where(_A.cluster == cluster, _A.holder == holder)
                        .values(lease_until=until)
                    ).rowcount
                    if not renewed:
                        conn.execute(
                            admission_authority.update()
                            .where(_A.cluster == cluster, _A.lease_until <= now)
                            .values(holder=holder, lease_until=until, epoch=_A.epoch + 1)
                        )
                    found = conn.execute(
                        sa.select(_A.cluster, _A.holder, _A.lease_until, _A.epoch).where(
                            _A.cluster == cluster
                        )
                    ).first()
                    if found is None:
                        conn.execute(
                            admission_authority.insert().values(
                                cluster=cluster, holder=holder, lease_until=until, epoch=1
                            )
                        )
                        return AuthorityLease(cluster, holder, until, 1)
                    return _lease(found)
            except sa.exc.IntegrityError:
                continue
        raise StoreError(f"claiming the admission authority of {cluster!r} kept losing races")

    def authority(self, cluster: str) -> AuthorityLease | None:
        with self._connect() as conn:
            found = conn.execute(
                sa.select(_A.cluster, _A.holder, _A.lease_until, _A.epoch).where(
                    _A.cluster == cluster
                )
            ).first()
        return None if found is None else _lease(found)

    def release_authority(self, cluster: str, holder: str) -> None:
        with self._connect(write=True) as conn:
            conn.execute(
                admission_authority.update()
                .where(_A.cluster == cluster, _A.holder == holder)
                .values(lease_until=0.0)
            )

    def put_request(self, cluster: str, row: AdmissionRow) -> None:
        values = {
            "owner": row.owner,
            "item": row.item,
            "task": row.task,
            "state": "waiting",
            "placement": "[]",
            "gpus": "[]",
            "granted_at": 0.0,
            "alive_until": row.alive_until,
        }
        for _ in range(3):  # two first inserts of one item: the loser updates
            try:
                with self._connect(write=True) as conn:
                    key = (_R.cluster == cluster) & (_R.item_id == row.item_id)
                    again = conn.execute(
                        admission_requests.update()
                        .where(key, _R.ticket == row.ticket)
                        .values(**values)
                    ).rowcount
                    if again:
                        return
                    conn.execute(admission_requests.delete().where(key))
                    values.update(
                        state=row.state,
                        placement=json.dumps(list(row.placement)),
                        gpus=json.dumps(list(row.gpus)),
                        granted_at=row.granted_at,
                    )
                    conn.execute(
                        admission_requests.insert().values(
                            cluster=cluster,
                            item_id=row.item_id,
                            ticket=row.ticket,
                            submit_time=row.submit_time,
                            **values,
                        )
                    )
                    return
            except sa.exc.IntegrityError:
                continue
        raise StoreError(f"queueing admission request {row.item_id!r} kept losing races")

    def delete_requests(self, cluster: str, keys: Sequence[tuple[str, str]]) -> None:
        if not keys:
            return
        with self._connect(write=True) as conn:
            for item_id, ticket in keys:
                conn.execute(
                    admission_requests.delete().where(
                        _R.cluster == cluster, _R.item_id == item_id, _R.ticket == ticket
                    )
                )

    def requests(self, cluster: str, owner: str | None = None) -> list[AdmissionRow]:
        query = sa.select(admission_requests).where(_R.cluster == cluster)
        if owner is not None:
            query = query.where(_R.owner == owner)
        with self._connect() as conn:
            rows = conn.execute(query.order_by(_R.submit_time, _R.item_id)).all()
        return [_row(r) for r in rows]

    def renew_requests(self, cluster: str, owner: str, alive_until: float) -> None:
        with self._connect(write=True) as conn:
            conn.execute(
                admission_requests.update()
                .where(_R.cluster == cluster, _R.owner == owner)
                .values(alive_until=alive_until)
            )

    def grant(
        self,
        cluster: str,
        holder: str,
        epoch: int,
        now: float,
        grants: Sequence[Grant],
        preemptions: Sequence[Preemption],
    ) -> bool:
        with self._connect(write=True) as conn:
            held = conn.execute(
                sa.select(_A.epoch)
                .where(_A.cluster == cluster, _A.holder == holder, _A.epoch == epoch)
                .where(_A.lease_until > now)
                .with_for_update()
            ).first()
            if held is None:
                return False
            for g in grants:
                conn.execute(
                    admission_requests.update()
                    .where(_R.cluster == cluster, _R.item_id == g.item_id)
                    .where(_R.ticket == g.ticket, _R.state == "waiting")
                    .values(
                        state="running",
                        placement=json.dumps(list(g.placement)),
                        gpus=json.dumps(list(g.gpus)),
                        granted_at=now,
                    )
                )
            for p in preemptions:
                conn.execute(
                    admission_requests.update()
                    .where(_R.cluster == cluster, _R.item_id == p.item_id)
                    .where(_R.ticket == p.ticket, _R.state == "running")
                    .values(state="preempted", item=p.item, placement="[]", gpus="[]")
                )
            return True
