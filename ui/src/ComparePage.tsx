// The compare view: two executions side by side -- inputs, outputs (frames with their schema
// and column statistics), each node's phase, cache status and duration, and which tasks' code versions changed, with the source diff.
import { useState } from "preact/hooks";
import type { S } from "./api";
import { DOMAINS, enc, get, qs, runPath } from "./api";
import { Link, Problem, Unreadable } from "./components";
import { setQuery } from "./router";
import { fmtDuration, useFetch } from "./util";

type ComparisonOut = S["ComparisonOut"];
type ValueDiffOut = S["ValueDiffOut"];
type FrameDiffOut = S["FrameDiffOut"];
type FrameStatsOut = S["FrameStatsOut"];
type ColumnStatsOut = S["ColumnStatsOut"];
const STATS = ["count", "nulls", "mean", "std", "min", "max", "distinct"] as const;

export function ComparePage(props: { project: string; query: URLSearchParams }) {
  const { project, query } = props;
  // each side by its name (or id) and, for a name the project uses in several domains, its
  // domain (?domain_a=, ?domain_b=): the Runs page links here with both
  const a = query.get("a") ?? "";
  const b = query.get("b") ?? "";
  const da = query.get("domain_a") ?? "";
  const db = query.get("domain_b") ?? "";
  const [ta, setA] = useState(a);
  const [tb, setB] = useState(b);
  const [tda, setDa] = useState(da);
  const [tdb, setDb] = useState(db);
  const [all, setAll] = useState(false);
  const url = `/projects/${enc(project)}/compare${qs({ a, domain_a: da, b, domain_b: db })}`;
  const c = useFetch<ComparisonOut | null>(url, () => (a && b ? get<ComparisonOut>(url) : Promise.resolve(null)));
  const exec = (name: string, id: string, domain: string | undefined) => (
    <>
      <Link to={runPath(project, { name, id, domain })}>{name || id}</Link>
      {domain ? <span class="muted small run-domain"> {domain}</span> : null}
    </>
  );
  const domainPick = (name: string, value: string, set: (v: string) => void) => (
    <select name={name} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)} title="the domain of a name the project uses in several">
      <option value="">any domain</option>
      {DOMAINS.map((x) => <option value={x}>{x}</option>)}
    </select>
  );
  const d = c.data;
  const nodes = d ? d.nodes.filter((n) => all || n.phase_a !== n.phase_b || n.cache_a !== n.cache_b || n.version_changed || n.outputs_same === false) : [];
  return (
    <div class="page compare-page">
      <h1>Compare runs</h1>
      <form class="row" onSubmit={(e) => { e.preventDefault(); setQuery({ a: ta.trim(), domain_a: tda || null, b: tb.trim(), domain_b: tdb || null }); }}>
        <label>A <input name="a" value={ta} onInput={(e) => setA((e.target as HTMLInputElement).value)} /></label>{" "}
        {domainPick("domain_a", tda, setDa)}{" "}
        <label>B <input name="b" value={tb} onInput={(e) => setB((e.target as HTMLInputElement).value)} /></label>{" "}
        {domainPick("domain_b", tdb, setDb)}{" "}
        <button type="submit">Compare</button>
      </form>
      <Problem error={c.error} />
      {d ? (
        <div>
          <Unreadable items={d.unreadable} />
          <table class="kv">
            <tbody>
              <tr><th></th><th>A</th><th>B</th></tr>
              <tr><th>execution</th><td data-run="a" data-id={d.a} data-domain={d.domain_a}>{exec(d.name_a ?? "", d.a, d.domain_a)}</td><td data-run="b" data-id={d.b} data-domain={d.domain_b}>{exec(d.name_b ?? "", d.b, d.domain_b)}</td></tr>
              <tr><th>workflow</th><td>{d.workflow_a}</td><td>{d.workflow_b}</td></tr>
              <tr><th>phase</th><td>{d.phase_a}</td><td>{d.phase_b}</td></tr>
              <tr><th>duration</th><td>{fmtDuration(d.duration_a)}</td><td>{fmtDuration(d.duration_b)}</td></tr>
            </tbody>
          </table>
          <Values title="Inputs" rows={d.inputs} />
          <Values title="Outputs" rows={d.outputs} />
          {(d.frames ?? []).map((f) => <Frame frame={f} />)}
          <h2>
            Nodes <label class="inline small"><input type="checkbox" checked={all} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} /> show all {d.nodes.length}</label>
          </h2>
          {nodes.length ? (
            <table class="list compare-nodes">
              <thead><tr><th>node</th><th>task</th><th>phase A / B</th><th>cache A / B</th><th>duration A / B</th><th>code</th><th>outputs</th></tr></thead>
              <tbody>
                {nodes.map((n) => (
                  <tr data-node={n.node_id} class={n.version_changed ? "changed" : ""}>
                    <td class="mono">{n.node_id}</td>
                    <td>{n.task}</td>
                    <td>{n.phase_a || "—"} / {n.phase_b || "—"}</td>
                    <td>{n.cache_a || "—"} / {n.cache_b || "—"}</td>
                    <td>{fmtDuration(n.duration_a)} / {fmtDuration(n.duration_b)}</td>
                    <td>
                      {n.version_changed ? <b>changed</b> : "same"}
                      {n.source_diff.length ? <pre class="log source-diff">{n.source_diff.join("\n")}</pre> : null}
                    </td>
                    <td>{n.outputs_same === null ? "—" : n.outputs_same ? "same" : <b>differ</b>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <div class="muted">every node alike</div>
          )}
        </div>
      ) : null}
      {!a || !b ? <div class="muted">Give two execution ids.</div> : null}
    </div>
  );
}

function Values({ title, rows }: { title: string; rows: ValueDiffOut[] }) {
  if (!rows.length) return null;
  return (
    <div>
      <h2>{title}</h2>
      <table class={`list compare-${title.toLowerCase()}`}>
        <thead><tr><th>name</th><th>A</th><th>B</th><th></th></tr></thead>
        <tbody>
          {rows.map((v) => (
            <tr data-name={v.name} class={v.same ? "" : "differs"}>
              <td class="mono">{v.name}</td>
              <td class="mono small">{v.a}</td>
              <td class="mono small">{v.b}</td>
              <td>{v.same ? "same" : <b>differs</b>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function side(f: FrameStatsOut | null | undefined): string {
  if (!f) return "no frame";
  if (f.error) return f.error;
  const rows = f.rows < 0 ? "?" : f.rows.toLocaleString("en");
  const read = f.rows_read === f.rows ? "" : `, statistics over the first ${f.rows_read.toLocaleString("en")}`;
  return `${rows} rows, ${f.columns.length} columns${read}`;
}

function stat(c: ColumnStatsOut | null | undefined, k: (typeof STATS)[number]): string {
  const v = c ? c[k] : undefined;
  if (v === null || v === undefined) return "—";
  return typeof v === "number" && !Number.isInteger(v) ? String(Number(v.toPrecision(6))) : String(v);
}

function Frame({ frame }: { frame: FrameDiffOut }) {
  return (
    <div class="compare-frame" data-frame={`${frame.kind}:${frame.name}`}>
      <h2>
        Frame {frame.kind} <span class="mono">{frame.name}</span>
      </h2>
      <div class="small">A: {side(frame.a)} · B: {side(frame.b)}</div>
      <table class="list frame-stats">
        <thead>
          <tr><th>column</th><th>change</th><th>type A / B</th>{STATS.map((k) => <th>{k} A / B</th>)}</tr>
        </thead>
        <tbody>
          {frame.columns.map((c) => (
            <tr data-column={c.name} class={c.change ? `changed ${c.change}` : ""}>
              <td class="mono">{c.name}</td>
              <td>{c.change ? <b>{c.change}</b> : ""}</td>
              <td class="mono small">{c.a?.type === c.b?.type ? c.a?.type : `${c.a?.type ?? "—"} / ${c.b?.type ?? "—"}`}</td>
              {STATS.map((k) => {
                const x = stat(c.a, k);
                const y = stat(c.b, k);
                return <td class={`num mono small${x === y ? "" : " differs"}`} data-stat={k}>{x === y ? x : `${x} / ${y}`}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
