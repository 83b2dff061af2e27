// One execution: its graph coloured live by phase, a timeline, its inputs and outputs,
// the gates waiting for an answer, and the panel of the node picked.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ExecutionDetail, ExecutionSummary, GateOut, GraphOut, MapItemsOut, NodeOut } from "./api";
import { enc, get, isTerminal, post, runPath } from "./api";
import { ErrorView, Link, Phase, Problem, Tabs, Unreadable, ValueView } from "./components";
import { GateForm } from "./Gates";
import { MAX_ITEMS, buildModel, type Model } from "./graph";
import { GraphView, type MapGrid, displayPhase } from "./GraphView";
import { NodePanel } from "./NodePanel";
import { navigate, setQuery } from "./router";
import { Timeline } from "./Timeline";
import { elapsed, fmtDuration, fmtTime, phaseColor, useFetch, useTick } from "./util";

export function ExecutionPage(props: { project: string; id: string; query: URLSearchParams }) {
  const { project, id, query } = props;
  const base = `/projects/${enc(project)}/executions/${enc(id)}`;
  // ?domain= picks a name used in several domains of the project (links from the list carry it)
  const domain = query.get("domain");
  const inDomain = (url: string) => (domain ? `${url}${url.includes("?") ? "&" : "?"}domain=${enc(domain)}` : url);
  // live: polled while it runs (less often for executions of thousands of nodes)
  const bigRef = useRef(false);
  const detail = useFetch<ExecutionDetail>(
    inDomain(base),
    async () => {
      const d = await get<ExecutionDetail>(inDomain(base));
      bigRef.current = (d.nodes ?? []).length > 2000;
      return d;
    },
    1000,
    (d) => !isTerminal(d.phase),
    false,
    () => (bigRef.current ? 3000 : 1000),
  );
  const [graph, setGraph] = useState<GraphOut | null>(null);
  const [graphError, setGraphError] = useState<Error | null>(null);
  const [expanded, setExpanded] = useState<Set<string> | null>(null);
  const graphLoading = useRef(false);
  const seenContainers = useRef(new Set<string>());
  const d = detail.data;

  const loadGraph = async () => {
    if (graphLoading.current) return;
    graphLoading.current = true;
    try {
      const g = await get<GraphOut>(inDomain(`${base}/graph`));
      setGraph(g);
      setGraphError(null);
    } catch (e) {
      setGraphError(e as Error);
    } finally {
      graphLoading.current = false;
    }
  };
  useEffect(() => {
    setGraph(null);
    setExpanded(null);
    seenContainers.current = new Set();
    loadGraph();
  }, [base, domain]);

  const baseModel: Model | null = useMemo(() => (graph ? buildModel(graph) : null), [graph]);
  const baseNodes = useMemo(() => new Map<string, NodeOut>((d?.nodes ?? []).map((n) => [n.id, n])), [d]);
  // open map nodes show their items as nodes
  const openMaps = baseModel && expanded ? [...expanded].filter((x) => baseModel.nodes.get(x)?.kind === "map").sort() : [];
  const mapsKey = openMaps.map((x) => `${x}:${JSON.stringify(baseNodes.get(x)?.map_counts ?? {})}`).join("|");
  const items = useFetch<Map<string, MapItemsOut>>(
    `items|${inDomain(base)}|${mapsKey}`,
    async () => {
      const out = new Map<string, MapItemsOut>();
      for (const m of openMaps) out.set(m, await get<MapItemsOut>(inDomain(`${base}/nodes/${enc(m)}/items?limit=${MAX_ITEMS}`)));
      return out;
    },
    0,
    undefined,
    true,
  );
  const model = baseModel;
  const nodes = baseNodes;
  // the item grids of open map nodes (their items are not graph nodes)
  const grids = useMemo(() => {
    const out = new Map<string, MapGrid>();
    for (const [m, it] of items.data ?? []) {
      if (!expanded?.has(m)) continue;
      const phases = new Map<number, string>();
      const hits = new Set<number>();
      for (const i of it.items) {
        phases.set(i.index, i.phase);
        if (i.cache === "hit") hits.add(i.index);
      }
      out.set(m, { total: Math.max(it.total, it.items.length), phases, hits });
    }
    return out;
  }, [items.data, expanded]);
  // nodes the graph does not know yet (built by dynamic nodes, called by tasks)
  useEffect(() => {
    if (!baseModel || !d) return;
    for (const n of d.nodes ?? []) {
      if (!baseModel.nodes.has(n.id)) {
        loadGraph();
        return;
      }
    }
  }, [d, baseModel]);
  // containers start open in small graphs (also those a dynamic node builds later), closed
  // in large ones; once seen, a container stays as the user leaves it
  useEffect(() => {
    if (!baseModel) return;
    const small = baseModel.order.length <= 200;
    const open = new Set(expanded ?? []);
    let changed = expanded === null;
    for (const [k, n] of baseModel.nodes) {
      if (!n.children.length || seenContainers.current.has(k)) continue;
      seenContainers.current.add(k);
      if (small) {
        open.add(k);
        changed = true;
      }
    }
    if (changed) setExpanded(open);
  }, [baseModel]);

  const labels = useMemo(() => new Map([...(model?.nodes ?? new Map()).values()].map((n) => [n.id, n.label])), [model]);
  useTick(1000, !!d && !isTerminal(d.phase));
  const selected = query.get("node");
  const tab = query.get("view") ?? "Graph";
  const waiting = useMemo(() => {
    if (!model) return [];
    const out: { id: string; gate: GateOut }[] = [];
    for (const [nid, n] of model.nodes) {
      if (n.gate && n.gate.kind !== "sleep" && displayPhase(n, nodes.get(nid)) === "waiting") out.push({ id: nid, gate: n.gate });
    }
    return out;
  }, [model, nodes]);

  if (!d) {
    return (
      <div class="page">
        <Problem error={detail.error} />
        {detail.error ? null : <div class="muted pad">loading…</div>}
      </div>
    );
  }
  const selNode = selected && model ? model.nodes.get(selected) : undefined;
  return (
    <div class="page execution">
      <div class="exec-head">
        <div>
          <div class="crumbs">
            <Link to={`/projects/${enc(project)}/executions`}>executions</Link> /{" "}
            <Link to={`/projects/${enc(project)}/entities/${enc(d.workflow)}`}>{d.workflow}</Link>
          </div>
          <h1>
            <span class="mono" data-name={d.name || d.id}>{d.name || d.id}</span> <Phase phase={d.phase} />
            {d.name && d.name !== d.id ? <span class="muted small mono" title="its id across the server"> {d.id}</span> : null}
          </h1>
          <div class="muted">
            version <span class="mono">{d.version}</span> · {d.domain} · created {fmtTime(d.created_at)} · duration{" "}
            <span data-duration>{fmtDuration(d.duration_s ?? elapsed(d.started_at, d.ended_at))}</span> ·{" "}
            {(() => {
              const k = d.node_count ?? d.nodes?.length ?? 0;
              return `${k} node${k === 1 ? "" : "s"}`;
            })()}
          </div>
        </div>
        <ExecActions project={project} d={d} onChange={detail.reload} />
      </div>
      {d.error ? <ErrorView error={d.error} /> : null}
      <Unreadable items={d.unreadable} />
      {waiting.length ? (
        <div class="waiting">
          {waiting.map((w) => (
            <GateForm key={w.id} project={project} execution={domain ? d.id : id} node={w.id} gate={w.gate} onDone={detail.reload} />
          ))}
        </div>
      ) : null}
      <Tabs tabs={["Graph", "Timeline", "Inputs & outputs"]} current={tab} onChange={(t) => setQuery({ view: t === "Graph" ? null : t })} />
      <div class="exec-body">
        <div class="exec-main">
          <Problem error={graphError} />
          {tab === "Graph" && model && expanded ? (
            <GraphView
              model={model}
              expanded={expanded}
              nodes={nodes}
              grids={grids}
              selected={selected}
              onSelect={(nid) => setQuery({ node: nid, item: null })}
              onItem={(mid, i) => setQuery({ node: mid, tab: "Items", item: String(i) })}
              onToggle={(nid) => {
                const next = new Set(expanded);
                if (next.has(nid)) next.delete(nid);
                else next.add(nid);
                setExpanded(next);
              }}
            />
          ) : null}
          {tab === "Graph" ? <Legend /> : null}
          {tab === "Timeline" ? <Timeline detail={d} labels={labels} selected={selected} onSelect={(nid) => setQuery({ node: nid })} /> : null}
          {tab === "Inputs & outputs" ? (
            <div class="io">
              <h3>Inputs</h3>
              {(d.inputs ?? []).length ? (d.inputs ?? []).map((v) => <ValueView value={v} />) : <div class="muted">none</div>}
              <h3>Outputs</h3>
              {(d.outputs ?? []).length ? (d.outputs ?? []).map((v) => <ValueView value={v} />) : <div class="muted">none yet</div>}
            </div>
          ) : null}
        </div>
        {selNode ? (
          <NodePanel
            project={project}
            execution={domain ? d.id : id}
            node={selNode}
            rec={nodes.get(selNode.id)}
            tab={query.get("tab") ?? "Overview"}
            item={query.get("item")}
            onTab={(t) => setQuery({ tab: t })}
            onItem={(i) => setQuery({ item: i === null ? null : String(i) })}
            onClose={() => setQuery({ node: null, tab: null, item: null })}
            onAnswered={detail.reload}
            nodes={model?.nodes}
            onSelect={(nid) => setQuery({ node: nid, item: null })}
          />
        ) : null}
      </div>
    </div>
  );
}

