// A layered (left-to-right) layout of a DAG, fast enough for 10,000s of nodes:
// longest-path layers, a few barycentre sweeps to untangle edges, and wide layers wrapped
// into several columns so a fan-out of thousands stays a block rather than a line.

export const NODE_W = 170;
export const NODE_H = 44;
const GAP_X = 70;
const GAP_Y = 16;
const WRAP_GAP = 18;

export interface Layout {
  x: Float64Array; // left edge of each node
  y: Float64Array; // top edge of each node
  width: number;
  height: number;
}

/** Positions of `n` nodes joined by `edges` ([from, to] index pairs, from upstream). */
export function layout(n: number, edges: [number, number][]): Layout {
  const preds: number[][] = Array.from({ length: n }, () => []);
  const succs: number[][] = Array.from({ length: n }, () => []);
  const indeg = new Int32Array(n);
  for (const [a, b] of edges) {
    succs[a].push(b);
    preds[b].push(a);
    indeg[b]++;
  }
  // Longest path from the sources (Kahn's order); nodes left in a cycle go last.
  const layer = new Int32Array(n);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue.push(i);
  let seen = 0;
  for (let h = 0; h < queue.length; h++) {
    const v = queue[h];
    seen++;
    for (const w of succs[v]) {
      if (layer[v] + 1 > layer[w]) layer[w] = layer[v] + 1;
      if (--indeg[w] === 0) queue.push(w);
    }
  }
  if (seen < n) {
    let max = 0;
    for (let i = 0; i < n; i++) max = Math.max(max, layer[i]);
    for (let i = 0; i < n; i++) if (indeg[i] > 0) layer[i] = max + 1;
  }
  let layers = 0;
  for (let i = 0; i < n; i++) layers = Math.max(layers, layer[i] + 1);
  const byLayer: number[][] = Array.from({ length: layers }, () => []);
  for (let i = 0; i < n; i++) byLayer[layer[i]].push(i);

  // Barycentre sweeps: order each layer by the mean position of its neighbours.
  const pos = new Float64Array(n);
  const setPos = (l: number[]) => l.forEach((v, i) => (pos[v] = i));
  byLayer.forEach(setPos);
  const key = new Float64Array(n);
  const sweep = (down: boolean) => {
    const order = down ? byLayer.keys() : [...byLayer.keys()].reverse();
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
  const sweeps = n > 5000 ? 2 : 4;
  for (let i = 0; i < sweeps; i++) sweep(i % 2 === 0);

  // Wide layers wrap into columns of at most `rows` nodes.
  let widest = 0;
  for (const l of byLayer) widest = Math.max(widest, l.length);
  const rows = widest > 60 ? Math.max(30, Math.ceil(Math.sqrt(widest * 2))) : Math.max(widest, 1);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  let cx = 0;
  let height = 0;
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
    height = Math.max(height, full);
  }
  return { x, y, width: Math.max(cx - GAP_X, NODE_W), height: Math.max(height, NODE_H) };
}
