// The models page: the project's registered models (artifacts of kind "model"), and for one
// model its versions with their metrics side by side, each version's lineage (dataset hash ->
// training run -> version -> aliases), the aliases' audit trail, and promote / roll back
// buttons that call the registry API (the server checks the runner role, as for the CLI).
// A model deployed with `airfoil deploy` shows its replicas (status, version, restarts) and
// the drift of the rows they served: each feature's mean, std and missing rate beside the
// training data's, and the mean's shift in training standard deviations.
import { useState } from "preact/hooks";
import type { S } from "./api";
import { enc, get, post, runPath } from "./api";
import { Link, Problem } from "./components";
import { fmtTime, shortId, useFetch } from "./util";

type Listed = S["ArtifactList"];
type Detail = S["ArtifactDetail"];
type Version = S["ArtifactVersionOut"];
type Move = S["AliasMoveOut"];
type Deployments = S["DeploymentList"];
type Deployment = S["DeploymentOut"];
type Drift = S["DeploymentDrift"];
type Stats = { mean: number; std: number; missing_rate: number };
// mean_shift_in_std null: the feature was constant in training and is not now (no finite shift)
type FeatureDrift = { training: Stats; serving: Stats; mean_shift_in_std: number | null };

export function ModelsPage(props: { project: string }) {
  const { project } = props;
  const url = `/projects/${enc(project)}/artifacts?kind=model`;
  const models = useFetch<Listed>(url, () => get<Listed>(url));
  return (
    <div class="page models-page">
      <h1>Models</h1>
      <Problem error={models.error} />
      {models.data && !models.data.items.length ? (
        <div class="muted">no registered models (train one with <code>model.train()</code>)</div>
      ) : null}
      {models.data?.items.length ? (
        <table class="list models">
          <thead>
            <tr><th>model</th><th>newest version</th><th>aliases</th><th>metrics</th><th>registered</th></tr>
          </thead>
          <tbody>
            {models.data.items.map((v) => (
              <tr data-model={v.name}>
                <td><Link to={`/projects/${enc(project)}/models/${enc(v.name)}`}>{v.name}</Link></td>
                <td>{v.version}</td>
                <td>{(v.aliases ?? []).map((a) => <span class="tag">{a}</span>)}</td>
                <td class="small mono">
                  {metricsText(v.metrics ?? {})}
                  {Object.entries(v.invalid_metrics ?? {}).map(([k, x]) => (
                    <InvalidMetric name={k} text={x} />
                  ))}
                </td>
                <td class="small">{fmtTime(v.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function metricsText(m: Record<string, number>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${fmtNum(v)}`)
    .join(" ");
}

/** A metric an older version stored that is not a number (NaN, inf): its text, flagged. */
function InvalidMetric(props: { name: string; text: string; bare?: boolean }) {
  return (
    <span
      class="invalid-metric"
      data-invalid-metric={props.name}
      title="stored by an older version of Airfoil: not a finite number, so never compared or ranked"
    >
      {props.bare ? "" : ` ${props.name}=`}
      {props.text} (invalid)
    </span>
  );
}

function fmtNum(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

export function ModelPage(props: { project: string; name: string }) {
  const { project, name } = props;
  const url = `/projects/${enc(project)}/artifacts/${enc(name)}`;
  const detail = useFetch<Detail>(url, () => get<Detail>(url));
  const [acting, setActing] = useState<Error | null>(null);
  const [alias, setAlias] = useState("production");
  const act = async (body: S["AliasMoveIn"]) => {
    setActing(null);
    try {
      await post<Move>(`${url}/aliases`, body);
      detail.reload();
    } catch (e) {
      setActing(e as Error);
    }
  };
  const depUrl = `/projects/${enc(project)}/deployments`;
  const deps = useFetch<Deployments>(depUrl, () => get<Deployments>(depUrl), 3000);
  const deployment = deps.data?.items.find((x) => x.name === name) ?? null;
  const d = detail.data;
  const metricNames = d
    ? [...new Set(d.versions.flatMap((v) => [...Object.keys(v.metrics ?? {}), ...Object.keys(v.invalid_metrics ?? {})]))].sort()
    : [];
  return (
    <div class="page model-page" data-model={name}>
      <h1>
        <Link to={`/projects/${enc(project)}/models`}>Models</Link> / {name}
      </h1>
      <Problem error={detail.error} />
      <Problem error={acting} />
      {d ? (
        <>
          <section class="aliases">
            <h2>Aliases</h2>
            {Object.keys(d.aliases).length ? (
              <ul>
                {Object.entries(d.aliases).map(([a, v]) => (
                  <li data-alias={a} data-version={v}>
                    <b>{a}</b> → {name}:{v}{" "}
                    <button
                      name={`rollback-${a}`}
                      title={`move ${a} back to the version it pointed to before`}
                      onClick={() => act({ alias: a, action: "rollback", reason: "console rollback" })}
                    >
                      roll back
                    </button>
                  </li>
                ))}
              </ul>
            ) : (
              <div class="muted">no aliases yet</div>
            )}
            <label>
              alias to promote{" "}
              <input name="alias" value={alias} onInput={(e) => setAlias((e.target as HTMLInputElement).value)} />
            </label>
          </section>
          <h2>Versions</h2>
          <table class="list model-versions">
            <thead>
              <tr>
                <th>version</th>
                <th>aliases</th>
                {metricNames.map((m) => <th class="metric">{m}</th>)}
                <th>lineage</th>
                <th>registered</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {d.versions.map((v) => (
                <tr data-version={v.version}>
                  <td><b>{v.version}</b></td>
                  <td class="aliases">{(v.aliases ?? []).map((a) => <span class="tag">{a}</span>)}</td>
                  {metricNames.map((m) => (
                    <td class="metric mono" data-metric={m}>
                      {v.metrics?.[m] !== undefined ? (
                        fmtNum(v.metrics[m])
                      ) : v.invalid_metrics?.[m] !== undefined ? (
                        <InvalidMetric name={m} text={v.invalid_metrics[m]} bare />
                      ) : (
                        ""
                      )}
                    </td>
                  ))}
                  <td class="lineage small"><Lineage project={project} v={v} deployment={deployment} /></td>
                  <td class="small">{fmtTime(v.created_at)}</td>
                  <td>
                    <button
                      name={`promote-${v.version}`}
                      disabled={!alias.trim() || d.aliases[alias.trim()] === v.version}
                      onClick={() => act({ alias: alias.trim(), action: "promote", version: v.version, reason: "console promote" })}
                    >
                      promote to {alias.trim() || "…"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <DeploymentSection project={project} deployment={deployment} />
          <h2>Alias trail</h2>
          {d.moves.length ? (
            <table class="list alias-trail">
              <thead>
                <tr><th>#</th><th>alias</th><th>action</th><th>from</th><th>to</th><th>by</th><th>reason</th><th>at</th></tr>
              </thead>
              <tbody>
                {[...d.moves].reverse().map((m) => (
                  <tr data-seq={m.seq}>
                    <td>{m.seq}</td>
                    <td>{m.alias}</td>
                    <td>{m.action}</td>
                    <td>{m.from_version ?? "—"}</td>
                    <td>{m.to_version}</td>
                    <td class="small">{m.actor}</td>
                    <td class="small">{m.reason}</td>
                    <td class="small">{fmtTime(m.at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <div class="muted">no alias moves yet</div>
          )}
        </>
      ) : null}
    </div>
  );
}

/** dataset (content hash) -> training run -> this version -> its aliases. */
function Lineage({ project, v, deployment }: { project: string; v: Version; deployment: Deployment | null }) {
  const serving = (deployment?.members ?? []).filter((r) => r.version === v.version).length;
  const lin = v.lineage ?? {};
  // the training run as its project names it (what the URL and `airfoil` commands take)
  const run = v.execution_name || v.execution_id || lin["execution_id"] || "";
  const data = lin["dataset"] ?? "data";
  const hash = lin["dataset_hash"] ?? "";
  return (
    <span class="lineage-chain">
      <span class="lineage-data" title={hash}>
        {data}
        {hash ? <code> {shortId(hash, 12)}</code> : null}
      </span>
      {" → "}
      {run ? (
        <Link to={runPath(project, { name: v.execution_name, id: run, domain: v.execution_domain })} title={`the training run${v.execution_domain ? ` (${v.execution_domain})` : ""}`}>
          {`run ${run === v.execution_name ? run : shortId(run, 12)}`}
        </Link>
      ) : (
        <span class="muted">no run</span>
      )}
      {" → "}
      <span>
        {v.name}:{v.version}
      </span>
      {(v.aliases ?? []).length ? ` → ${(v.aliases ?? []).join(", ")}` : ""}
      {serving ? <span class="lineage-deployed">{` → deployed (${serving} replica${serving > 1 ? "s" : ""})`}</span> : null}
    </span>
  );
}

/** Why a replica's last run ended: the supervisor's reason (out of memory, not answering...),
 * else its exit status or signal; "—" when it has not ended yet. */
function lastExit(r: Deployment["members"][number]): string {
  if (r.exit_reason) return r.exit_reason;
  if (r.last_exit === null || r.last_exit === undefined) return "—";
  return r.last_exit < 0 ? `killed by signal ${-r.last_exit}` : `exited with status ${r.last_exit}`;
}

/** The model's deployment (airfoil deploy): its replicas, then the drift of what they served. */
function DeploymentSection({ project, deployment }: { project: string; deployment: Deployment | null }) {
  if (!deployment) {
    return (
      <section class="deployment">
        <h2>Deployment</h2>
        <div class="muted">not deployed (<code>airfoil deploy NAME@ALIAS --replicas N</code>)</div>
      </section>
    );
  }
  const ready = deployment.members.filter((r) => r.status === "ready").length;
  return (
    <section class="deployment" data-ref={deployment.ref}>
      <h2>
        Deployment <code>{deployment.ref}</code>{" "}
        <span class="small muted">
          {ready}/{deployment.replicas} ready{" "}
          <span class="deploy-on">{deployment.on === "ray" ? "on Ray Serve" : "as processes"}</span>
          {deployment.resources ? (
            <span class="deploy-resources">
              {" "}each {deployment.resources.cpu} CPU
              {deployment.resources.mem ? `, ${Math.round(deployment.resources.mem / 2 ** 20)} MiB` : ""}
              {deployment.resources.gpu ? `, ${deployment.resources.gpu} GPU` : ""}
            </span>
          ) : null}
        </span>
      </h2>
      {deployment.message ? (
        <div class="error-box deploy-message" role="alert">{deployment.message}</div>
      ) : null}
      <table class="list replicas">
        <thead>
          <tr>
            <th>replica</th><th>status</th><th>version</th><th>restarts</th><th>last exit</th>
            <th title="the CPUs it is pinned to (its whole requested CPUs)">CPUs</th><th>pid</th><th>address</th>
          </tr>
        </thead>
        <tbody>
          {deployment.members.map((r) => (
            <tr data-replica={r.index} data-status={r.status}>
              <td>{r.index}</td>
              <td><span class={`tag status-${r.status}`}>{r.status}</span></td>
              <td>{r.version ?? "—"}</td>
              <td class="restarts">{r.restarts}</td>
              <td class={`last-exit small${r.exit_reason ? " exit-reason" : ""}`}>{lastExit(r)}</td>
              <td class="cpus small mono">{r.cpus?.length ? r.cpus.join(", ") : "—"}</td>
              <td class="small mono">{r.pid ?? "—"}</td>
              <td class="small mono">{r.url}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <DriftTable project={project} name={deployment.name} />
    </section>
  );
}

function DriftTable({ project, name }: { project: string; name: string }) {
  const url = `/projects/${enc(project)}/deployments/${enc(name)}/drift`;
  const drift = useFetch<Drift>(url, () => get<Drift>(url), 5000, () => true, true);
  const d = drift.data;
  const rows = d ? Object.entries(d.features as Record<string, FeatureDrift>) : [];
  return (
    <div class="drift">
      <h3>
        Drift{" "}
        <button name="refresh-drift" onClick={() => drift.reload()}>refresh</button>
      </h3>
      <Problem error={drift.error} />
      {d ? (
        <div class="small muted drift-summary">
          {d.rows} rows served by {d.replicas} replica{d.replicas === 1 ? "" : "s"}
          {d.version !== null && d.version !== undefined ? ` of version ${d.version}` : ""}, against the training split
        </div>
      ) : null}
      {rows.length ? (
        <table class="list drift-table">
          <thead>
            <tr>
              <th>feature</th>
              <th class="metric">training mean</th><th class="metric">served mean</th>
              <th class="metric">training std</th><th class="metric">served std</th>
              <th class="metric">training missing</th><th class="metric">served missing</th>
              <th class="metric">shift (σ)</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([f, x]) => (
              <tr data-feature={f} class={x.mean_shift_in_std === null || x.mean_shift_in_std > 1 ? "drifted" : ""}>
                <td>{f}</td>
                <td class="metric mono" data-stat="training-mean">{fmtNum(x.training.mean)}</td>
                <td class="metric mono" data-stat="serving-mean">{fmtNum(x.serving.mean)}</td>
                <td class="metric mono" data-stat="training-std">{fmtNum(x.training.std)}</td>
                <td class="metric mono" data-stat="serving-std">{fmtNum(x.serving.std)}</td>
                <td class="metric mono" data-stat="training-missing">{fmtPct(x.training.missing_rate)}</td>
                <td class="metric mono" data-stat="serving-missing">{fmtPct(x.serving.missing_rate)}</td>
                <td class="metric mono" data-stat="shift">{x.mean_shift_in_std === null ? "∞" : fmtNum(x.mean_shift_in_std)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : d ? (
        <div class="muted">no ready replica has answered yet</div>
      ) : null}
    </div>
  );
}

function fmtPct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
