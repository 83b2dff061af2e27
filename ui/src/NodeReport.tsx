// The node panel's Report tab: the report the node's task attached
// (af.current_context().report), shown in a sandboxed frame: its scripts (plotly) run, but
// it has no access to the console's origin, its key or the API.
import type { HtmlPage, NodeOut } from "./api";
import { ApiError, enc, getHtml, isTerminal } from "./api";
import { Problem } from "./components";
import { useFetch } from "./util";

export function NodeReport(props: { project: string; execution: string; node: string; rec: NodeOut | undefined }) {
  const { project, execution, node, rec } = props;
  const url = `/projects/${enc(project)}/executions/${enc(execution)}/nodes/${enc(node)}/report`;
  const live = !rec || !isTerminal(rec.phase);
  const r = useFetch<HtmlPage>(`${url}|${rec?.phase}|${rec?.attempts}`, () => getHtml(url), 0);
  if (r.error instanceof ApiError && r.error.status === 404)
    return <div class="muted">{live ? "no report yet (it is stored when the attempt ends)" : "this node's task attached no report"}</div>;
  if (!r.data) return <Problem error={r.error} />;
  return (
    <div class="node-report">
      <div class="small muted">attempt {r.data.attempt}</div>
      {r.data.damage !== null ? (
        <div class="problem report-damage">
          this report is damaged (its blob was changed), shown as far as it reads: {r.data.damage}
        </div>
      ) : null}
      <iframe class="report-frame" title="report" sandbox="allow-scripts" srcdoc={r.data.text} />
    </div>
  );
}
