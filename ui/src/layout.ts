// A layered (left-to-right) layout of a DAG, fast enough for 10,000s of nodes:
// longest-path layers, a few barycentre sweeps to untangle edges, and wide layers wrapped
// into several columns so a fan-out of thousands stays a block rather than a line.
// In graphs without such wide layers, an edge that skips layers is routed through a waypoint
// in each layer it crosses (ordered like a node), so it passes between nodes, not over them.

export const NODE_W = 170;
export const NODE_H = 52;
const GAP_X = 70;
const GAP_Y = 16;
const WRAP_GAP = 18;
const WAY_H = 10; // the height a waypoint takes in its layer
const MAX_WAYPOINTS = 4000;

export interface Layout {
  x: Float64Array; // left edge of each node
  y: Float64Array; // top edge of each node
  width: number;
  height: number;
  /** Per edge: the waypoints' centres [x0, y0, x1, y1, ...] of an edge that skips layers. */
  routes: (number[] | null)[];
}

/** Where each node of a view is drawn (left, top, width, height) and how its edges go. */
export interface Placed {
  x: Float64Array;
  y: Float64Array;
  w: Float64Array;
  h: Float64Array;
  width: number;
  height: number;
  /** flat: each edge's waypoint centres (or null); compound: each edge's whole polyline. */
  routes: (number[] | null)[];
  compound: boolean;
}

/** The flat layout as a `Placed`: every node NODE_W x NODE_H. */
export function flatPlaced(n: number, edges: [number, number][]): Placed {
  const l = layout(n, edges);
  return {
    x: l.x,
    y: l.y,
    w: new Float64Array(n).fill(NODE_W),
    h: new Float64Array(n).fill(NODE_H),
    width: l.width,
    height: l.height,
    routes: l.routes,
    compound: false,
  };
}

/** Positions of `n` nodes joined by `edges` ([from, to] index pairs, from upstream). */
export function layout(n: number, edges: [number, number][]): Layout {
  const succs0: number[][] = Array.from({ length: n }, () => []);
  const indeg = new Int32Array(n);
  for (const [a, b] of edges) {
    succs0[a].push(b);
    indeg[b]++;
  }
  // Longest path from the sources (Kahn's order); nodes left in a cycle go last.
  const layer0 = new Int32Array(n);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue.push(i);
  let seen = 0;
  for (let h = 0; h < queue.length; h++) {
    const v = queue[h];
    seen++;
    for (const w of succs0[v]) {
      if (layer0[v] + 1 > layer0[w]) layer0[w] = layer0[v] + 1;
      if (--indeg[w] === 0) queue.push(w);
    }
  }
  if (seen < n) {
    let max = 0;
    for (let i = 0; i < n; i++) max = Math.max(max, layer0[i]);
    for (let i = 0; i < n; i++) if (indeg[i] > 0) layer0[i] = max + 1;
  }
  let layers = 0;
  for (let i = 0; i < n; i++) layers = Math.max(layers, layer0[i] + 1);
  const count = new Int32Array(layers);
  for (let i = 0; i < n; i++) count[layer0[i]]++;
  let widest = 0;
  for (const c of count) widest = Math.max(widest, c);
  const wrap = widest > 60;

  // Waypoints: extra vertices (ids n, n+1, ...) on edges that skip layers.
  let ways = 0;
  if (!wrap) {
    for (const [a, b] of edges) ways += Math.max(0, layer0[b] - layer0[a] - 1);
    if (ways > MAX_WAYPOINTS) ways = 0;
  }
  const total = n + ways;
  const layer = new Int32Array(total);
  layer.set(layer0);
  const preds: number[][] = Array.from({ length: total }, () => []);
  const succs: number[][] = Array.from({ length: total }, () => []);
  const chains: (number[] | null)[] = edges.map(() => null);
  let next = n;
  edges.forEach(([a, b], e) => {
    const span = layer0[b] - layer0[a];
    if (ways > 0 && span > 1) {
      const chain: number[] = [];
      let prev = a;
      for (let l = layer0[a] + 1; l < layer0[b]; l++) {
        const d = next++;
        layer[d] = l;
        succs[prev].push(d);
        preds[d].push(prev);
        chain.push(d);
        prev = d;
      }
      succs[prev].push(b);
      preds[b].push(prev);
      chains[e] = chain;
    } else {
      succs[a].push(b);
      preds[b].push(a);
    }
  });
  const byLayer: number[][] = Array.from({ length: layers }, () => []);
  for (let i = 0; i < total; i++) byLayer[layer[i]].push(i);

  // Barycentre sweeps: order each layer by the mean position of its neighbours.
  const pos = new Float64Array(total);
  const setPos = (l: number[]) => l.forEach((v, i) => (pos[v] = i));
  byLayer.forEach(setPos);
  const key = new Float64Array(total);
  const sweep = (down: boolean) => {
    const order = down ? [...byLayer.keys()] : [...byLayer.keys()].reverse();
    for (const li of order) {
      const l = byLayer[li];
      if (l.length < 2) continue;
      for (const v of l) {
        const ns = down ? preds[v] : succs[v];
        if (ns.length === 0) {
          key[v] = pos[v];
          continue;
        }
        let s = 0;
        for (const u of ns) s += pos[u];
        key[v] = s / ns.length;
      }
      l.sort((a, b) => key[a] - key[b] || pos[a] - pos[b]);
      setPos(l);
    }
  };
  const sweeps = total > 5000 ? 2 : 4;
  for (let i = 0; i < sweeps; i++) sweep(i % 2 === 0);

  const x = new Float64Array(total);
  const y = new Float64Array(total);
  const size = (v: number) => (v < n ? NODE_H : WAY_H);
  let cx = 0;
  let height = 0;
  if (wrap) {
    // Wide layers wrap into columns of at most `rows` nodes.
    const rows = Math.max(30, Math.ceil(Math.sqrt(widest * 2)));
    const colH = (k: number) => k * NODE_H + (k - 1) * GAP_Y;
    const full = colH(Math.min(rows, widest));
    for (const l of byLayer) {
      const cols = Math.max(1, Math.ceil(l.length / rows));
      for (let c = 0; c < cols; c++) {
        const part = l.slice(c * rows, (c + 1) * rows);
        const top = (full - colH(part.length)) / 2;
        part.forEach((v, i) => {
          x[v] = cx + c * (NODE_W + WRAP_GAP);
          y[v] = top + i * (NODE_H + GAP_Y);
        });
      }
      cx += cols * (NODE_W + WRAP_GAP) - WRAP_GAP + GAP_X;
    }
    height = full;
  } else {
    const heights = byLayer.map((l) => l.reduce((s, v) => s + size(v), 0) + Math.max(0, l.length - 1) * GAP_Y);
    height = Math.max(NODE_H, ...heights);
    byLayer.forEach((l, li) => {
      let top = (height - heights[li]) / 2;
      for (const v of l) {
        x[v] = cx;
        y[v] = top;
        top += size(v) + GAP_Y;
      }
      cx += NODE_W + GAP_X;
    });
  }
  const routes = chains.map((chain) => {
    if (!chain) return null;
    const pts: number[] = [];
    for (const d of chain) pts.push(x[d] + NODE_W / 2, y[d] + WAY_H / 2);
    return pts;
  });
  return {
    x: x.subarray(0, n),
    y: y.subarray(0, n),
    width: Math.max(cx - GAP_X, NODE_W),
    height: Math.max(height, NODE_H),
    routes,
  };
}
