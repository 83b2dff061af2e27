"""``airfoil models list | show | promote | rollback`` and ``airfoil serve``.

The registry is the local one of the environment's settings (``AIRFOIL_DATABASE_URL`` /
``AIRFOIL_HOME``, ``AIRFOIL_PROJECT``). ``airfoil serve NAME[@ALIAS|:VERSION]`` imports the
file that defined the model (recorded when it was registered, or ``--file``) for its
predictor, and runs the prediction service with uvicorn.
"""

from __future__ import annotations

import json
import os
from typing import Any

import typer

from airfoil.cli._common import handle_errors, out_console, plain, run_label
from airfoil.cli._table import Table
from airfoil.core.errors import ConfigError

__all__ = ["app", "register"]

app = typer.Typer(no_args_is_help=True)


def register(app_: typer.Typer) -> None:
    """Add ``airfoil models ...`` and ``airfoil serve`` to the CLI."""
    app_.add_typer(app, name="models", help="List, inspect, promote and roll back models.")
    app_.command("serve")(serve)


_REMOTE = typer.Option(False, "--remote", help="Use the server's registry (AIRFOIL_SERVER_URL).")
_SERVER = typer.Option(None, "--server", help="Server URL (with --remote).")


def _remote(server: str | None) -> Any:
    from airfoil.client import Artifacts, Client
    from airfoil.settings import AirfoilSettings

    s = AirfoilSettings()
    return Artifacts(Client(server, project=s.project))


def _registry() -> Any:
    from airfoil.ml import local_registry

    return local_registry()


def _names() -> Any:
    """The local project's names of its executions (a version names its training run)."""
    from airfoil.cli._common import runtime
    from airfoil.store.naming import ExecutionNames

    rt = runtime()
    return ExecutionNames(rt.meta, rt.settings.project)


def _version_json(
    v: Any, aliases: dict[str, int] | None = None, names: Any = None
) -> dict[str, Any]:
    """A version as printed; its run named by ``names`` (local) or by the server's answer."""
    if names is not None:
        name, domain = names.shown(v.execution_id), names.domain(v.execution_id)
    else:
        name, domain = v.execution_name, v.execution_domain
    out = {
        "name": v.name,
        "version": v.version,
        "ref": v.ref,
        "kind": v.kind,
        "created_at": v.created_at,
        "content_hash": v.content_hash,
        "execution_id": v.execution_id,
        "execution_name": name,
        "execution_domain": domain,
        "partitions": v.partitions,
        "lineage": v.lineage,
        "metrics": v.metrics,
        "invalid_metrics": v.invalid_metrics,
    }
    if aliases is not None:
        out["aliases"] = sorted(a for a, n in aliases.items() if n == v.version)
    return out


def _metrics_text(v: dict[str, Any]) -> str:
    """A version's metrics; one an older version stored that is not a number (NaN, inf) as
    its text, flagged."""
    shown = [f"{k}={x:.4g}" for k, x in v["metrics"].items()]
    shown += [f"{k}={x} (invalid)" for k, x in v.get("invalid_metrics", {}).items()]
    return ", ".join(shown)


@app.command("list")
@handle_errors
def list_models(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    kind: str | None = typer.Option("model", "--kind", help="Artifact kind (model, data)."),
    remote: bool = _REMOTE,
    server: str | None = _SERVER,
) -> None:
    """The registered models: newest version, aliases and metrics of each."""
    rows = []
    if remote:
        for item in _remote(server).list(kind).items:
            row = item.model_dump(exclude={"uri", "metadata"})
            row["ref"] = f"{item.name}:{item.version}"
            row["aliases"] = {a: item.version for a in item.aliases}
            rows.append(row)
    else:
        reg, names = _registry(), _names()
        for v in reg.artifacts.list_names(reg.project, kind):
            rows.append(_version_json(v, reg.artifacts.aliases(reg.project, v.name), names))
            rows[-1]["aliases"] = {
                a: n for a, n in sorted(reg.artifacts.aliases(reg.project, v.name).items())
            }
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("NAME", "LATEST", "ALIASES", "METRICS")
    for r in rows:
        aliases = ", ".join(f"{a}->{n}" for a, n in r["aliases"].items())
        table.add_row(r["name"], str(r["version"]), aliases, _metrics_text(r))
    out_console.print(table)


