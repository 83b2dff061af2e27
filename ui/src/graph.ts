// The execution's node tree and what of it is on screen: containers (subworkflows,
// conditionals, dynamic nodes, tasks that called tasks) collapse into one node; edges of
// hidden nodes are drawn from and to the nearest visible container.
import type { GraphNodeOut, GraphOut } from "./api";

export interface GNode extends GraphNodeOut {
  children: string[];
}

export interface Model {
  nodes: Map<string, GNode>;
  order: string[];
}

export function buildModel(g: GraphOut): Model {
  const nodes = new Map<string, GNode>();
  const order: string[] = [];
  for (const n of g.nodes) {
    nodes.set(n.id, { ...n, children: [] });
    order.push(n.id);
  }
  for (const id of order) {
    const n = nodes.get(id)!;
    if (n.parent) nodes.get(n.parent)?.children.push(id);
  }
  return { nodes, order };
}

export function isContainer(n: GNode): boolean {
  return n.children.length > 0 || n.kind === "map";
}

/** The id of item `i` of map node `mapId` (as the API names it). */
export function itemId(mapId: string, i: number): string {
  return `${mapId}[${i}]`;
}

/** Most items of an open map node drawn in its item grid. */
export const MAX_ITEMS = 2000;

export interface View {
  ids: string[];
  index: Map<string, number>;
  edges: [number, number][];
}

/**
 * The nodes on screen and the edges between them. With `compound`, an open container is
 * drawn as a box around its children, so the edges between a container and what it holds are
 * left out; without it (the flat layout of big graphs) an open container is drawn after its
 * children, fed by them.
 */
export function visibleGraph(m: Model, expanded: Set<string>, compound = false): View {
  const rep = new Map<string, string>();
  const repOf = (id: string): string => {
    const found = rep.get(id);
    if (found !== undefined) return found;
    const n = m.nodes.get(id);
    let r = id;
    if (n && n.parent && m.nodes.has(n.parent)) {
      const pr = repOf(n.parent);
      // hidden when the parent is hidden or collapsed
      if (pr !== n.parent || !expanded.has(n.parent)) r = pr;
    }
    rep.set(id, r);
    return r;
  };
  const ids: string[] = [];
  const index = new Map<string, number>();
  for (const id of m.order) {
    if (repOf(id) === id) {
      index.set(id, ids.length);
      ids.push(id);
    }
  }
  const isAncestor = (a: string, b: string) => {
    for (let p = m.nodes.get(b)?.parent; p; p = m.nodes.get(p)?.parent) if (p === a) return true;
    return false;
  };
  const seen = new Set<number>();
  const edges: [number, number][] = [];
  const n = ids.length;
  for (const id of m.order) {
    const node = m.nodes.get(id)!;
    const b = repOf(id);
    const bi = index.get(b)!;
    const bExpanded = !compound && b === id && expanded.has(id) && node.children.length > 0;
    // an open container is drawn after its children, fed by them
    const ups = bExpanded ? [...node.upstream, ...node.children] : node.upstream;
    for (const u of ups) {
      if (!m.nodes.has(u)) continue;
      const a = repOf(u);
      if (a === b) continue;
      // an open container is fed by its own children only
      if (bExpanded && !isAncestor(id, u)) continue;
      if (isAncestor(a, b) || (compound && isAncestor(b, a))) continue;
      const ai = index.get(a)!;
      const k = ai * n + bi;
      if (seen.has(k)) continue;
      seen.add(k);
      edges.push([ai, bi]);
    }
  }
  // children with nothing upstream of them (a dynamic node's graph, a branch's cases) start
  // after what their open container waits for
  if (compound) return { ids, index, edges };
  const indeg = new Int32Array(n);
  for (const [, b] of edges) indeg[b]++;
  for (const id of expanded) {
    const node = m.nodes.get(id);
    const ci = index.get(id);
    if (!node || ci === undefined || node.children.length === 0) continue;
    const outer = new Set<number>();
    for (const u of node.upstream) {
      if (!m.nodes.has(u) || isAncestor(id, u)) continue;
      const ai = index.get(repOf(u));
      if (ai !== undefined && ai !== ci) outer.add(ai);
    }
    for (const c of node.children) {
      const bi = index.get(c);
      if (bi === undefined || indeg[bi] > 0) continue;
      for (const ai of outer) {
        edges.push([ai, bi]);
        indeg[bi]++;
      }
    }
  }
  return { ids, index, edges };
}
