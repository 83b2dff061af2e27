// The models page: the project's registered models (artifacts of kind "model"), and for one
// model its versions with their metrics side by side, each version's lineage (dataset hash ->
// training run -> version -> aliases), the aliases' audit trail, and promote / roll back
// buttons that call the registry API (the server checks the runner role, as for the CLI).
import { useState } from "preact/hooks";
import type { S } from "./api";
import { enc, get, post } from "./api";
import { Link, Problem } from "./components";
import { fmtTime, shortId, useFetch } from "./util";

type Listed = S["ArtifactList"];
type Detail = S["ArtifactDetail"];
type Version = S["ArtifactVersionOut"];
type Move = S["AliasMoveOut"];

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
                <td class="small mono">{metricsText(v.metrics ?? {})}</td>
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
  const d = detail.data;
  const metricNames = d ? [...new Set(d.versions.flatMap((v) => Object.keys(v.metrics ?? {})))].sort() : [];
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
                    <td class="metric mono" data-metric={m}>{v.metrics?.[m] === undefined ? "" : fmtNum(v.metrics[m])}</td>
                  ))}
                  <td class="lineage small"><Lineage project={project} v={v} /></td>
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
function Lineage({ project, v }: { project: string; v: Version }) {
  const lin = v.lineage ?? {};
  const run = v.execution_id || lin["execution_id"] || "";
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
        <Link to={`/projects/${enc(project)}/executions/${enc(run)}`} title="the training run">
          {`run ${shortId(run, 12)}`}
        </Link>
      ) : (
        <span class="muted">no run</span>
      )}
      {" → "}
      <span>
        {v.name}:{v.version}
      </span>
      {(v.aliases ?? []).length ? ` → ${(v.aliases ?? []).join(", ")}` : ""}
    </span>
  );
}
