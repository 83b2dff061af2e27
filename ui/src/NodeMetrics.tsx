// The node panel's Metrics tab: one uPlot chart per metric the node's task logged, its
// attempts overlaid; a link opens the metric across runs.
import type { NodeOut, S } from "./api";
import { enc, get, isTerminal } from "./api";
import { Link, Problem } from "./components";
import { byName, MetricChart } from "./MetricChart";
import { useFetch } from "./util";

type MetricsOut = S["MetricsOut"];

export function NodeMetrics(props: { project: string; execution: string; node: string; rec: NodeOut | undefined }) {
  const { project, execution, node, rec } = props;
  const url = `/projects/${enc(project)}/executions/${enc(execution)}/metrics?node=${enc(node)}`;
  const live = !rec || !isTerminal(rec.phase);
  const m = useFetch<MetricsOut>(`${url}|${rec?.phase}|${rec?.attempts}`, () => get<MetricsOut>(url), live ? 2000 : 0, () => live);
  if (!m.data) return <Problem error={m.error} />;
  if (!m.data.items.length) return <div class="muted">{live ? "no metrics yet" : "this node logged no metrics"}</div>;
  return (
    <div class="node-metrics">
      {byName(m.data.items).map(([name, list]) => (
        <div>
          <MetricChart
            title={name}
            width={420}
            lines={list.map((s) => ({ label: list.length > 1 ? `attempt ${s.attempt}` : name, steps: s.steps, values: s.values }))}
          />
          <Link to={`/projects/${enc(project)}/metrics?runs=${enc(execution)}&name=${enc(name)}&node=${enc(node)}`} class="small">
            compare “{name}” across runs
          </Link>
        </div>
      ))}
    </div>
  );
}
