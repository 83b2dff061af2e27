"""``airfoil deploy NAME@ALIAS --replicas N [--cpus C --gpus G --memory M --predict-timeout
S]``, ``airfoil deploy list``, ``airfoil deploy stop NAME``, ``airfoil deploy drift NAME``,
``airfoil deploy key NAME`` (the key that calls its replicas: a runner's): model services the
server supervises (restarted on a crash, rolled to the new version when the alias moves). The
server is ``--server`` or ``AIRFOIL_SERVER_URL``, the project ``AIRFOIL_PROJECT``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import typer

from airfoil.cli._common import handle_errors, out_console, plain
from airfoil.cli._table import Table
from airfoil.core.errors import ConfigError

__all__ = ["register"]


def register(app_: typer.Typer) -> None:
    """Add ``airfoil deploy`` to the CLI."""
    app_.command("deploy")(deploy)


def _deployments(server: str | None) -> Any:
    from airfoil.client import Client, Deployments
    from airfoil.settings import AirfoilSettings

    return Deployments(Client(server, project=AirfoilSettings().project))


def _show(items: list[Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in items], indent=2))
        return
    table = Table(
        "NAME", "REF", "ON", "STATUS", "REPLICAS", "EACH", "TIMEOUT", "VERSIONS", "RESTARTS", "URLS"
    )
    for d in items:
        ready = sum(1 for r in d.members if r.status == "ready")
        versions = sorted({str(r.version) for r in d.members if r.version is not None})
        table.add_row(
            d.name,
            d.ref,
            d.on,
            d.status + (f" ({d.message})" if d.message else ""),
            f"{ready}/{d.replicas} ready",
            _each(d.resources),
            f"{d.predict_timeout:g} s",
            ", ".join(versions),
            str(sum(r.restarts for r in d.members)),
            " ".join(dict.fromkeys(r.url for r in d.members)),
        )
    out_console.print(table)
    replicas = Table("DEPLOYMENT", "#", "STATUS", "VERSION", "RESTARTS", "LAST EXIT", "CPUS", "PID")
    for d in items:
        for r in d.members:
            replicas.add_row(
                d.name,
                str(r.index),
                r.status,
                "-" if r.version is None else str(r.version),
                str(r.restarts),
                last_exit(r.exit_reason, r.last_exit),
                ",".join(map(str, r.cpus)) or "-",
                "-" if r.pid is None else str(r.pid),
            )
    if replicas.row_count:
        out_console.print(replicas)


#: A feature whose serving mean moved more than this many training standard deviations is
#: flagged, as the console's drift table does.
DRIFTED_SHIFT = 1.0


def _show_drift(d: Any, as_json: bool) -> None:
    """A deployment's drift: the rows served (pooled over its replicas, kept across restarts)
    and, per feature, the training and serving statistics and the mean's shift."""
    if as_json:
        typer.echo(json.dumps(d.model_dump(mode="json"), indent=2))
        return
    version = "-" if d.version is None else str(d.version)
    replicas = f"{d.replicas} replica" + ("" if d.replicas == 1 else "s")
    plain(out_console, f"{d.name}: {d.rows} rows served by {replicas} of version {version}")
    if not d.features:
        return
    table = Table("FEATURE", "TRAINING", "SERVING", "MISSING", "SHIFT (STD)", "")
    for feature, f in d.features.items():
        t, s = f["training"], f["serving"]
        # None: the feature was constant in training and is not now (no finite shift)
        raw = f["mean_shift_in_std"]
        shift = math.inf if raw is None else float(raw)
        table.add_row(
            feature,
            f"{t['mean']:.4g} ± {t['std']:.4g}",
            f"{s['mean']:.4g} ± {s['std']:.4g}" if d.rows else "-",
            f"{s['missing_rate']:.1%}" if d.rows else "-",
            "∞" if math.isinf(shift) else f"{shift:.2f}",
            "drifted" if shift > DRIFTED_SHIFT else "",
        )
    out_console.print(table)


def _show_key(k: Any, as_json: bool) -> None:
    """A deployment's key alone on stdout (for ``$(airfoil deploy key NAME)``); with none
    needed, nothing there and why on stderr."""
    if as_json:
        typer.echo(json.dumps(k.model_dump(mode="json"), indent=2))
    elif k.key is not None:
        typer.echo(k.key)
    else:
        urls = " ".join(k.urls) or "its replicas"
        typer.echo(
            f"{k.name}'s replicas take no key (this server has no API keys and no "
            f"AIRFOIL_MODEL_KEY): call {urls} on this machine without one",
            err=True,
        )


def _deployment_name(text: str, verb: str) -> str:
    """The deployment ``text`` names for ``airfoil deploy VERB``: a model's name.

    Raises:
        ConfigError: ``text`` is a reference (``digits@production``, ``digits:3``), which
            the server answered as "no deployment 'digits@production'".
    """
    from airfoil.ml._registry import name_only

    return name_only(
        text, "a deployment is named by its model", lambda name: f"airfoil deploy {verb} {name}"
    )


