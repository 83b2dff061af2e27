// Task histories (what `airfoil tasks stats NAME` shows): the tasks of a project with recorded
// runs, and one task version's latest successful runs: duration and metric summaries (mean,
// std, p50, p95), a plot of durations per run, runs beyond k std of the mean flagged, each
// run a link to its node.
import { useMemo } from "preact/hooks";
import type { S } from "./api";
import { enc, get, qs, runPath } from "./api";
import { Link, Problem } from "./components";
import { MetricChart, type Line } from "./MetricChart";
import { setQuery } from "./router";
import { fmtDuration, fmtTime, useFetch } from "./util";

type TaskNames = S["TaskNameList"];
type Stats = S["TaskStatsOut"];
type Summary = S["SummaryOut"];
type Run = S["TaskRunOut"];

const RUN_CHOICES = [20, 50, 100, 500, 1000];

export function TasksPage(props: { project: string }) {
  const { project } = props;
  const url = `/projects/${enc(project)}/tasks`;
  const list = useFetch<TaskNames>(url, () => get<TaskNames>(url));
  const items = list.data?.items ?? [];
  return (
    <div class="page tasks-page">
      <h1>Task histories</h1>
      <p class="muted small">
        Every task with recorded runs in this project; open one for its durations and metrics over its latest runs
        (<code>airfoil tasks stats NAME</code>).
      </p>
      <Problem error={list.error} />
      {list.data && !items.length ? <div class="muted">no task has run in this project yet</div> : null}
      {items.length ? (
        <table class="list task-names">
          <thead>
            <tr><th>task</th><th>runs</th><th>failed</th><th>last ended</th></tr>
          </thead>
          <tbody>
            {items.map((t) => (
              <tr data-task={t.task}>
                <td><Link to={`/projects/${enc(project)}/tasks/${enc(t.task)}`}>{t.task}</Link></td>
                <td>{t.runs}</td>
                <td class={t.failed ? "bad" : ""}>{t.failed}</td>
                <td>{fmtTime(t.last_ended_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

/** Beyond k standard deviations of the mean (a history without spread: any other value). */
function far(value: number, s: Summary | null | undefined, k: number): boolean {
  if (!s || s.count < 2) return false;
  if (s.std === 0) return value !== s.mean;
  return Math.abs(value - s.mean) > k * s.std;
}

function runLink(project: string, r: Run): string {
  const m = /^(.*)\[(\d+)\]$/.exec(r.node_id);
  const query = m ? { node: m[1], tab: "Items", item: m[2] } : { node: r.node_id };
  return runPath(project, { name: r.name, id: r.execution_id, domain: r.domain }, query);
}

function fmt(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined) return "";
  if (unit === "s") return fmtDuration(v);
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

function SummaryRow(props: { name: string; s: Summary; unit: string }) {
  const { s, unit } = props;
  return (
    <tr data-summary={props.name}>
      <th>{props.name}</th>
      <td>{s.count}</td>
      <td data-stat="mean">{fmt(s.mean, unit)}</td>
      <td data-stat="std">{fmt(s.std, unit)}</td>
      <td data-stat="p50">{fmt(s.p50, unit)}</td>
      <td data-stat="p95">{fmt(s.p95, unit)}</td>
      <td>{fmt(s.min, unit)}</td>
      <td>{fmt(s.max, unit)}</td>
    </tr>
  );
}

/** Values per run, oldest first, with the mean and the mean ± k std as flat lines. */
function historyLines(name: string, values: (number | null)[], s: Summary | null | undefined, k: number): Line[] {
  const steps = values.map((_, i) => i + 1);
  const lines: Line[] = [{ label: name, steps, values }];
  if (s && values.length > 1) {
    lines.push({ label: "mean", steps, values: steps.map(() => s.mean) });
    if (s.std > 0) {
      lines.push({ label: `mean + ${k} std`, steps, values: steps.map(() => s.mean + k * s.std) });
      lines.push({ label: `mean - ${k} std`, steps, values: steps.map(() => s.mean - k * s.std) });
    }
  }
  return lines;
}

export function TaskPage(props: { project: string; name: string; query: URLSearchParams }) {
  const { project, name, query } = props;
  const version = query.get("version") ?? "";
  const last = Number(query.get("last") ?? "") || null;
  const url = `/projects/${enc(project)}/tasks/${enc(name)}/stats`;
  const stats = useFetch<Stats>(`${url}|${version}|${last}`, () => get<Stats>(url + qs({ version, last })));
  const d = stats.data;
  const k = d?.k ?? 3;
  const oldestFirst = useMemo(() => (d ? [...d.runs].reverse() : []), [d]);
  const durationLines = useMemo(
    () => historyLines("duration (s)", oldestFirst.map((r) => r.duration), d?.duration, k),
    [oldestFirst, d, k],
  );
  const metricNames = useMemo(() => Object.keys(d?.metrics ?? {}).sort(), [d]);
  const metricLines = useMemo(
    () =>
      metricNames.map((m) =>
        historyLines(m, oldestFirst.map((r) => r.metrics?.[m] ?? null), d?.metrics[m], k),
      ),
    [metricNames, oldestFirst, d, k],
  );
  const flagged = d ? d.runs.filter((r) => far(r.duration, d.duration, k)).length : 0;
  return (
    <div class="page task-page">
      <div class="crumbs">
        <Link to={`/projects/${enc(project)}/tasks`}>task histories</Link> /
      </div>
      <h1>
        {name} {d ? <span class="muted small mono" title={d.version}>@ {d.version.slice(0, 16)}</span> : null}
      </h1>
      <Problem error={stats.error} />
      {d ? (
        <div>
          <div class="row">
            <label>
              version{" "}
              <select name="version" value={d.version} onChange={(e) => setQuery({ version: (e.target as HTMLSelectElement).value })}>
                {d.versions.map((v) => (
                  <option value={v.version}>
                    {v.version.slice(0, 16)} ({v.runs} runs, last {fmtTime(v.last_ended_at)})
                  </option>
                ))}
              </select>
            </label>{" "}
            <label>
              latest{" "}
              <select name="last" value={String(last ?? "")} onChange={(e) => setQuery({ last: (e.target as HTMLSelectElement).value })}>
                <option value="">server default</option>
                {RUN_CHOICES.map((n) => <option value={String(n)}>{n}</option>)}
              </select>{" "}
              runs
            </label>
          </div>
          <p class="muted small" data-runs={d.runs.length}>
            {d.runs.length} successful runs of this version (newest first); a run more than {k} standard deviations from
            the mean is marked ⚠{flagged ? ` (${flagged} of them)` : ""}.
          </p>
          <table class="list task-summary">
            <thead>
              <tr><th></th><th>n</th><th>mean</th><th>std</th><th>p50</th><th>p95</th><th>min</th><th>max</th></tr>
            </thead>
            <tbody>
              {d.duration ? <SummaryRow name="duration" s={d.duration} unit="s" /> : null}
              {metricNames.map((m) => <SummaryRow name={m} s={d.metrics[m]} unit="" />)}
            </tbody>
          </table>
          <div class="task-charts">
            <MetricChart title="duration per run" lines={durationLines} xLabel="run (oldest first)" />
            {metricNames.map((m, i) => (
              <MetricChart title={`${m} (final value) per run`} lines={metricLines[i]} xLabel="run (oldest first)" />
            ))}
          </div>
          <h3>Runs</h3>
          <table class="list task-runs">
            <thead>
              <tr><th></th><th>execution</th><th>node</th><th>attempt</th><th>ended</th><th>duration</th>{metricNames.map((m) => <th>{m}</th>)}</tr>
            </thead>
            <tbody>
              {d.runs.map((r) => {
                const slow = far(r.duration, d.duration, k);
                const odd = metricNames.filter((m) => {
                  const v = r.metrics?.[m];
                  return v !== undefined && v !== null && far(v, d.metrics[m], k);
                });
                return (
                  <tr data-execution={r.name || r.execution_id} data-node={r.node_id} data-anomaly={slow || odd.length ? "1" : undefined} class={slow || odd.length ? "anomaly" : ""}>
                    <td>{slow || odd.length ? <span title={`beyond ${k} std: ${[slow ? "duration" : "", ...odd].filter(Boolean).join(", ")}`}>⚠</span> : null}</td>
                    <td><Link to={runLink(project, r)} class="mono">{r.name || r.execution_id}</Link></td>
                    <td class="mono">{r.node_id}</td>
                    <td>{r.attempt}</td>
                    <td>{fmtTime(r.ended_at)}</td>
                    <td class={slow ? "bad" : ""} data-far={slow ? "duration" : undefined}>{fmtDuration(r.duration)}</td>
                    {metricNames.map((m) => (
                      <td class={odd.includes(m) ? "bad" : ""} data-far={odd.includes(m) ? m : undefined}>{fmt(r.metrics?.[m], "")}</td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
