// The graph's text equivalent: a nested list of the nodes on screen (an open container's
// children inside it, an open map's items inside it), each with its name, input summary and
// phase, as a button that opens the node. Screen readers (and tests) read this list; the
// canvas itself is only pixels. Built after the first paint; at most MAX_ROWS rows.
import { useEffect, useState } from "preact/hooks";
import type { NodeOut } from "./api";
import type { Model, View } from "./graph";
import { displayPhase, heldCounts, type MapGrid, subtitle } from "./GraphView";

const MAX_ROWS = 2000;

export function GraphOutline(props: {
  model: Model;
  view: View;
  expanded: Set<string>;
  nodes: Map<string, NodeOut>;
  grids: Map<string, MapGrid>;
  onSelect: (id: string) => void;
  onToggle: (id: string) => void;
}) {
  const { model, view, expanded, nodes, grids } = props;
  // after the canvas' first paint: a list of 10,000 nodes must not delay it
  const [ready, setReady] = useState(false);
  useEffect(() => {
    const t = setTimeout(() => setReady(true), view.ids.length > 500 ? 300 : 0);
    return () => clearTimeout(t);
  }, []);
  if (!ready) return <div class="sr-only" aria-live="polite">graph loading</div>;

  const kids = new Map<string, string[]>();
  const roots: string[] = [];
  for (const id of view.ids) {
    const parent = model.nodes.get(id)?.parent;
    if (parent && view.index.has(parent)) {
      let list = kids.get(parent);
      if (!list) kids.set(parent, (list = []));
      list.push(id);
    } else roots.push(id);
  }
  const held = heldCounts(model);
  let rows = 0;
  const item = (id: string) => {
    if (rows >= MAX_ROWS) return null;
    rows++;
    const node = model.nodes.get(id)!;
    const rec = nodes.get(id);
    const phase = displayPhase(node, rec);
    const children = kids.get(id);
    const grid = expanded.has(id) ? grids.get(id) : undefined;
    const container = node.children.length > 0 || node.kind === "map";
    const holds = held.get(id) ?? 0;
    const collapsed = holds > 0 && !expanded.has(id) ? `, holds ${holds} node${holds === 1 ? "" : "s"}` : "";
    const what = subtitle(node.kind, phase, rec, node.gate?.kind) + collapsed;
    return (
      <li data-node={id} data-phase={phase}>
        <button type="button" class="outline-node" onClick={() => props.onSelect(id)}>
          {node.label}
          {node.summary ? ` (${node.summary})` : ""}: {what}
        </button>
        {container ? (
          <button type="button" aria-expanded={expanded.has(id)} onClick={() => props.onToggle(id)}>
            {expanded.has(id) ? "collapse" : "expand"} {node.label}
          </button>
        ) : null}
        {children ? <ul>{children.map(item)}</ul> : null}
        {grid ? (
          <ul aria-label={`items of ${node.label}`}>
            {Array.from({ length: Math.min(grid.total, MAX_ROWS) }, (_, i) => {
              const ph = grid.phases.get(i) ?? "pending";
              const hit = grid.hits.has(i);
              return (
                <li data-node={`${id}[${i}]`} data-phase={ph} data-cache={hit ? "hit" : undefined}>
                  item {i}: {ph}
                  {hit ? " (cache hit)" : ""}
                </li>
              );
            })}
          </ul>
        ) : null}
      </li>
    );
  };
  const list = roots.map(item);
  return (
    <nav class="sr-only" aria-label="Graph nodes">
      <ul class="graph-outline">{list}</ul>
      {rows >= MAX_ROWS ? <p>only the first {MAX_ROWS} nodes are listed; use “find node” for the others</p> : null}
    </nav>
  );
}
