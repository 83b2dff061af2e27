// The compound layout of big graphs, fast enough for 10,000s of nodes: open subworkflows,
// branches and dynamic nodes are boxes around their children and open maps are item grids,
// as in ELK's layout (compound.ts), which is too slow past a few hundred nodes.
//
// Each open container (innermost first, then the whole graph) is laid out on its own with the
// flat layered layout (layout.ts): it gives every child a column and an order in it; the
// columns are then widened and the rows spaced to the children's real sizes (a box or a grid
// is bigger than a node), and the box takes the size of what it holds. Edges between nodes
// of different containers are laid out between the containers' children that hold them, and
// drawn as orthogonal polylines between the real nodes.
import { HEADER_H, gridShape } from "./compound";
import type { Model, View } from "./graph";
import { NODE_H, NODE_W, type Placed, layout } from "./layout";

const PAD = 12;
const TOP = HEADER_H + 8; // a box's header and the room below it
const GAP_Y = 16;

/**
 * Lay out `view` (built with `visibleGraph(..., true)`) with its open containers as boxes.
 * `open(id)` says whether a node is an open container; `mapItems(id)` is the item count of an
 * open map node (drawn as a grid), or -1.
 */
export function nestedPlaced(
  model: Model,
  view: View,
  open: (id: string) => boolean,
  mapItems: (id: string) => number,
): Placed {
  const n = view.ids.length;
  // the open container each node is drawn in (-1: the graph itself), and their children
  const box = new Int32Array(n).fill(-1);
  const kids = new Map<number, number[]>([[-1, []]]);
  for (let i = 0; i < n; i++) {
    const parent = model.nodes.get(view.ids[i])?.parent;
    const pi = parent ? view.index.get(parent) : undefined;
    if (pi !== undefined && open(parent!)) box[i] = pi;
  }
  for (let i = 0; i < n; i++) {
    if (!kids.has(box[i])) kids.set(box[i], []);
    kids.get(box[i])!.push(i);
  }
  const depth = new Int32Array(n);
  for (let i = 0; i < n; i++) for (let b = box[i]; b >= 0; b = box[b]) depth[i]++;

  // each edge joins the two children of the innermost container holding both ends
  const local = new Map<number, [number, number][]>();
  const seen = new Set<number>();
  for (const [a0, b0] of view.edges) {
    let a = a0, b = b0;
    while (depth[a] > depth[b]) a = box[a];
    while (depth[b] > depth[a]) b = box[b];
    while (box[a] !== box[b]) {
      a = box[a];
      b = box[b];
    }
    if (a === b) continue; // a container and what it holds: drawn as a box, no edge
    const key = a * n + b;
    if (seen.has(key)) continue;
    seen.add(key);
    const c = box[a];
    if (!local.has(c)) local.set(c, []);
    local.get(c)!.push([a, b]);
  }

  const w = new Float64Array(n).fill(NODE_W);
  const h = new Float64Array(n).fill(NODE_H);
  for (let i = 0; i < n; i++) {
    const items = mapItems(view.ids[i]);
    if (items >= 0) {
      const g = gridShape(items);
      w[i] = g.w;
      h[i] = g.h;
    }
  }
  // offsets of each node inside its container's content area
  const lx = new Float64Array(n);
  const ly = new Float64Array(n);
  const arrange = (members: number[], edges: [number, number][]): { width: number; height: number } => {
    const at = new Map(members.map((v, i) => [v, i]));
    const flat = layout(members.length, edges.map(([a, b]) => [at.get(a)!, at.get(b)!]));
    // columns left to right (by the flat x), each top to bottom (by the flat y)
    const byX = new Map<number, number[]>();
    members.forEach((_, i) => {
      const key = flat.x[i];
      if (!byX.has(key)) byX.set(key, []);
      byX.get(key)!.push(i);
    });
    const xs = [...byX.keys()].sort((p, q) => p - q);
    const heights: number[] = [];
    for (const key of xs) {
      const col = byX.get(key)!.sort((p, q) => flat.y[p] - flat.y[q]);
      heights.push(col.reduce((s, i) => s + h[members[i]], 0) + (col.length - 1) * GAP_Y);
    }
    const height = Math.max(0, ...heights);
    let cx = 0;
    xs.forEach((key, c) => {
      const col = byX.get(key)!;
      let top = (height - heights[c]) / 2;
      let widest = 0;
      for (const i of col) {
        const v = members[i];
        lx[v] = cx;
        ly[v] = top;
        top += h[v] + GAP_Y;
        widest = Math.max(widest, w[v]);
      }
      // the flat layout's gap after this column: between layers, or between wrapped columns
      const gap = c + 1 < xs.length ? xs[c + 1] - key - NODE_W : 0;
      cx += widest + gap;
    });
    return { width: cx, height };
  };
  // innermost containers first: a box's size is known before its container is laid out
  const containers = [...kids.keys()].filter((c) => c >= 0).sort((p, q) => depth[q] - depth[p]);
  for (const c of containers) {
    const size = arrange(kids.get(c)!, local.get(c) ?? []);
    w[c] = Math.max(NODE_W + 2 * PAD, size.width + 2 * PAD);
    h[c] = Math.max(NODE_H + TOP + PAD, size.height + TOP + PAD);
  }
  const whole = arrange(kids.get(-1)!, local.get(-1) ?? []);

  // where everything is: outermost first, each inside its box's content area
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const order = [...Array(n).keys()].sort((p, q) => depth[p] - depth[q]);
  for (const i of order) {
    const b = box[i];
    x[i] = b < 0 ? lx[i] : x[b] + PAD + lx[i];
    y[i] = b < 0 ? ly[i] : y[b] + TOP + ly[i];
  }
  const routes = view.edges.map(([a, b]) => {
    const x0 = x[a] + w[a], y0 = y[a] + h[a] / 2;
    const x1 = x[b], y1 = y[b] + h[b] / 2;
    if (x1 <= x0 + 8) return [x0, y0, x1, y1];
    // bend just after the source: edges into one node share its row (one line, not many)
    const xm = x0 + Math.min(28, (x1 - x0) / 2);
    return [x0, y0, xm, y0, xm, y1, x1, y1];
  });
  return { x, y, w, h, width: Math.max(whole.width, NODE_W), height: Math.max(whole.height, NODE_H), routes, compound: true };
}
