// The experiment-tracking view: the runs of one workflow as a table of their inputs and
// chosen metrics (each metric's last, min and max over the run's nodes and attempts). Sorted
// by the server (click a column); select runs to compare two or to overlay a metric. The
// workflow, metrics, sort and count are in the URL (?workflow=W&metrics=a,b&sort=-loss:min),
// with the filters (&where=loss:min<0.3;lr=0.1) and the page (&offset=N: older/newer).
import { useEffect, useRef, useState } from "preact/hooks";
import type { S } from "./api";
import { enc, get, qs, runPath } from "./api";
import { Link, Phase, Problem } from "./components";
import { navigate, setQuery } from "./router";
import { useRowWindow } from "./rowWindow";
import { fmtDuration, fmtTime, useFetch } from "./util";

type RunsTableOut = S["RunsTableOut"];
type RunRowOut = S["RunRowOut"];
const AGGS = ["last", "min", "max"] as const;

/** A row's run: its name and domain (a name is unique within its project and domain only,
 * so two rows may share a name: each is selected, linked and compared by both). */
type Picked = { name: string; domain: string };
const same = (p: Picked, r: RunRowOut) => p.name === r.id && p.domain === (r.domain ?? "");

function num(v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(6)));
}

export function RunsPage(props: { project: string; query: URLSearchParams }) {
  const { project, query } = props;
  const workflow = query.get("workflow") ?? "";
  const metrics = (query.get("metrics") ?? "").split(",").filter(Boolean);
  const sort = query.get("sort") ?? "-started";
  const last = query.get("last") ?? "50";
  const offset = Number(query.get("offset") ?? "0") || 0;
  const where = (query.get("where") ?? "").split(";").map((w) => w.trim()).filter(Boolean);
  const [text, setText] = useState(workflow);
  const [filter, setFilter] = useState(where.join("; "));
  useEffect(() => setFilter(where.join("; ")), [query.get("where")]);
  const [selected, setSelected] = useState<Picked[]>([]);
  const params = new URLSearchParams({ last, sort });
  for (const m of metrics) params.append("metric", m);
  for (const w of where) params.append("where", w);
  if (offset) params.set("offset", String(offset));
  const url = `/projects/${enc(project)}/workflows/${enc(workflow)}/runs?${params}`;
  const t = useFetch<RunsTableOut | null>(url, () => (workflow ? get<RunsTableOut>(url) : Promise.resolve(null)));
  const d = t.data;
  const table = useRef<HTMLTableElement>(null);
  const body = useRef<HTMLTableSectionElement>(null);
  // past ~200 rows only those on screen are drawn (a 1,000-row page took ~3 s to paint whole)
  const win = useRowWindow(body, d?.rows.length ?? 0);
  useEffect(() => {
    // when the rows were first on the page (ms since navigation): read by the benchmark
    if (table.current && !table.current.dataset.paintedAt) {
      const el = table.current;
      requestAnimationFrame(() => { el.dataset.paintedAt = String(performance.now()); });
    }
  }, [d]);
  // the newer page: back by `last` (a filtered page's start is not known: back to the first)
  const newer = offset > 0 ? (where.length ? 0 : Math.max(0, offset - Number(last))) : null;
  const toggleMetric = (m: string) => {
    const shown = d ? d.metrics : metrics;
    const next = shown.includes(m) ? shown.filter((x) => x !== m) : [...shown, m];
    setQuery({ metrics: next.join(",") || null });
  };
  const sortBy = (key: string) => setQuery({ sort: sort === key ? `-${key}` : key });
  const head = (key: string, label: string, cls = "") => {
    const on = sort === key || sort === `-${key}`;
    return (
      <th class={`sortable ${cls}${on ? " sorted" : ""}`} data-sort={key} onClick={() => sortBy(key)} title={`sort by ${key}`}>
        {label}
        {on ? (sort.startsWith("-") ? " ▼" : " ▲") : ""}
      </th>
    );
  };
  const overlayMetric = d?.metrics[0] ?? "";
  const pick = (r: RunRowOut, on: boolean) =>
    setSelected(on ? [...selected, { name: r.id, domain: r.domain ?? "" }] : selected.filter((p) => !same(p, r)));
  const isPicked = (r: RunRowOut) => selected.some((p) => same(p, r));
  const [sa, sb] = selected;
  const compareUrl = sa && sb
    ? `/projects/${enc(project)}/compare${qs({ a: sa.name, domain_a: sa.domain, b: sb.name, domain_b: sb.domain })}`
    : "";
  const overlayUrl = `/projects/${enc(project)}/metrics?runs=${selected.map((p) => enc(p.name)).join(",")}` +
    (selected.some((p) => p.domain) ? `&domains=${selected.map((p) => enc(p.domain)).join(",")}` : "") +
    `&name=${enc(overlayMetric)}`;
  return (
    <div class="page runs-page">
      <h1>Runs of a workflow</h1>
      <form class="row" onSubmit={(e) => { e.preventDefault(); setSelected([]); setQuery({ workflow: text.trim(), offset: null }); }}>
        <label>workflow <input name="workflow" size={40} placeholder="module.workflow" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} /></label>{" "}
        <label>last <select name="last" value={last} onChange={(e) => setQuery({ last: (e.target as HTMLSelectElement).value })}>
          {["20", "50", "200", "1000", "5000"].map((n) => <option value={n}>{n}</option>)}
        </select></label>{" "}
        <button type="submit">Show</button>
      </form>
      <form class="row runs-filter" onSubmit={(e) => { e.preventDefault(); setSelected([]); setQuery({ where: filter.split(";").map((w) => w.trim()).filter(Boolean).join(";"), offset: null }); }}>
        <label>where <input name="where" size={50} placeholder="loss:min<0.3; lr=0.1; phase!=failed" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} /></label>{" "}
        <button type="submit">Filter</button>{" "}
        <span class="muted small">KEY OP VALUE (OP: &lt; &lt;= &gt; &gt;= = !=), separated by ";": all must hold</span>
      </form>
      <Problem error={t.error} />
      {!workflow ? <div class="muted">Give a workflow's name (a workflow's page links here).</div> : null}
      {d ? (
        <div>
          <div class="row metric-picker">
            metrics:{" "}
            {d.available_metrics.length ? d.available_metrics.map((m) => (
              <label class="inline small">
                <input type="checkbox" name={`metric-${m}`} checked={d.metrics.includes(m)} onChange={() => toggleMetric(m)} /> {m}
              </label>
            )) : <span class="muted">none logged</span>}
          </div>
          <div class="row">
            <button class="compare-selected" disabled={selected.length !== 2} onClick={() => navigate(compareUrl)}>
              Compare 2 selected
            </button>{" "}
            <button class="overlay-selected" disabled={selected.length < 1 || !overlayMetric} onClick={() => navigate(overlayUrl)}>
              Overlay {overlayMetric || "a metric"} of {selected.length} selected
            </button>{" "}
            <span class="muted small runs-count" data-rows={d.rows.length} data-total={d.total ?? undefined} data-next={d.next_offset ?? undefined}>
              {d.rows.length} runs{d.where.length ? ` passing ${d.where.join(" and ")}` : ""}, sorted by {d.sort}; {d.scanned} read
              {d.total !== null && d.total !== undefined ? ` from offset ${d.offset} of ${d.total} runs (newest first)` : ""}
            </span>{" "}
            <button class="newer" disabled={newer === null} onClick={() => setQuery({ offset: newer ? String(newer) : null })}>← newer</button>{" "}
            <button class="older" disabled={d.next_offset === null || d.next_offset === undefined} onClick={() => setQuery({ offset: String(d.next_offset) })}>older →</button>
          </div>
          {d.rows.length ? (
            // fixed layout: the columns' widths come from <colgroup>, so the browser lays out
            // 1,000 rows without measuring every cell first (auto layout took ~1 s of a
            // 1,000-row paint on the benchmark's machine)
            <table class={`list runs-table${win.on ? " windowed" : ""}`} ref={table} aria-rowcount={d.rows.length + 2} style={{ minWidth: `${533 + (d.inputs.length + 3 * d.metrics.length) * 90}px` }}>
              <colgroup>
                <col style={{ width: "28px" }} />
                <col style={{ width: "170px" }} />
                <col style={{ width: "105px" }} />
                <col style={{ width: "150px" }} />
                <col style={{ width: "80px" }} />
                {d.inputs.map(() => <col />)}
                {d.metrics.flatMap(() => AGGS.map(() => <col />))}
              </colgroup>
              <thead>
                <tr>
                  <th rowSpan={2}></th>
                  {head("id", "execution")}
                  {head("phase", "phase")}
                  {head("started", "started")}
                  {head("duration", "duration")}
                  {d.inputs.map((i) => head(i, i, "input"))}
                  {d.metrics.map((m) => <th colSpan={3} class="metric-group">{m}</th>)}
                </tr>
                <tr>
                  <th colSpan={4 + d.inputs.length}></th>
                  {d.metrics.flatMap((m) => AGGS.map((a) => head(`${m}:${a}`, a, "num")))}
                </tr>
              </thead>
              <tbody ref={body} onKeyDown={win.onKeyDown}>
                {win.above ? <tr class="spacer" aria-hidden="true" style={{ height: `${win.above}px` }}><td colSpan={5 + d.inputs.length + 3 * d.metrics.length} /></tr> : null}
                {d.rows.slice(win.start, win.end).map((r, k) => (
                  <tr key={`${r.domain}/${r.id}`} data-execution={r.id} data-domain={r.domain} data-row={win.start + k} aria-rowindex={win.start + k + 3} class={isPicked(r) ? "selected" : ""}>
                    <td><input type="checkbox" name={`select-${r.id}`} checked={isPicked(r)} onChange={(e) => pick(r, (e.target as HTMLInputElement).checked)} /></td>
                    <td class="mono" title={r.domain ? `${r.id} in ${r.domain}` : r.id}>
                      <Link to={runPath(project, { name: r.id, id: r.id, domain: r.domain })}>{r.id}</Link>
                      {r.domain ? <span class="muted small run-domain"> {r.domain}</span> : null}
                    </td>
                    <td><Phase phase={r.phase} /></td>
                    <td class="small">{fmtTime(r.started_at ?? r.created_at)}</td>
                    <td>{fmtDuration(r.duration)}</td>
                    {d.inputs.map((i) => <td class="mono small" data-input={i} title={r.inputs[i] ?? ""}>{r.inputs[i] ?? ""}</td>)}
                    {d.metrics.flatMap((m) => AGGS.map((a) => {
                      const s = r.metrics[m];
                      return <td class="num mono" data-metric={`${m}:${a}`}>{s ? (s[a] === null && a === "last" ? "NaN" : num(s[a])) : ""}</td>;
                    }))}
                  </tr>
                ))}
                {win.below ? <tr class="spacer" aria-hidden="true" style={{ height: `${win.below}px` }}><td colSpan={5 + d.inputs.length + 3 * d.metrics.length} /></tr> : null}
              </tbody>
            </table>
          ) : (
            <div class="muted no-runs">no runs of {d.workflow}{d.where.length ? ` passing ${d.where.join(" and ")} in the ${d.scanned} read` : ""}</div>
          )}
        </div>
      ) : null}
    </div>
  );
}