@app.command("show")
@handle_errors
def show(
    ref: str = typer.Argument(..., help="NAME, NAME:VERSION or NAME@ALIAS."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str | None = _SERVER,
) -> None:
    """A model's versions (or one version) with lineage, and its aliases' audit trail."""
    from airfoil.ml import parse_ref

    parsed = parse_ref(ref)
    if remote:
        found = _remote(server).detail(parsed.name)
        want = parsed.version
        if parsed.alias is not None:
            if parsed.alias not in found.aliases:
                raise ConfigError(f"{parsed.name!r} has no alias {parsed.alias!r} on the server")
            want = found.aliases[parsed.alias]
        picked = [v for v in found.versions if want is None or v.version == want]
        if not picked:
            raise ConfigError(f"no version {want} of {parsed.name!r} on the server")
        data: dict[str, Any] = {
            "name": parsed.name,
            "aliases": found.aliases,
            "versions": [
                {**v.model_dump(exclude={"uri", "metadata"}), "ref": f"{v.name}:{v.version}"}
                for v in picked
            ],
            "alias_moves": [m.model_dump(exclude={"name"}) for m in found.moves],
        }
    else:
        data = _local_show(parsed)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    from airfoil.settings import AirfoilSettings

    home = AirfoilSettings().domain  # where the CLI looks a run's name up first
    table = Table("VERSION", "ALIASES", "METRICS", "EXECUTION", "DATASET HASH", "HYPERPARAMETERS")
    for v in data["versions"]:
        table.add_row(
            str(v["version"]),
            ", ".join(v["aliases"]),
            _metrics_text(v),
            run_label(
                v.get("execution_name") or v["execution_id"], v.get("execution_domain", ""), home
            ),
            v["lineage"].get("dataset_hash", "")[:12],
            v["lineage"].get("hyperparameters", ""),
        )
    out_console.print(table)
    for m in data["alias_moves"]:
        plain(
            out_console,
            f"#{m['seq']} {m['action']} {m['alias']}: {m['from_version']} -> {m['to_version']}"
            + (f" ({m['reason']})" if m["reason"] else ""),
        )


def _local_show(parsed: Any) -> dict[str, Any]:
    reg = _registry()
    aliases = reg.artifacts.aliases(reg.project, parsed.name)
    if parsed.version is None and parsed.alias is None:
        versions = reg.artifacts.list_versions(reg.project, parsed.name)
        if not versions:
            reg.resolve(parsed)  # raises the not-found error
    else:
        versions = [reg.resolve(parsed)]
    moves = reg.artifacts.alias_moves(reg.project, parsed.name)
    return {
        "name": parsed.name,
        "aliases": aliases,
        "versions": [_version_json(v, aliases, _names()) for v in versions],
        "alias_moves": [
            {
                "seq": m.seq,
                "alias": m.alias,
                "action": m.action,
                "from_version": m.from_version,
                "to_version": m.to_version,
                "at": m.at,
                "actor": m.actor,
                "reason": m.reason,
            }
            for m in moves
        ],
    }


def _move_json(m: Any) -> str:
    return json.dumps(
        {
            "name": m.name,
            "alias": m.alias,
            "action": m.action,
            "seq": m.seq,
            "from_version": m.from_version,
            "to_version": m.to_version,
        }
    )


@app.command("promote")
@handle_errors
def promote(
    ref: str = typer.Argument(..., help="NAME:VERSION (or NAME@OTHER_ALIAS) to promote."),
    alias: str = typer.Argument(..., help="The alias to point at it (production, staging)."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the audit trail)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str | None = _SERVER,
) -> None:
    """Point an alias at a version (recorded in the audit trail)."""
    if remote:
        from airfoil.ml import parse_ref

        parsed = parse_ref(ref)
        if parsed.version is None:
            raise ConfigError(f"with --remote, promote NAME:VERSION (got {ref!r})")
        move: Any = _remote(server).promote(parsed.name, parsed.version, alias, reason)
    else:
        move = _registry().promote(ref, alias, actor=os.environ.get("USER", ""), reason=reason)
    if as_json:
        typer.echo(_move_json(move))
    else:
        plain(out_console, f"{move.name}@{alias}: {move.from_version} -> {move.to_version}")


@app.command("rollback")
@handle_errors
def rollback(
    name: str = typer.Argument(..., help="The model's name."),
    alias: str = typer.Argument(..., help="The alias to move back."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the audit trail)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
    server: str | None = _SERVER,
) -> None:
    """Move an alias back to the version it pointed at before its newest move."""
    if remote:
        from airfoil.ml._registry import rollback_name

        move: Any = _remote(server).rollback(rollback_name(name, alias), alias, reason)
    else:
        move = _registry().rollback(name, alias, actor=os.environ.get("USER", ""), reason=reason)
    if as_json:
        typer.echo(_move_json(move))
    else:
        plain(out_console, f"{move.name}@{alias}: {move.from_version} -> {move.to_version}")


@handle_errors
def serve(
    ref: str = typer.Argument(..., help="NAME@ALIAS (follows the alias), NAME:VERSION or NAME."),
    file: str | None = typer.Option(None, "--file", help="The file defining the model."),
    host: str = typer.Option("127.0.0.1", "--host", help="The interface to listen on."),
    port: int = typer.Option(8080, "--port", help="The port."),
    poll: float = typer.Option(0.5, "--poll", min=0.05, help="Seconds between alias checks."),
    sample_rate: float = typer.Option(
        0.01, "--sample-rate", min=0.0, max=1.0, help="Share of requests logged."
    ),
    allowed_host: list[str] = typer.Option(
        [],
        "--allowed-host",
        help="A name the service answers under while it has no key, besides localhost and "
        "IP addresses (DNS-rebinding defence): NAME, .example.com (it and its subdomains) or "
        "* (any); repeatable; also AIRFOIL_ALLOWED_HOSTS (comma-separated).",
    ),
    predict_timeout: float = typer.Option(
        60.0,
        "--predict-timeout",
        min=0.001,
        help="Seconds a /predict request waits for the predictor before it is a 504 (a "
        "prediction running longer makes /health a 503 'stuck').",
    ),
) -> None:
    """Serve a registered model over HTTP (POST /predict, /health, /metadata, /metrics,
    /drift); an alias is followed: moving it swaps the version served. With
    AIRFOIL_MODEL_KEY set, every route but /health needs that key (Authorization: Bearer);
    without, only requests addressed to localhost, an IP address or an allowed host."""
    from airfoil.ml._service_process import serve_model

    serve_model(
        ref,
        file=file,
        host=host,
        port=port,
        poll_s=poll,
        sample_rate=sample_rate,
        announce=lambda line: plain(out_console, line),
        allowed_hosts=tuple(allowed_host),
        predict_timeout_s=predict_timeout,
    )