def last_exit(reason: str, code: int | None) -> str:
    """Why a replica's last run ended: the supervisor's reason (e.g. out of memory), else its
    exit status or signal; ``-`` when it has not ended."""
    if reason:
        return reason
    if code is None:
        return "-"
    return f"killed by signal {-code}" if code < 0 else f"exited with status {code}"


def _each(r: Any) -> str:
    """What each replica reserves (``-``: nothing asked)."""
    if r is None:
        return "-"
    mem = f" mem={r.mem / 2**20:.0f}Mi" if r.mem else ""
    return f"cpu={r.cpu:g}{mem}" + (f" gpu={r.gpu}" if r.gpu else "")


@handle_errors
def deploy(
    target: str = typer.Argument(
        ...,
        help="NAME@ALIAS (follows the alias), NAME:VERSION or NAME; or list, stop, drift or key.",
    ),
    name: str | None = typer.Argument(
        None, help="With stop: the deployment to stop; with drift or key: the one to read."
    ),
    replicas: int = typer.Option(1, "--replicas", min=1, max=32, help="Service processes."),
    file: str = typer.Option(
        "", "--file", help="The file defining the model, on the server's machine."
    ),
    on: str | None = typer.Option(
        None,
        "--on",
        help="Where the replicas run: process (supervised airfoil serve processes) or ray (a "
        "Ray Serve application). Default: ray on a server started with --executor ray.",
    ),
    cpus: float | None = typer.Option(
        None, "--cpus", help="CPUs each replica reserves (1 when only --gpus/--memory)."
    ),
    gpus: int | None = typer.Option(None, "--gpus", min=0, help="GPUs each replica gets."),
    memory: str | None = typer.Option(
        None, "--memory", help="Memory each replica reserves: bytes or 512Mi, 2Gi..."
    ),
    predict_timeout: float | None = typer.Option(
        None,
        "--predict-timeout",
        min=0.001,
        max=86400,
        help="Seconds each replica's /predict waits for the predictor before it is a 504 (a "
        "prediction running longer makes the replica stuck: the server restarts it). Default: "
        "60, or the deployment's when deployed again.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    server: str | None = typer.Option(None, "--server", help="Server URL (AIRFOIL_SERVER_URL)."),
) -> None:
    """Make the server run a model's prediction service as N supervised processes or Ray
    Serve replicas (`airfoil deploy list`, `airfoil deploy stop NAME`, `airfoil deploy drift
    NAME`: the rows served and each feature's shift from its training data; `airfoil deploy
    key NAME`: the key its replicas take, printed alone for `$(...)`, a runner's to read)."""
    client = _deployments(server)
    if target == "list" and name is None:
        _show(client.list().items, as_json)
        return
    if target == "drift":
        if name is None:
            raise ConfigError("airfoil deploy drift NAME: name the deployment to read")
        _show_drift(client.drift(_deployment_name(name, "drift")), as_json)
        return
    if target == "key":
        if name is None:
            raise ConfigError("airfoil deploy key NAME: name the deployment")
        _show_key(client.key(_deployment_name(name, "key")), as_json)
        return
    if target == "stop":
        if name is None:
            raise ConfigError("airfoil deploy stop NAME: name the deployment to stop")
        stopped = client.stop(_deployment_name(name, "stop"))
        if as_json:
            typer.echo(json.dumps(stopped.model_dump(mode="json"), indent=2))
        else:
            plain(out_console, f"stopped {stopped.name} ({len(stopped.members)} processes)")
        return
    if name is not None:
        raise ConfigError(f"unexpected argument {name!r}: airfoil deploy NAME@ALIAS --replicas N")
    if on not in (None, "process", "ray"):
        raise ConfigError(f"invalid --on {on!r}: use process or ray")
    if file and os.path.isfile(file):
        file = os.path.abspath(file)  # the server resolves it, from another directory
    if cpus is not None and cpus <= 0:
        raise ConfigError(f"invalid --cpus {cpus:g}: give a number of CPUs above 0 (0.5, 2...)")
    if memory is not None:
        from airfoil.core.resources import parse_memory

        parse_memory(memory)  # a ConfigError naming the value before anything is sent
    deployed = client.deploy(  # type: ignore[misc]
        target,
        replicas,
        file,
        on,  # type: ignore[arg-type]
        cpus=cpus,
        gpus=gpus,
        memory=memory,
        predict_timeout=predict_timeout,
    )
    if as_json:
        typer.echo(json.dumps(deployed.model_dump(mode="json"), indent=2))
        return
    plain(
        out_console,
        f"deployed {deployed.ref}: {deployed.replicas} replicas on "
        + ("Ray Serve at " if deployed.on == "ray" else "")
        + " ".join(dict.fromkeys(r.url for r in deployed.members)),
    )
