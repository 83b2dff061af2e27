// The metrics page: one metric overlaid across chosen runs (loss curves of five trainings on
// one chart). The runs and the metric are in the URL (?runs=a,b&name=loss&node=n0), so a
// view can be shared; &domains=d1,d2 gives each run's domain (a name is unique within its
// project and domain only: the Runs page sends both).
import { useState } from "preact/hooks";
import type { S } from "./api";
import { enc, get, qs } from "./api";
import { Problem } from "./components";
import { byName, MetricChart } from "./MetricChart";
import type { Line } from "./MetricChart";
import { setQuery } from "./router";
import { useFetch } from "./util";

type MetricsOut = S["MetricsOut"];

export function MetricsPage(props: { project: string; query: URLSearchParams }) {
  const { project, query } = props;
  const runs = (query.get("runs") ?? "").split(",").map((r) => r.trim()).filter(Boolean);
  const domains = (query.get("domains") ?? "").split(",").map((x) => x.trim());
  const name = query.get("name") ?? "";
  const node = query.get("node") ?? "";
  const [text, setText] = useState(runs.join(", "));
  const loaded = useFetch<MetricsOut[]>(`${project}|${runs.join(",")}|${domains.join(",")}`, () =>
    Promise.all(runs.map((r, i) => get<MetricsOut>(`/projects/${enc(project)}/executions/${enc(r)}/metrics${qs({ domain: domains[i] })}`))),
  );
  // a name shown twice (two domains) is told apart by its domain
  const twice = new Set(runs.filter((r, i) => runs.indexOf(r) !== i));
  const all = loaded.data ?? [];
  const names = byName(all.flatMap((m) => m.items)).map(([n]) => n);
  const chosen = name || names[0] || "";
  const lines: Line[] = [];
  all.forEach((m, i) => {
    const mine = m.items.filter((s) => s.name === chosen && (!node || s.node_id === node));
    for (const s of mine) {
      const many = mine.length > 1;
      // the run as the URL names it (its name in the project, or its id)
      lines.push({
        label: `${runs[i] ?? m.execution_id}${twice.has(runs[i]) && domains[i] ? ` (${domains[i]})` : ""}${many ? ` ${s.node_id}#${s.attempt}` : ""}`,
        steps: s.steps,
        values: s.values,
      });
    }
  });
  return (
    <div class="page metrics-page">
      <h1>Metrics across runs</h1>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          const next = text.split(/[\s,]+/).filter(Boolean).join(",");
          // the runs' domains hold while the runs do (typed runs are found by name or id)
          setQuery({ runs: next, domains: next === runs.join(",") ? query.get("domains") : null });
        }}
      >
        <label>
          runs{" "}
          <input name="runs" size={60} placeholder="execution ids, comma-separated" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </label>{" "}
        <button type="submit">Show</button>{" "}
        {names.length ? (
          <label>
            metric{" "}
            <select name="metric" value={chosen} onChange={(e) => setQuery({ name: (e.target as HTMLSelectElement).value })}>
              {names.map((n) => <option value={n}>{n}</option>)}
            </select>
          </label>
        ) : null}
      </form>
      <Problem error={loaded.error} />
      {runs.length === 0 ? <div class="muted">Give the ids of the runs to compare.</div> : null}
      {loaded.data && !lines.length ? <div class="muted">no metric {chosen ? `"${chosen}"` : ""} in these runs</div> : null}
      {lines.length ? <MetricChart title={chosen} lines={lines} height={320} /> : null}
    </div>
  );
}
