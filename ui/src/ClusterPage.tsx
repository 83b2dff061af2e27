// The cluster page: every node with bars of what Airfoil's attempts hold (CPU, memory, GPU)
// against its capacity and what runs there, the cluster's utilisation since the page was
// opened, and the admission queue -- waiting attempts in order with why they wait, running
// ones with where. Attempts of projects the key may not read are counted, never named.
import { useEffect, useRef, useState } from "preact/hooks";
import type { S } from "./api";
import { get, runPath } from "./api";
import { Link, Problem } from "./components";
import { useFetch } from "./util";

type Cluster = S["ClusterOut"];
type Node = S["ClusterNodeOut"];
type Item = S["QueueItemOut"];

const POLL_MS = 2000;
const HISTORY = 150; // samples kept for the utilisation chart (5 minutes at 2 s)

function mem(n: number): string {
  for (const [unit, size] of [["Ti", 2 ** 40], ["Gi", 2 ** 30], ["Mi", 2 ** 20]] as const) {
    if (n >= size) return `${+(n / size).toPrecision(3)}${unit}`;
  }
  return String(n);
}

function Bar(props: { label: string; used: number; total: number; show: (n: number) => string }) {
  const { label, used, total, show } = props;
  if (!total && !used) return <div class="cap-bar empty"><span class="cap-label">{label} –</span></div>;
  const pct = total ? Math.min(100, (100 * used) / total) : 100;
  return (
    <div class={`cap-bar ${label}`} title={`${label}: ${show(used)} of ${show(total)} held`} data-used={used} data-total={total}>
      <div class="cap-fill" style={{ width: `${pct}%` }} />
      <span class="cap-label">
        {label} {show(used)}/{show(total)}
      </span>
    </div>
  );
}

function Sparkline({ points }: { points: number[] }) {
  const w = 300;
  const h = 40;
  if (points.length < 2) return <svg class="util-chart" width={w} height={h} />;
  const step = w / (HISTORY - 1);
  const xy = points.map((v, i) => `${(i * step).toFixed(1)},${(h - v * (h - 2) - 1).toFixed(1)}`).join(" ");
  return (
    <svg class="util-chart" width={w} height={h} viewBox={`0 0 ${w} ${h}`}>
      <polyline points={xy} fill="none" stroke="#3b7dd8" stroke-width="1.5" />
    </svg>
  );
}

function short(name: string): string {
  return name.length > 14 ? name.slice(0, 12) + "…" : name;
}

/** What runs on a node: each attempt's run linked exactly as the queue (and the Runs page)
 * link it -- under the run's own project, by its name with its domain (a name is unique
 * within its project and domain only) -- from the queue item of the same attempt. The
 * server lists only attempts the key may read, each with its queue item. */
function Running({ refs, items }: { refs: string[]; items: Map<string, Item> }) {
  return (
    <>
      {refs.map((r) => {
        const q = items.get(r);
        if (!q) return <div class="small mono running-ref">{r}</div>;
        const run = q.execution_name || q.execution_id;
        return (
          <div class="small mono running-ref" data-project={q.project} data-domain={q.execution_domain}>
            <Link to={runPath(q.project, { name: q.execution_name, id: q.execution_id, domain: q.execution_domain }, { node: q.node_id })}>
              {run}/{q.node_id}
            </Link>
            <span class="muted"> {[q.project, q.execution_domain].filter(Boolean).join(" · ")}</span>
          </div>
        );
      })}
    </>
  );
}

