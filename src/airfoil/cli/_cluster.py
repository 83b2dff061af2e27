"""``airfoil nodes`` and ``airfoil queue``: the cluster and its admission queue.

Both read the queue snapshots that admitting processes (local runs, a server's drivers)
write to the store: what each placed on which node, what waits, in queue order, and why.
``airfoil nodes --executor ray --ray-address ADDR`` also reads the cluster's live node list
from Ray (nodes that joined show before anything ran on them; nodes that left show dead);
``--remote`` asks a server (``GET /api/v1/cluster``), which reads its own cluster.
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.text import Text

from airfoil.cli._common import err_console, fail, handle_errors, out_console, run_label, runtime
from airfoil.cli._table import Table

__all__ = ["register"]

_REMOTE = typer.Option(False, "--remote", help="On the server (--server or AIRFOIL_SERVER_URL).")
_SERVER = typer.Option(None, "--server", help="Server URL (implies --remote).")
_JSON = typer.Option(False, "--json", help="Print JSON.")


def register(app: typer.Typer) -> None:
    """Add ``airfoil nodes`` and ``airfoil queue`` to the CLI."""
    app.command("nodes")(nodes)
    app.command("queue")(queue)


def _mem(n: float) -> str:
    for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def _view(remote: bool, server: str | None, executor: str | None, address: str | None) -> Any:
    """The cluster as the API describes it (:class:`~airfoil.wire.ClusterOut`)."""
    if remote or server:
        from airfoil.cli._remote import _client

        with _client(server, None) as client:
            return client.cluster()
    from airfoil.engine._drive_support import holder_is_dead
    from airfoil.engine.cluster_view import cluster_view
    from airfoil.server._auth import Principal
    from airfoil.server._cluster import to_wire

    rt = runtime(executor=executor, ray_address=address)
    live = None
    if rt.settings.executor == "ray":
        if not rt.settings.ray_address:
            fail(
                "give --ray-address (AIRFOIL_RAY_ADDRESS): without one a local Ray would be "
                "started only to be listed"
            )
        live = rt.cluster_nodes()
    snapshots = []
    for snap in rt.meta.list_queue_snapshots():
        if holder_is_dead(snap.owner):
            rt.meta.delete_queue_snapshot(snap.owner)
            continue
        snapshots.append(snap)
    everyone = Principal(key_id="local", project="*", role="admin", open_mode=True)
    return to_wire(cluster_view(snapshots, live), everyone, rt.meta)


@handle_errors
def nodes(
    as_json: bool = _JSON,
    executor: str = typer.Option(
        None, "--executor", "-e", help="Read the live nodes of this executor's cluster (ray)."
    ),
    ray_address: str = typer.Option(
        None, "--ray-address", help="The Ray cluster (host:port, ray://host:10001, auto)."
    ),
    remote: bool = _REMOTE,
    server: str = _SERVER,
) -> None:
    """Show the cluster's nodes: alive, capacity, what Airfoil's attempts hold, what runs
    where."""
    view = _view(remote, server, executor, ray_address)
    if as_json:
        typer.echo(json.dumps([n.model_dump() for n in view.nodes]))
        return
    if not view.nodes:
        err_console.print(
            "no nodes known: nothing admits attempts now (give --executor ray --ray-address "
            "ADDR to read a Ray cluster's nodes)"
        )
        return
    table = Table("node", "address", "alive", "cpu", "mem", "gpu", "other", "running")
    for n in view.nodes:
        name = n.name if n.machine else n.name[:12]
        if n.head:
            name += " (head)"
        running = ", ".join(n.running[:3]) + (
            f" +{len(n.running) - 3}" if len(n.running) > 3 else ""
        )
        if n.hidden:
            running += f" ({n.hidden} of other projects)"
        table.add_row(
            name,
            n.address,
            "yes" if n.alive else Text("no", style="red"),
            f"{n.used_cpu:g}/{n.cpu:g}",
            f"{_mem(n.used_mem)}/{_mem(n.mem)}",
            f"{n.used_gpu}/{n.gpu}",
            " ".join(f"{k}={v:g}" for k, v in sorted(n.custom.items())),
            running or "-",
        )
    out_console.print(table)
    if not view.live:
        err_console.print("(as admitting processes last reported; --executor ray reads Ray)")


@handle_errors
def queue(as_json: bool = _JSON, remote: bool = _REMOTE, server: str = _SERVER) -> None:
    """Show what waits for resources (in queue order, and why) and what runs (and where)."""
    view = _view(remote, server, None, None)
    rows = [q.model_dump() for q in view.queue]
    if as_json:
        out_console.print_json(json.dumps(rows))
        return
    if not rows:
        err_console.print("nothing waits or runs under the scheduler")
        return
    from airfoil.settings import AirfoilSettings

    home = AirfoilSettings().domain  # where the CLI looks a run's name up first
    where_of = {n.name: n.address or n.name[:12] for n in view.nodes}
    now = time.time()
    table = Table("state", "project", "execution", "node", "task", "asks", "waited", "why / where")
    for r in rows:
        asks = f"cpu={r['cpu']:g} mem={_mem(r['mem'])} gpu={r['gpu']}"
        if r["workers"] > 1:
            asks = f"{r['workers']} x ({asks})"
        if r["state"] == "waiting":
            where = r["reason"]
        elif r["placement"]:
            where = "on " + ", ".join(where_of.get(p, p[:12]) for p in r["placement"])
        elif r["gpus"]:
            where = f"GPUs {','.join(r['gpus'])}"
        else:
            where = f"on {r['owner'].split(':')[0]}"  # a process admitting on its machine
        table.add_row(
            r["state"],
            r["project"],
            run_label(
                r.get("execution_name") or r["execution_id"], r.get("execution_domain", ""), home
            ),
            r["node_id"],
            r["task"],
            asks,
            f"{max(0.0, now - r['submit_time']):.0f}s",
            where,
        )
    out_console.print(table)
