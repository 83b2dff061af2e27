// The failures page: failed attempts across runs grouped by signature (exception type,
// normalised message, top user frame), most frequent first; a group opens to its example
// traceback and the attempts it holds, each linking to its run.
import { useEffect, useRef } from "preact/hooks";
import type { S } from "./api";
import { enc, get, qs, runPath } from "./api";
import { Link, Problem } from "./components";
import { setQuery } from "./router";
import { fmtTime, useFetch } from "./util";

type Groups = S["FailureGroupList"];
type Group = S["FailureGroupOut"];
type Failures = S["FailureList"];

const SPANS: [string, number | null][] = [["all time", null], ["7 days", 7 * 86400], ["24 hours", 86400], ["1 hour", 3600]];

export function FailuresPage(props: { project: string; query: URLSearchParams }) {
  const { project, query } = props;
  const span = query.get("since") ?? "";
  const task = query.get("task") ?? "";
  const open = query.get("signature") ?? "";
  const seconds = SPANS.find(([label]) => label === span)?.[1] ?? null;
  const url = `/projects/${enc(project)}/failures`;
  const groups = useFetch<Groups>(`${url}|${span}|${task}`, () =>
    get<Groups>(url + qs({ since: seconds === null ? null : Date.now() / 1000 - seconds, task, limit: 1000 })),
  );
  const table = useRef<HTMLTableElement>(null);
  useEffect(() => {
    // when the groups were first on the page (ms since navigation): read by the benchmark
    if (table.current && !table.current.dataset.paintedAt) table.current.dataset.paintedAt = String(performance.now());
  }, [groups.data]);
  return (
    <div class="page failures-page">
      <h1>Failures across runs</h1>
      <div class="row">
        <label>
          since{" "}
          <select name="since" value={span || "all time"} onChange={(e) => setQuery({ since: (e.target as HTMLSelectElement).value, signature: null })}>
            {SPANS.map(([label]) => <option value={label}>{label}</option>)}
          </select>
        </label>{" "}
        <label>
          task{" "}
          <input name="task" placeholder="module.task" value={task} onChange={(e) => setQuery({ task: (e.target as HTMLInputElement).value, signature: null })} />
        </label>
      </div>
      <Problem error={groups.error} />
      {groups.data && !groups.data.items.length ? <div class="muted">no failures</div> : null}
      {groups.data?.items.length ? (
        <table class="list failure-groups" ref={table}>
          <thead>
            <tr><th>count</th><th>runs</th><th>type</th><th>message</th><th>where</th><th>tasks</th><th>first seen</th><th>last seen</th></tr>
          </thead>
          <tbody>
            {groups.data.items.map((g) => (
              <GroupRows g={g} project={project} open={g.signature === open} />
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function GroupRows({ g, project, open }: { g: Group; project: string; open: boolean }) {
  return (
    <>
      <tr class={`failure-group${open ? " open" : ""}`} data-signature={g.signature} onClick={() => setQuery({ signature: open ? null : g.signature })} style={{ cursor: "pointer" }}>
        <td><b>{g.count}</b></td>
        <td>{g.executions}</td>
        <td><code>{g.type}</code></td>
        <td class="mono small">{g.pattern}</td>
        <td class="mono small">{g.frame}</td>
        <td class="small">{g.tasks.join(", ")}</td>
        <td class="small">{fmtTime(g.first_seen)}</td>
        <td class="small">{fmtTime(g.last_seen)}</td>
      </tr>
      {open ? (
        <tr class="failure-detail">
          <td colSpan={8}>
            <div class="muted small">signature {g.signature} · latest: <Link to={runPath(project, { name: g.example.execution_name, id: g.example.execution_id, domain: g.example.execution_domain }, { node: g.example.node_id, tab: "Attempts" })} class="mono">{g.example.execution_name || g.example.execution_id}</Link>{g.example.execution_domain ? ` (${g.example.execution_domain})` : ""} {g.example.node_id} attempt {g.example.attempt}</div>
            <pre class="log traceback">{g.example.traceback || `${g.example.type}: ${g.example.message}`}</pre>
            <Attempts project={project} signature={g.signature} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function Attempts({ project, signature }: { project: string; signature: string }) {
  const url = `/projects/${enc(project)}/failures/${enc(signature)}`;
  const rows = useFetch<Failures>(url, () => get<Failures>(url + qs({ limit: 200 })));
  if (!rows.data) return <Problem error={rows.error} />;
  return (
    <table class="list failure-attempts">
      <thead>
        <tr><th>when</th><th>execution</th><th>node</th><th>attempt</th><th>task</th><th>message</th></tr>
      </thead>
      <tbody>
        {rows.data.items.map((f) => (
          <tr data-execution={f.execution_name || f.execution_id}>
            <td class="small">{fmtTime(f.at)}</td>
            <td><Link to={runPath(project, { name: f.execution_name, id: f.execution_id, domain: f.execution_domain }, { node: f.node_id, tab: "Attempts" })} class="mono">{f.execution_name || f.execution_id}</Link>{f.execution_domain ? <span class="muted small"> {f.execution_domain}</span> : null}</td>
            <td class="mono">{f.node_id}</td>
            <td>{f.attempt}</td>
            <td class="small">{f.task}@{f.version.slice(0, 10)}</td>
            <td class="small">{f.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