export function ClusterPage(_props: { project: string }) {
  const cluster = useFetch<Cluster>("cluster", () => get<Cluster>("/cluster"), POLL_MS);
  const [util, setUtil] = useState<number[]>([]);
  const seen = useRef<Cluster | null>(null);
  useEffect(() => {
    const c = cluster.data;
    if (!c || seen.current === c) return;
    seen.current = c;
    const nodes = c.nodes.filter((n) => n.alive);
    const gpus = nodes.reduce((a, n) => a + n.gpu, 0);
    const [used, total] = gpus
      ? [nodes.reduce((a, n) => a + n.used_gpu, 0), gpus]
      : [nodes.reduce((a, n) => a + n.used_cpu, 0), nodes.reduce((a, n) => a + n.cpu, 0)];
    setUtil((u) => [...u, total ? used / total : 0].slice(-HISTORY));
  }, [cluster.data]);
  const c = cluster.data;
  // where a running attempt is: its nodes' addresses
  const where = new Map((c?.nodes ?? []).map((n) => [n.name, n.address || short(n.name)]));
  const gpuCluster = (c?.nodes ?? []).some((n) => n.gpu > 0);
  const waiting = (c?.queue ?? []).filter((q) => q.state === "waiting");
  const running = (c?.queue ?? []).filter((q) => q.state !== "waiting");
  const byAttempt = new Map((c?.queue ?? []).map((q) => [`${q.execution_id}/${q.node_id}`, q]));
  return (
    <div class="page cluster-page">
      <h1>Cluster</h1>
      <Problem error={cluster.error} />
      {c ? (
        <>
          <div class="muted small">
            {c.live ? "nodes read from the cluster now" : "nodes as admitting processes last reported"}
            {c.hidden ? ` · ${c.hidden} attempt(s) of other projects not shown` : ""}
          </div>
          <h2>
            Utilisation ({gpuCluster ? "GPUs" : "CPUs"} held) <span class="util-now muted small">{util.length ? `${Math.round(100 * util[util.length - 1])}%` : ""}</span>
          </h2>
          <Sparkline points={util} />
          <h2>Nodes</h2>
          {!c.nodes.length ? <div class="muted">no nodes known: nothing admits attempts now</div> : null}
          <table class="list cluster-nodes">
            <thead>
              <tr><th>node</th><th>address</th><th>alive</th><th>held / capacity</th><th>other resources</th><th>running</th></tr>
            </thead>
            <tbody>
              {c.nodes.map((n: Node) => (
                <tr data-node={n.name} class={n.alive ? "" : "dead"}>
                  <td class="mono" title={n.name}>
                    {n.machine ? n.name : short(n.name)}
                    {n.head ? <span class="muted small"> head</span> : null}
                  </td>
                  <td>{n.address}</td>
                  <td>{n.alive ? "yes" : <b class="failed">lost</b>}</td>
                  <td class="caps">
                    <Bar label="cpu" used={n.used_cpu} total={n.cpu} show={(x) => `${+x.toFixed(2)}`} />
                    <Bar label="mem" used={n.used_mem} total={n.mem} show={mem} />
                    <Bar label="gpu" used={n.used_gpu} total={n.gpu} show={String} />
                  </td>
                  <td class="small">{Object.entries(n.custom).map(([k, v]) => `${k}=${v}`).join(" ")}</td>
                  <td>
                    <Running refs={n.running} items={byAttempt} />
                    {n.hidden ? <div class="muted small">{n.hidden} of other projects</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Queue</h2>
          {!c.queue.length ? <div class="muted">nothing waits or runs under the scheduler</div> : null}
          {c.queue.length ? (
            <table class="list cluster-queue">
              <thead>
                <tr><th>state</th><th>project</th><th>execution</th><th>node</th><th>task</th><th>asks</th><th>why / where</th></tr>
              </thead>
              <tbody>
                {[...waiting, ...running].map((q: Item) => (
                  <tr data-state={q.state} data-node={q.node_id}>
                    <td>{q.state}</td>
                    <td>{q.project}</td>
                    <td><Link to={runPath(q.project, { name: q.execution_name, id: q.execution_id, domain: q.execution_domain }, { node: q.node_id })}>{q.execution_name || q.execution_id}</Link>{q.execution_domain ? <span class="muted small"> {q.execution_domain}</span> : null}</td>
                    <td class="mono">{q.node_id}</td>
                    <td class="small">{q.task}</td>
                    <td class="small">
                      {q.workers > 1 ? `${q.workers} × ` : ""}cpu={q.cpu} mem={mem(q.mem)} gpu={q.gpu}
                    </td>
                    <td class="small reason">
                      {q.state === "waiting" ? q.reason : q.placement.length ? `on ${q.placement.map((p) => where.get(p) ?? short(p)).join(", ")}` : q.gpus.length ? `GPUs ${q.gpus.join(",")}` : `on ${q.owner.split(":")[0]}`}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
