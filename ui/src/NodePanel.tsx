// The node panel: overview (cache status and reason, error), inputs, outputs, logs (tailed
// while the node runs), attempts with errors and tracebacks, and a map node's items.
import type { AnomalyList, GateOut, MapItemsOut, NodeOut, S } from "./api";
import { enc, get, isTerminal } from "./api";
import { ErrorView, Link, Phase, Problem, Tabs, Unreadable, ValueView } from "./components";
import { GateForm } from "./Gates";
import { Logs } from "./LogView";
import { NodeMetrics } from "./NodeMetrics";
import { NodeReport } from "./NodeReport";
import type { GNode } from "./graph";
import { elapsed, fmtDuration, fmtTime, phaseColor, useFetch } from "./util";

export function NodePanel(props: {
  project: string;
  execution: string;
  node: GNode;
  rec: NodeOut | undefined;
  tab: string;
  item: string | null;
  onTab: (t: string) => void;
  onItem: (i: number | null) => void;
  onClose: () => void;
  onAnswered: () => void;
  /** the execution's nodes (to name a call's caller and a caller's calls) */
  nodes?: Map<string, GNode>;
  onSelect?: (nid: string) => void;
}) {
  const { project, execution, node, rec } = props;
  const base = `/projects/${enc(project)}/executions/${enc(execution)}/nodes/${enc(node.id)}`;
  const running = !rec || !isTerminal(rec.phase);
  // re-fetch the detail (with full previews) whenever the node's summary changes
  const version = rec ? `${rec.phase}|${rec.attempts}|${rec.ended_at}` : "none";
  const detail = useFetch<S["NodeDetailOut"]>(`${base}|${version}`, () => get<S["NodeDetailOut"]>(base));
  const d = detail.data ?? rec;
  const tabs = ["Overview", "Inputs", "Outputs", "Logs", "Attempts", "Metrics", "Report"];
  if (node.kind === "map") tabs.push("Items");
  const tab = tabs.includes(props.tab) ? props.tab : "Overview";
  return (
    <aside class="panel" data-node={node.id}>
      <div class="panel-head">
        <div>
          <div class="panel-title">{node.label}</div>
          <div class="muted mono">{node.id}</div>
        </div>
        <button class="close" title="close" onClick={props.onClose}>
          ×
        </button>
      </div>
      <div class="panel-meta">
        <Phase phase={rec?.phase ?? "pending"} /> <span class="muted">{node.kind}</span>{" "}
        {node.task ? <code>{node.task}</code> : null}{" "}
        {node.task && (node.kind === "task" || node.kind === "map") ? (
          <Link to={`/projects/${enc(project)}/tasks/${enc(node.task)}`} class="small task-history-link" title="durations and metrics of this task's latest runs">
            history
          </Link>
        ) : null}
      </div>
      <Unreadable items={detail.data?.unreadable} />
      <Calls node={node} nodes={props.nodes} onSelect={props.onSelect} />
      {node.gate && node.gate.kind !== "sleep" && rec && !isTerminal(rec.phase) && rec.phase !== "pending" ? (
        <GateForm project={project} execution={execution} node={node.id} gate={node.gate as GateOut} onDone={props.onAnswered} />
      ) : null}
      <Tabs tabs={tabs} current={tab} onChange={props.onTab} />
      <div class="panel-body">
        <Problem error={detail.error} />
        {tab === "Overview" && d ? <Overview n={d} /> : null}
        {tab === "Overview" && rec && isTerminal(rec.phase) ? (
          <Anomalies project={project} execution={execution} node={node.id} />
        ) : null}
        {tab === "Inputs" && d ? <Values values={d.inputs ?? []} empty="no inputs recorded" /> : null}
        {tab === "Outputs" && d ? (
          <Values values={d.outputs ?? []} empty={running ? "no outputs yet" : "no outputs"} />
        ) : null}
        {tab === "Logs" && node.kind !== "map" ? <Logs project={project} base={base} rec={rec} /> : null}
        {tab === "Logs" && node.kind === "map" ? (
          <ItemLogs project={project} base={base} rec={rec} picked={props.item === null ? null : Number(props.item)} onTab={props.onTab} />
        ) : null}
        {tab === "Attempts" && d ? <Attempts n={d} /> : null}
        {tab === "Metrics" ? <NodeMetrics project={project} execution={execution} node={node.id} rec={rec} /> : null}
        {tab === "Report" ? <NodeReport project={project} execution={execution} node={node.id} rec={rec} /> : null}
        {tab === "Items" ? (
          <Items base={base} rec={rec} picked={props.item === null ? null : Number(props.item)} onPick={props.onItem} onTab={props.onTab} />
        ) : null}
      </div>
    </aside>
  );
}

