// Where every node of a graph with open containers goes: a compound (nested) layered layout
// by ELK (elkjs), in which an open subworkflow, branch or dynamic node is a box around its
// children and an open map node is one box holding its item grid. ELK runs in a Web Worker
// started on first use (its 1.5 MB script is parsed there), so the page never freezes while
// it lays a graph out and big flat graphs, laid out by layout.ts, never wait for it.
import ElkApi, { type ELK, type ElkExtendedEdge, type ElkNode } from "elkjs/lib/elk-api";
import workerUrl from "elkjs/lib/elk-worker.min.js?url";
import type { Model, View } from "./graph";
import { NODE_H, NODE_W, type Placed } from "./layout";

/** The room a container's header takes above its children. */
export const HEADER_H = 30;
const PAD = 12;

let engine: Promise<ELK> | null = null;

function elk(): Promise<ELK> {
  engine ??= Promise.resolve(new ElkApi({ workerUrl }));
  return engine;
}

/** The size of each item cell of an open map's grid, and the grid's shape. */
export const CELL = 12;
export const CELL_GAP = 2;

export function gridShape(count: number): { cols: number; rows: number; w: number; h: number } {
  const cols = Math.max(1, Math.min(count, Math.ceil(Math.sqrt(count * 3))));
  const rows = Math.max(1, Math.ceil(count / cols));
  const w = Math.max(NODE_W, cols * (CELL + CELL_GAP) - CELL_GAP + 2 * PAD);
  const h = HEADER_H + rows * (CELL + CELL_GAP) - CELL_GAP + PAD;
  return { cols, rows, w, h };
}

/**
 * Lay out `view` with its open containers as boxes. `open(id)` says whether a node is an open
 * container; `mapItems(id)` is the item count of an open map node (drawn as a grid), or -1.
 */
export async function compoundLayout(
  model: Model,
  view: View,
  open: (id: string) => boolean,
  mapItems: (id: string) => number,
): Promise<Placed> {
  const n = view.ids.length;
  const elkNodes: ElkNode[] = view.ids.map((id, i) => {
    const items = mapItems(id);
    if (items >= 0) {
      const g = gridShape(items);
      return { id: String(i), width: g.w, height: g.h };
    }
    return { id: String(i), width: NODE_W, height: NODE_H };
  });
  const roots: ElkNode[] = [];
  view.ids.forEach((id, i) => {
    const parent = model.nodes.get(id)?.parent;
    const pi = parent ? view.index.get(parent) : undefined;
    if (pi !== undefined && open(parent!)) {
      const box = elkNodes[pi];
      box.children ??= [];
      box.children.push(elkNodes[i]);
    } else roots.push(elkNodes[i]);
  });
  for (const node of elkNodes) {
    if (node.children?.length) {
      delete node.width;
      delete node.height;
      node.layoutOptions = {
        "elk.padding": `[top=${HEADER_H + 8},left=${PAD},bottom=${PAD},right=${PAD}]`,
        "elk.nodeSize.constraints": "MINIMUM_SIZE",
        "elk.nodeSize.minimum": `(${NODE_W + 2 * PAD}, ${NODE_H + HEADER_H + PAD})`,
      };
    }
  }
  const edges: ElkExtendedEdge[] = view.edges.map(([a, b], e) => ({
    id: `e${e}`,
    sources: [String(a)],
    targets: [String(b)],
  }));
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.hierarchyHandling": "INCLUDE_CHILDREN",
      "elk.edgeRouting": "ORTHOGONAL",
      "elk.spacing.nodeNode": "16",
      "elk.layered.spacing.nodeNodeBetweenLayers": "56",
      "elk.spacing.edgeNode": "12",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
      "org.eclipse.elk.json.shapeCoords": "ROOT",
      "org.eclipse.elk.json.edgeCoords": "ROOT",
    },
    children: roots,
    edges,
  };
  const out = await (await elk()).layout(graph);
  const x = new Float64Array(n), y = new Float64Array(n), w = new Float64Array(n), h = new Float64Array(n);
  const visit = (node: ElkNode) => {
    const i = Number(node.id);
    x[i] = node.x ?? 0;
    y[i] = node.y ?? 0;
    w[i] = node.width ?? NODE_W;
    h[i] = node.height ?? NODE_H;
    node.children?.forEach(visit);
  };
  out.children?.forEach(visit);
  const routes: (number[] | null)[] = view.edges.map(() => null);
  for (const e of out.edges ?? []) {
    const s = e.sections?.[0];
    if (!s) continue;
    const pts = [s.startPoint.x, s.startPoint.y];
    for (const p of s.bendPoints ?? []) pts.push(p.x, p.y);
    pts.push(s.endPoint.x, s.endPoint.y);
    routes[Number(e.id.slice(1))] = pts;
  }
  return { x, y, w, h, width: out.width ?? NODE_W, height: out.height ?? NODE_H, routes, compound: true };
}