function ExecActions(props: { project: string; d: ExecutionDetail; onChange: () => void }) {
  const { project, d } = props;
  const [error, setError] = useState<string | null>(null);
  const base = `/projects/${enc(project)}/executions/${enc(d.id)}`;
  const act = async (what: "terminate" | "relaunch") => {
    setError(null);
    try {
      const out = await post<ExecutionSummary>(`${base}/${what}`, what === "terminate" ? { reason: "terminated from the console" } : undefined);
      if (what === "relaunch") navigate(runPath(project, out));
      else props.onChange();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div class="actions">
      {!isTerminal(d.phase) ? (
        <button class="danger" onClick={() => confirm(`Terminate ${d.name || d.id}?`) && act("terminate")}>
          Terminate
        </button>
      ) : null}
      <button onClick={() => act("relaunch")} title="a new run with the same inputs">Relaunch</button>
      <Link
        class="button"
        to={`/projects/${enc(project)}/entities/${enc(d.workflow)}?version=${enc(d.version)}&from=${enc(d.id)}`}
        title="the workflow's launch form, filled with this run's inputs"
      >
        Relaunch with changed inputs…
      </Link>
      {error ? <div class="field-error">{error}</div> : null}
    </div>
  );
}

function Legend() {
  const phases = ["pending", "queued", "running", "waiting", "succeeded", "failed", "aborted", "skipped", "interrupted"];
  return (
    <div class="legend">
      {phases.map((p) => (
        <span>
          <i style={{ background: phaseColor(p) }} />
          {p}
        </span>
      ))}
      <span>· click a node for its panel; + expands subworkflows, dynamic and map nodes</span>
    </div>
  );
}