// A call a running task made (of a task or a workflow) links to its caller; a caller lists
// the calls it made, each a link that opens that node.
function Calls(props: { node: GNode; nodes?: Map<string, GNode>; onSelect?: (nid: string) => void }) {
  const { node, nodes, onSelect } = props;
  if (!nodes || !onSelect) return null;
  const caller = node.kind === "child" && node.parent ? nodes.get(node.parent) : undefined;
  const calls = node.children.map((c) => nodes.get(c)).filter((c): c is GNode => c?.kind === "child");
  if (!caller && calls.length === 0) return null;
  const link = (n: GNode) => (
    <a href={`?node=${enc(n.id)}`} data-goto={n.id} title={n.id} onClick={(e) => { e.preventDefault(); onSelect(n.id); }}>
      {n.label}
    </a>
  );
  return (
    <div class="panel-calls small">
      {caller ? <div data-called-by={caller.id}>called by {link(caller)}</div> : null}
      {calls.length ? (
        <div data-calls={calls.length}>
          calls{" "}
          {calls.map((c, i) => (
            <span>{i ? ", " : ""}{link(c)}</span>
          ))}
        </div>
      ) : null}
    </div>
  );
}

function Overview({ n }: { n: NodeOut }) {
  return (
    <div>
      <table class="kv">
        <tbody>
          <tr><th>phase</th><td><Phase phase={n.phase} /></td></tr>
          <tr><th>attempts</th><td>{n.attempts}</td></tr>
          <tr><th>queued</th><td>{fmtTime(n.queued_at)}</td></tr>
          <tr><th>started</th><td>{fmtTime(n.started_at)}</td></tr>
          <tr><th>ended</th><td>{fmtTime(n.ended_at)}</td></tr>
          <tr><th>duration</th><td>{fmtDuration(n.duration_s ?? elapsed(n.started_at, n.ended_at))}</td></tr>
          <tr><th>cache</th><td data-cache={n.cache_status}><b>{n.cache_status}</b>{n.cache_reason ? ` — ${n.cache_reason}` : ""}</td></tr>
          {n.cache_key ? <tr><th>cache key</th><td class="mono small">{n.cache_key}</td></tr> : null}
          {n.branch_taken >= 0 ? <tr><th>branch taken</th><td>case {n.branch_taken}</td></tr> : null}
          {n.map_counts && Object.keys(n.map_counts).length ? (
            <tr><th>items</th><td>{Object.entries(n.map_counts).map(([k, v]) => `${k} ${v}`).join(", ")}</td></tr>
          ) : null}
        </tbody>
      </table>
      {n.error ? <ErrorView error={n.error} /> : null}
    </div>
  );
}

// Attempts of this node (or its map items, children) far from their task version's history.
function Anomalies(props: { project: string; execution: string; node: string }) {
  const url = `/projects/${enc(props.project)}/executions/${enc(props.execution)}/anomalies`;
  const found = useFetch<AnomalyList>(url, () => get<AnomalyList>(url));
  const own = (found.data?.items ?? []).filter(
    (a) => a.node_id === props.node || a.node_id.startsWith(`${props.node}[`) || a.node_id.startsWith(`${props.node}.`),
  );
  if (own.length === 0) return null;
  return (
    <div class="anomalies" data-anomalies={own.length}>
      <b>⚠ far from this task's history</b>
      <span class="muted small"> (beyond {found.data?.k} std of up to {found.data?.runs} earlier runs)</span>
      <ul>
        {own.map((a) => (
          <li data-anomaly={a.kind} data-metric={a.metric || undefined}>
            {a.node_id !== props.node ? <code>{a.node_id} </code> : null}
            {a.attempt > 1 ? `attempt ${a.attempt}: ` : ""}
            {a.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Values({ values, empty }: { values: NodeOut["inputs"]; empty: string }) {
  if (!values || values.length === 0) return <div class="muted">{empty}</div>;
  return <div>{values.map((v) => <ValueView value={v} />)}</div>;
}

function Attempts({ n }: { n: NodeOut }) {
  const list = n.attempt_list ?? [];
  if (list.length === 0) return <div class="muted">not run yet</div>;
  return (
    <div>
      {list.map((a) => (
        <div class="attempt" data-attempt={a.attempt}>
          <div>
            <b>attempt {a.attempt}</b> <Phase phase={a.phase} />{" "}
            <span class="muted">
              {fmtTime(a.started_at)} · {fmtDuration(a.duration_s ?? elapsed(a.started_at, a.ended_at))}
              {a.worker ? ` · ${a.worker}` : ""}
            </span>
          </div>
          {a.trace_id ? (
            <div class="small muted trace-id" title="OpenTelemetry ids of this attempt (traces are exported when the server has otel_endpoint)">
              trace {a.trace_id} · span {a.span_id}
            </div>
          ) : null}
          {a.error ? <ErrorView error={a.error} /> : null}
        </div>
      ))}
    </div>
  );
}

function Items({ base, rec, picked, onPick, onTab }: {
  base: string;
  rec: NodeOut | undefined;
  picked: number | null;
  onPick: (i: number | null) => void;
  onTab: (t: string) => void;
}) {
  const items = useItems(base, rec);
  if (!items.data) return <Problem error={items.error} />;
  const byIndex = new Map(items.data.items.map((i) => [i.index, i]));
  const total = Math.max(items.data.total, items.data.items.length);
  const item = picked !== null ? byIndex.get(picked) : undefined;
  return (
    <div>
      <div class="muted">{total} items; click one for its details</div>
      <div class="items-grid">
        {Array.from({ length: Math.min(total, 10000) }, (_, i) => {
          const it = byIndex.get(i);
          const ph = it?.phase ?? "pending";
          const hit = it?.cache === "hit";
          const label = `item ${i}: ${ph}${hit ? " (cache hit)" : ""}`;
          return (
            <button
              type="button"
              class={`item${i === picked ? " picked" : ""}${hit ? " hit" : ""}`}
              title={label}
              aria-label={label}
              data-item={i}
              data-cache={it?.cache}
              style={{ background: phaseColor(ph) }}
              onClick={() => onPick(i)}
            />
          );
        })}
      </div>
      {picked !== null ? (
        <div class="attempt">
          <b>item {picked}</b> <Phase phase={item?.phase ?? "pending"} />{" "}
          {item ? (
            <span class="muted">
              {item.attempts} attempt(s) · {fmtDuration(item.duration_s)}
              {item.worker ? ` · worker ${item.worker}` : ""} · cache {item.cache}
            </span>
          ) : null}
          {item && item.cache !== "hit" ? (
            <button class="link" data-item-log={picked} onClick={() => onTab("Logs")}>
              its log →
            </button>
          ) : null}
          {item?.error ? <ErrorView error={item.error} /> : null}
        </div>
      ) : null}
    </div>
  );
}

/** A map's tried items (up to 10,000), polled while the map runs. */
function useItems(base: string, rec: NodeOut | undefined) {
  const live = !rec || !isTerminal(rec.phase);
  return useFetch<MapItemsOut>(
    `${base}/items|${JSON.stringify(rec?.map_counts)}`,
    () => get<MapItemsOut>(`${base}/items?limit=10000`),
    live ? 1500 : 0,
    () => live,
  );
}

// A map node's logs are its items': the picked item's (its tries), else a pointer to Items.
// The map node itself runs nothing, so its own log does not exist.
function ItemLogs(props: {
  project: string;
  base: string;
  rec: NodeOut | undefined;
  picked: number | null;
  onTab: (t: string) => void;
}) {
  const { base, rec, picked } = props;
  const items = useItems(base, rec);
  if (picked === null || Number.isNaN(picked)) {
    return (
      <div class="muted pad" data-map-logs="pick">
        a map's logs are its items': pick one in{" "}
        <button class="link" onClick={() => props.onTab("Items")}>Items</button> (or in the graph's grid) to read its log
      </div>
    );
  }
  const item = items.data?.items.find((i) => i.index === picked);
  const itemBase = base.replace(/[^/]+$/, (nid) => enc(`${decodeURIComponent(nid)}[${picked}]`));
  return (
    <div data-map-logs={picked}>
      <div class="small">
        <b>item {picked}</b> {item ? <Phase phase={item.phase} /> : null}{" "}
        <button class="link" onClick={() => props.onTab("Items")}>other items</button>
      </div>
      <Logs key={picked} project={props.project} base={itemBase} rec={rec} item={item} />
    </div>
  );
}
