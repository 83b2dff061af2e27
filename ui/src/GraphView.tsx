// The execution graph on a canvas: pan (drag), zoom (wheel), click a node to open it,
// click a container's +/- (or double-click it) to expand or collapse it. Open subworkflows,
// branches and dynamic nodes are boxes around their children (compound layout, compound.ts);
// an open map node is a grid of its items coloured by phase, at any size: ELK lays out graphs
// of up to ELK_MAX nodes on screen, the fast nested layout (nested.ts) bigger ones, and a graph
// with nothing open gets the flat layered layout (layout.ts). Containers start collapsed in big
// graphs, with the count of what they hold. A nested list mirrors the graph for assistive
// technology (and tests).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { NodeOut } from "./api";
import { CELL, CELL_GAP, HEADER_H, compoundLayout, gridShape } from "./compound";
import { type GNode, MAX_ITEMS, type Model, type View, isContainer, itemId, visibleGraph } from "./graph";
import { GraphOutline } from "./GraphOutline";
import { NODE_H, NODE_W, type Placed, flatPlaced } from "./layout";
import { nestedPlaced } from "./nested";
import { fmtDuration, phaseColor } from "./util";

/** The phases of an open map's items, by index (missing: pending), and the items served
 * from the cache. */
export interface MapGrid {
  total: number;
  phases: Map<number, string>;
  hits: Set<number>;
}

export interface GraphViewProps {
  model: Model;
  expanded: Set<string>;
  nodes: Map<string, NodeOut>;
  /** Item phases of the open map nodes. */
  grids: Map<string, MapGrid>;
  selected: string | null;
  onSelect: (id: string) => void;
  onToggle: (id: string) => void;
  onItem: (mapId: string, index: number) => void;
}

interface Cam {
  x: number; // world x at the canvas' left edge
  y: number;
  k: number; // pixels per world unit
}

/** Above this many nodes on screen, the fast nested layout instead of ELK's. */
export const ELK_MAX = 600;

const MAP_ORDER = ["succeeded", "failed", "aborted", "running", "retrying", "queued", "pending"];

export function displayPhase(node: { kind: string; gate?: { kind: string } | null }, rec?: NodeOut): string {
  const phase = rec?.phase ?? "pending";
  if (node.gate && node.gate.kind !== "sleep" && (phase === "running" || phase === "queued")) return "waiting";
  return phase;
}

declare global {
  interface Window {
    __airfoilGraph?: {
      boxOf: (id: string) => { x: number; y: number; w: number; h: number } | null;
      toggleOf: (id: string) => { x: number; y: number } | null;
      visible: () => string[];
      /** compound: boxes as they stay; interim: boxes until ELK's layout replaces them. */
      layout: () => "flat" | "compound" | "interim" | null;
      /** Which layout placed the graph: ELK (small), the fast nested one (big), or flat. */
      engine: () => "elk" | "nested" | "flat" | null;
      /** The camera: world x and y at the canvas' top left corner, and pixels per unit. */
      camera: () => { x: number; y: number; k: number };
      paints: number;
      firstPaintAt: number | null;
      /** When the compound layout (boxes) was first drawn. */
      compoundAt: number | null;
      focus: (id: string) => void;
    };
  }
}

interface Shown {
  view: View;
  placed: Placed;
  /** Open maps drawn as grids: view index -> item count. */
  grids: Map<number, number>;
  /** Open containers drawn as boxes, parents first. */
  boxes: number[];
  engine: "elk" | "nested" | "flat";
}

/** Whether a compound picture is the one that stays (ELK's, or the fast one of big graphs). */
function final(s: Shown): boolean {
  return s.engine === "elk" || (s.engine === "nested" && s.view.ids.length > ELK_MAX);
}

function layoutName(s: Shown): "flat" | "compound" | "interim" {
  return s.engine === "flat" ? "flat" : final(s) ? "compound" : "interim";
}

/** How many nodes each container holds, at every depth (a collapsed one shows it). */
export function heldCounts(m: Model): Map<string, number> {
  const out = new Map<string, number>();
  const count = (id: string): number => {
    const known = out.get(id);
    if (known !== undefined) return known;
    let total = 0;
    for (const c of m.nodes.get(id)?.children ?? []) total += 1 + count(c);
    out.set(id, total);
    return total;
  };
  for (const id of m.order) count(id);
  return out;
}

function depthOf(m: Model, id: string): number {
  let d = 0;
  for (let p = m.nodes.get(id)?.parent; p; p = m.nodes.get(p)?.parent) d++;
  return d;
}

export function GraphView(props: GraphViewProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const cam = useRef<Cam>({ x: 0, y: 0, k: 1 });
  const fitted = useRef(false);
  const frame = useRef(0);
  const propsRef = useRef(props);
  propsRef.current = props;

  // boxes and grids whenever a container is open on screen, whatever the graph's size
  const { view, compound } = useMemo(() => {
    const v = visibleGraph(props.model, props.expanded, true);
    const anyOpen = v.ids.some((id) => props.expanded.has(id) && isContainer(props.model.nodes.get(id)!));
    return { view: v, compound: anyOpen };
  }, [props.model, props.expanded]);
  // the item counts of open maps shape the layout (a grid's size); their phases do not
  const held = useMemo(() => heldCounts(props.model), [props.model]);
  const heldRef = useRef(held);
  heldRef.current = held;
  const gridKey = compound
    ? [...props.grids].filter(([id]) => view.index.has(id) && props.expanded.has(id)).map(([id, g]) => `${id}:${Math.min(g.total, MAX_ITEMS)}`).join("|")
    : "";
  const [shown, setShown] = useState<Shown | null>(null);
  const state = useRef<Shown | null>(shown);
  state.current = shown;
  const moved = useRef(false); // the user panned or zoomed
  const token = useRef(0);
  useEffect(() => {
    const t = ++token.current;
    const m = propsRef.current.model;
    const exp = propsRef.current.expanded;
    const grids = new Map<number, number>();
    if (!compound) {
      setShown({ view, placed: flatPlaced(view.ids.length, view.edges), grids, boxes: [], engine: "flat" });
      return;
    }
    const counts = new Map(gridKey ? gridKey.split("|").map((s) => {
      const at = s.lastIndexOf(":");
      return [s.slice(0, at), Number(s.slice(at + 1))] as [string, number];
    }) : []);
    for (const [id, c] of counts) grids.set(view.index.get(id)!, c);
    const isOpen = (id: string) => exp.has(id) && (m.nodes.get(id)?.children.length ?? 0) > 0;
    const boxes = view.ids.map((_, i) => i).filter((i) => isOpen(view.ids[i]));
    boxes.sort((a, b) => depthOf(m, view.ids[a]) - depthOf(m, view.ids[b]));
    const items = (id: string) => counts.get(id) ?? -1;
    const fast = () => setShown({ view, placed: nestedPlaced(m, view, isOpen, items), grids, boxes, engine: "nested" });
    if (view.ids.length > ELK_MAX) {
      fast(); // ELK would take seconds: boxes and grids at once, from the fast layout
      return;
    }
    // the first time, paint at once with the fast layout while ELK works (in its worker)
    if (!state.current) fast();
    compoundLayout(m, view, isOpen, items).then(
      (placed) => {
        if (t !== token.current) return;
        const was = state.current;
        const sel = propsRef.current.selected;
        if (was && was.engine !== "elk") {
          // ELK's picture replaces the interim one. A node the user opened (its panel is
          // open) stays where they saw it: the camera follows it instead of refitting under
          // them; otherwise the picture is fitted again, unless the user moved it.
          const oi = sel ? was.view.index.get(sel) : undefined;
          const ni = sel ? view.index.get(sel) : undefined;
          if (oi !== undefined && ni !== undefined && fitted.current) {
            const c = cam.current;
            cam.current = { k: c.k, x: c.x + placed.x[ni] - was.placed.x[oi], y: c.y + placed.y[ni] - was.placed.y[oi] };
          } else if (!moved.current) fitted.current = false;
        }
        setShown({ view, placed, grids, boxes, engine: "elk" });
      },
      (err) => {
        // a layout failure must not leave an empty graph: keep the fast layout's
        console.error("compound layout failed", err);
        if (t === token.current) fast();
      },
    );
  }, [view, gridKey]);

  const draw = () => {
    frame.current = 0;
    const c = canvas.current;
    const s = state.current;
    if (!c || !s) return;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const { view, placed: pos, grids, boxes } = s;
    const p = propsRef.current;
    if (!fitted.current && w > 0) {
      fitted.current = true;
      const k = Math.min(1.2, (w - 40) / pos.width, (h - 40) / pos.height);
      const kk = Math.max(k, 0.02);
      cam.current = { k: kk, x: -(w / kk - pos.width) / 2, y: -(h / kk - pos.height) / 2 };
    }
    const { x: cx, y: cy, k } = cam.current;
    const ctx = c.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.setTransform(dpr * k, 0, 0, dpr * k, -cx * k * dpr, -cy * k * dpr);
    const vx0 = cx, vy0 = cy, vx1 = cx + w / k, vy1 = cy + h / k;
    const inView = (i: number) =>
      pos.x[i] + pos.w[i] >= vx0 && pos.x[i] <= vx1 && pos.y[i] + pos.h[i] >= vy0 && pos.y[i] <= vy1;
    const text = k > 0.3;
    ctx.textBaseline = "middle";

    // open containers: boxes, outermost first
    for (const i of boxes) {
      if (!inView(i)) continue;
      const id = view.ids[i];
      const node = p.model.nodes.get(id)!;
      const rec = p.nodes.get(id);
      const phase = displayPhase(node, rec);
      const x = pos.x[i], y = pos.y[i], bw = pos.w[i], bh = pos.h[i];
      ctx.fillStyle = "rgba(246,248,250,0.9)";
      ctx.fillRect(x, y, bw, bh);
      ctx.fillStyle = phaseColor(phase);
      ctx.fillRect(x, y, bw, 6);
      ctx.strokeStyle = phaseColor(phase);
      ctx.lineWidth = 2;
      ctx.setLineDash([6, 4]);
      ctx.strokeRect(x, y, bw, bh);
      ctx.setLineDash([]);
      if (id === p.selected) {
        ctx.strokeStyle = "#111827";
        ctx.lineWidth = 3 / Math.min(k, 1);
        ctx.strokeRect(x - 2, y - 2, bw + 4, bh + 4);
      }
      if (text) {
        ctx.fillStyle = "#1f2328";
        ctx.font = "600 12px system-ui, sans-serif";
        const head = `${node.label}  ·  ${subtitle(node.kind, phase, rec, node.gate?.kind)}`;
        ctx.fillText(clip(ctx, head, bw - 34), x + 8, y + 6 + (HEADER_H - 6) / 2);
        toggleBox(ctx, x + bw - 20, y + 10, true);
      }
    }

    // edges
    ctx.lineWidth = Math.max(1, 1 / k);
    ctx.strokeStyle = view.edges.length > 3000 ? "rgba(110,118,129,0.25)" : "rgba(110,118,129,0.7)";
    ctx.beginPath();
    if (pos.compound) {
      const heads: number[] = [];
      for (let e = 0; e < view.edges.length; e++) {
        const r = pos.routes[e];
        if (!r) continue;
        ctx.moveTo(r[0], r[1]);
        for (let j = 2; j < r.length; j += 2) ctx.lineTo(r[j], r[j + 1]);
        heads.push(r[r.length - 4], r[r.length - 3], r[r.length - 2], r[r.length - 1]);
      }
      ctx.stroke();
      // arrowheads
      ctx.fillStyle = "rgba(110,118,129,0.9)";
      ctx.beginPath();
      for (let j = 0; j < heads.length; j += 4) {
        const [ax, ay, bx, by] = [heads[j], heads[j + 1], heads[j + 2], heads[j + 3]];
        const len = Math.hypot(bx - ax, by - ay) || 1;
        const ux = (bx - ax) / len, uy = (by - ay) / len;
        ctx.moveTo(bx, by);
        ctx.lineTo(bx - 7 * ux - 4 * uy, by - 7 * uy + 4 * ux);
        ctx.lineTo(bx - 7 * ux + 4 * uy, by - 7 * uy - 4 * ux);
        ctx.closePath();
      }
      ctx.fill();
    } else {
      const curves = k > 0.25 && view.edges.length < 20000;
      // thousands of edges seen from afar are only a grey veil over the nodes
      const edges = view.edges.length > 3000 && k < 0.2 ? [] : view.edges;
      const half = NODE_W / 2;
      for (let e = 0; e < edges.length; e++) {
        const [a, b] = edges[e];
        const x0 = pos.x[a] + NODE_W, y0 = pos.y[a] + NODE_H / 2;
        const x1 = pos.x[b], y1 = pos.y[b] + NODE_H / 2;
        const route = edges === view.edges ? pos.routes[e] : null;
        let top = Math.min(y0, y1), bottom = Math.max(y0, y1);
        if (route) for (let i = 1; i < route.length; i += 2) {
          top = Math.min(top, route[i]);
          bottom = Math.max(bottom, route[i]);
        }
        if (Math.max(x0, x1) < vx0 || Math.min(x0, x1) > vx1 || bottom < vy0 || top > vy1) continue;
        ctx.moveTo(x0, y0);
        let px = x0, py = y0;
        const to = (qx: number, qy: number) => {
          if (curves) {
            const mx = (px + qx) / 2;
            ctx.bezierCurveTo(mx, py, mx, qy, qx, qy);
          } else ctx.lineTo(qx, qy);
          px = qx;
          py = qy;
        };
        if (route) {
          for (let i = 0; i < route.length; i += 2) {
            to(route[i] - half, route[i + 1]);
            ctx.lineTo(route[i] + half, route[i + 1]);
            px = route[i] + half;
          }
        }
        to(x1, y1);
      }
      ctx.stroke();
    }

    // nodes (an open map: its item grid)
    const openBox = new Set(boxes);
    for (let i = 0; i < view.ids.length; i++) {
      if (openBox.has(i) || !inView(i)) continue;
      const id = view.ids[i];
      const node = p.model.nodes.get(id)!;
      const rec = p.nodes.get(id);
      const phase = displayPhase(node, rec);
      const x = pos.x[i], y = pos.y[i];
      const count = grids.get(i);
      if (count !== undefined) {
        drawGrid(ctx, x, y, pos.w[i], pos.h[i], node, rec, count, p.grids.get(id), phase, text, id === p.selected, k);
        continue;
      }
      drawNode(ctx, x, y, node, rec, phase, text, id === p.selected, p.expanded.has(id) && !pos.compound, k, heldRef.current.get(id) ?? 0);
    }
    const g = window.__airfoilGraph;
    if (g) {
      g.paints++;
      if (g.firstPaintAt === null && view.ids.length > 0) {
        g.firstPaintAt = performance.now();
        c.dataset.painted = String(view.ids.length);
      }
      if (g.compoundAt === null && final(s)) g.compoundAt = performance.now();
    }
  };

  const schedule = () => {
    if (!frame.current) frame.current = requestAnimationFrame(draw);
  };

  useEffect(() => {
    schedule();
  });

  // where item `index` of the open map at view index `i` is, in world units
  const cellOf = (s: Shown, i: number, index: number) => {
    const count = s.grids.get(i) ?? 0;
    const { cols } = gridShape(count);
    const left = s.placed.x[i] + (s.placed.w[i] - (cols * (CELL + CELL_GAP) - CELL_GAP)) / 2;
    return {
      x: left + (index % cols) * (CELL + CELL_GAP),
      y: s.placed.y[i] + HEADER_H + Math.floor(index / cols) * (CELL + CELL_GAP),
    };
  };

  useEffect(() => {
    const toScreen = (wx: number, wy: number, ww: number, wh: number) => {
      const c = canvas.current!.getBoundingClientRect();
      const { x, y, k } = cam.current;
      return { x: c.left + (wx - x) * k, y: c.top + (wy - y) * k, w: ww * k, h: wh * k };
    };
    const locate = (id: string): { x: number; y: number; w: number; h: number } | null => {
      const s = state.current;
      if (!s) return null;
      const i = s.view.index.get(id);
      if (i !== undefined) return { x: s.placed.x[i], y: s.placed.y[i], w: s.placed.w[i], h: s.placed.h[i] };
      const m = /^(.*)\[(\d+)\]$/.exec(id);
      const mi = m ? s.view.index.get(m[1]) : undefined;
      if (!m || mi === undefined || !s.grids.has(mi) || Number(m[2]) >= s.grids.get(mi)!) return null;
      const cell = cellOf(s, mi, Number(m[2]));
      return { x: cell.x, y: cell.y, w: CELL, h: CELL };
    };
    window.__airfoilGraph = {
      paints: 0,
      firstPaintAt: null,
      compoundAt: null,
      boxOf: (id) => {
        const b = locate(id);
        return b ? toScreen(b.x, b.y, b.w, b.h) : null;
      },
      toggleOf: (id) => {
        const b = locate(id);
        const s = state.current;
        if (!b || !s || !s.view.index.has(id)) return null;
        const box = toScreen(b.x, b.y, b.w, b.h);
        const k = cam.current.k;
        return { x: box.x + box.w - 12 * k, y: box.y + (s.boxes.includes(s.view.index.get(id)!) ? 18 : 12) * k };
      },
      visible: () => {
        const s = state.current;
        if (!s) return [];
        const out = s.view.ids.slice();
        for (const [i, count] of s.grids) for (let j = 0; j < count; j++) out.push(itemId(s.view.ids[i], j));
        return out;
      },
      layout: () => (state.current ? layoutName(state.current) : null),
      engine: () => state.current?.engine ?? null,
      camera: () => ({ ...cam.current }),
      focus: (id) => {
        const b = locate(id);
        const c = canvas.current;
        if (!b || !c) return;
        const k = Math.max(cam.current.k, 0.8);
        moved.current = true;
        cam.current = { k, x: b.x + b.w / 2 - c.clientWidth / 2 / k, y: b.y + b.h / 2 - c.clientHeight / 2 / k };
        schedule();
      },
    };
    // a resize (the node panel opening) keeps the camera: what was at the left edge stays
    const ro = new ResizeObserver(() => schedule());
    if (canvas.current) ro.observe(canvas.current);
    return () => {
      ro.disconnect();
      if (frame.current) cancelAnimationFrame(frame.current);
    };
  }, []);

  type Hit = { i: number; toggle: boolean; item: number | null };
  const hit = (e: MouseEvent): Hit | null => {
    const s = state.current;
    if (!s) return null;
    const r = canvas.current!.getBoundingClientRect();
    const { x, y, k } = cam.current;
    const wx = x + (e.clientX - r.left) / k;
    const wy = y + (e.clientY - r.top) / k;
    const { view, placed: pos } = s;
    const inside = (i: number) => wx >= pos.x[i] && wx <= pos.x[i] + pos.w[i] && wy >= pos.y[i] && wy <= pos.y[i] + pos.h[i];
    const isBox = new Set(s.boxes);
    for (let i = 0; i < view.ids.length; i++) {
      if (isBox.has(i) || !inside(i)) continue;
      const toggle = wx >= pos.x[i] + pos.w[i] - 22 && wy <= pos.y[i] + 22;
      let item: number | null = null;
      const count = s.grids.get(i);
      if (count !== undefined && !toggle) {
        const { cols } = gridShape(count);
        const o = cellOf(s, i, 0);
        const col = Math.floor((wx - o.x) / (CELL + CELL_GAP));
        const row = Math.floor((wy - o.y) / (CELL + CELL_GAP));
        const idx = row * cols + col;
        if (col >= 0 && col < cols && row >= 0 && idx < count) item = idx;
      }
      return { i, toggle, item };
    }
    for (let b = s.boxes.length - 1; b >= 0; b--) {
      const i = s.boxes[b];
      if (!inside(i)) continue;
      const toggle = wx >= pos.x[i] + pos.w[i] - 24 && wy <= pos.y[i] + HEADER_H;
      return { i, toggle, item: null };
    }
    return null;
  };

  const finder = useRef<HTMLInputElement>(null);
  const drag = useRef<{ x: number; y: number; moved: boolean } | null>(null);
  const onDown = (e: MouseEvent) => {
    drag.current = { x: e.clientX, y: e.clientY, moved: false };
  };
  const onMove = (e: MouseEvent) => {
    const d = drag.current;
    if (!d || !(e.buttons & 1)) return;
    const dx = e.clientX - d.x, dy = e.clientY - d.y;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    d.moved = true;
    moved.current = true;
    cam.current.x -= dx / cam.current.k;
    cam.current.y -= dy / cam.current.k;
    d.x = e.clientX;
    d.y = e.clientY;
    schedule();
  };
  const onUp = (e: MouseEvent) => {
    const d = drag.current;
    drag.current = null;
    if (d?.moved) return;
    const h = hit(e);
    if (!h) return;
    const id = state.current!.view.ids[h.i];
    const node = propsRef.current.model.nodes.get(id)!;
    if (h.toggle && isContainer(node)) propsRef.current.onToggle(id);
    else if (h.item !== null) propsRef.current.onItem(id, h.item);
    else propsRef.current.onSelect(id);
  };
  const onDbl = (e: MouseEvent) => {
    const h = hit(e);
    if (!h || h.item !== null) return;
    const id = state.current!.view.ids[h.i];
    if (isContainer(propsRef.current.model.nodes.get(id)!)) propsRef.current.onToggle(id);
  };
  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    moved.current = true;
    const r = canvas.current!.getBoundingClientRect();
    const c = cam.current;
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    const wx = c.x + mx / c.k, wy = c.y + my / c.k;
    const k = Math.min(4, Math.max(0.01, c.k * Math.exp(-e.deltaY * 0.0015)));
    cam.current = { k, x: wx - mx / k, y: wy - my / k };
    schedule();
  };
  const zoom = (f: number) => {
    moved.current = true;
    const c = cam.current;
    const el = canvas.current!;
    const mx = el.clientWidth / 2, my = el.clientHeight / 2;
    const wx = c.x + mx / c.k, wy = c.y + my / c.k;
    const k = Math.min(4, Math.max(0.01, c.k * f));
    cam.current = { k, x: wx - mx / k, y: wy - my / k };
    schedule();
  };

  return (
    <div class="graph-wrap">
      <canvas
        ref={canvas}
        class="graph"
        role="img"
        aria-label={`Execution graph of ${view.ids.length} nodes; the list "Graph nodes" names each node and its phase`}
        data-nodes={view.ids.length}
        data-layout={shown ? layoutName(shown) : undefined}
        data-engine={shown?.engine}
        onMouseDown={onDown}
        onMouseMove={onMove}
        onMouseUp={onUp}
        onDblClick={onDbl}
        onWheel={onWheel}
      />
      <GraphOutline
        model={props.model}
        view={view}
        expanded={props.expanded}
        nodes={props.nodes}
        grids={props.grids}
        onSelect={props.onSelect}
        onToggle={props.onToggle}
      />
      <div class="graph-tools">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const q = finder.current?.value.trim().toLowerCase();
            const s = state.current;
            if (!q || !s) return;
            const m = propsRef.current.model;
            const id = s.view.ids.find((x) => x.toLowerCase() === q) ??
              s.view.ids.find((x) => x.toLowerCase().includes(q) || m.nodes.get(x)!.label.toLowerCase().includes(q));
            if (id) {
              window.__airfoilGraph?.focus(id);
              propsRef.current.onSelect(id);
            }
          }}
        >
          <input ref={finder} class="finder" type="search" placeholder="find node…" aria-label="find node" />
        </form>
        <button title="zoom in" onClick={() => zoom(1.25)}>+</button>
        <button title="zoom out" onClick={() => zoom(0.8)}>−</button>
        <button
          title="fit"
          onClick={() => {
            fitted.current = false;
            schedule();
          }}
        >
          fit
        </button>
      </div>
    </div>
  );
}

function toggleBox(ctx: CanvasRenderingContext2D, x: number, y: number, open: boolean) {
  ctx.fillStyle = "rgba(255,255,255,0.9)";
  ctx.fillRect(x, y - 8, 16, 16);
  ctx.strokeStyle = "#57606a";
  ctx.lineWidth = 1;
  ctx.strokeRect(x, y - 8, 16, 16);
  ctx.fillStyle = "#1f2328";
  ctx.font = "bold 13px system-ui, sans-serif";
  ctx.fillText(open ? "−" : "+", x + 4, y + 0.5);
}

function drawNode(
  ctx: CanvasRenderingContext2D,
  x: number,
  y: number,
  node: GNode,
  rec: NodeOut | undefined,
  phase: string,
  text: boolean,
  selected: boolean,
  flatOpen: boolean,
  k: number,
  held: number,
) {
  const container = isContainer(node);
  const fill = phaseColor(phase);
  if (flatOpen) {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(x, y, NODE_W, NODE_H);
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = fill;
    ctx.lineWidth = 2;
    ctx.strokeRect(x, y, NODE_W, NODE_H);
    ctx.setLineDash([]);
  } else {
    ctx.fillStyle = fill;
    ctx.fillRect(x, y, NODE_W, NODE_H);
    if (container) {
      // a stacked look for collapsed containers
      ctx.strokeStyle = "rgba(0,0,0,0.25)";
      ctx.lineWidth = 1;
      ctx.strokeRect(x + 3, y - 3, NODE_W, NODE_H);
    }
  }
  const bar = node.kind === "map" && rec?.map_counts;
  if (bar) {
    const counts = rec!.map_counts!;
    const total = Object.values(counts).reduce((s, v) => s + v, 0) || 1;
    let bx = x;
    for (const ph of MAP_ORDER) {
      const c2 = counts[ph] ?? 0;
      if (!c2) continue;
      const bw = (NODE_W * c2) / total;
      ctx.fillStyle = phaseColor(ph);
      ctx.fillRect(bx, y + NODE_H - 7, bw, 7);
      bx += bw;
    }
    ctx.strokeStyle = "rgba(0,0,0,0.3)";
    ctx.lineWidth = 0.5;
    ctx.strokeRect(x, y + NODE_H - 7, NODE_W, 7);
  }
  if (selected) {
    ctx.strokeStyle = "#111827";
    ctx.lineWidth = 3 / Math.min(k, 1);
    ctx.strokeRect(x - 2, y - 2, NODE_W + 4, NODE_H + 4);
  }
  if (!text) return;
  const dark = flatOpen || phase === "pending" || phase === "skipped" || phase === "queued" || phase === "waiting";
  ctx.fillStyle = dark ? "#1f2328" : "#ffffff";
  ctx.font = "600 12px system-ui, sans-serif";
  const summary = node.summary ?? "";
  const room = NODE_W - (container ? 30 : 14);
  ctx.fillText(clip(ctx, (flatOpen ? "▣ " : "") + node.label, room), x + 7, y + (summary ? 12 : 16));
  ctx.font = "11px system-ui, sans-serif";
  if (summary) {
    ctx.globalAlpha = 0.85;
    ctx.fillText(clip(ctx, summary, NODE_W - 14), x + 7, y + 26);
    ctx.globalAlpha = 1;
  }
  // a collapsed container says how much it holds (expand it to see)
  const holds = held > 0 && node.kind !== "map" ? ` · ${held} node${held === 1 ? "" : "s"}` : "";
  ctx.fillText(clip(ctx, subtitle(node.kind, phase, rec, node.gate?.kind) + holds, NODE_W - 14), x + 7, y + (bar ? (summary ? 38 : 32) : summary ? 40 : 35));
  if (container) toggleBox(ctx, x + NODE_W - 20, y + 12, flatOpen);
}

function drawGrid(
  ctx: CanvasRenderingContext2D,
  x: number,
  y: number,
  w: number,
  h: number,
  node: GNode,
  rec: NodeOut | undefined,
  count: number,
  grid: MapGrid | undefined,
  phase: string,
  text: boolean,
  selected: boolean,
  k: number,
) {
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(x, y, w, h);
  ctx.fillStyle = phaseColor(phase);
  ctx.fillRect(x, y, w, 6);
  ctx.strokeStyle = selected ? "#111827" : phaseColor(phase);
  ctx.lineWidth = selected ? 3 / Math.min(k, 1) : 2;
  ctx.strokeRect(x, y, w, h);
  const { cols } = gridShape(count);
  const left = x + (w - (cols * (CELL + CELL_GAP) - CELL_GAP)) / 2;
  const byPhase = new Map<string, number[]>();
  for (let j = 0; j < count; j++) {
    const ph = grid?.phases.get(j) ?? "pending";
    let list = byPhase.get(ph);
    if (!list) byPhase.set(ph, (list = []));
    list.push(j);
  }
  for (const [ph, list] of byPhase) {
    ctx.fillStyle = phaseColor(ph);
    for (const j of list) ctx.fillRect(left + (j % cols) * (CELL + CELL_GAP), y + HEADER_H + Math.floor(j / cols) * (CELL + CELL_GAP), CELL, CELL);
  }
  if (!text) return;
  ctx.fillStyle = "#1f2328";
  ctx.font = "600 12px system-ui, sans-serif";
  const more = grid && grid.total > count ? ` (first ${count} of ${grid.total})` : "";
  ctx.fillText(clip(ctx, `${node.label}  ·  ${subtitle(node.kind, phase, rec)}${more}`, w - 34), x + 8, y + 6 + (HEADER_H - 6) / 2);
  toggleBox(ctx, x + w - 20, y + 18, true);
}

function clip(ctx: CanvasRenderingContext2D, s: string, width: number): string {
  if (ctx.measureText(s).width <= width) return s;
  let lo = 0, hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(s.slice(0, mid) + "…").width <= width) lo = mid;
    else hi = mid - 1;
  }
  return s.slice(0, lo) + "…";
}

export function subtitle(kind: string, phase: string, rec: NodeOut | undefined, gate?: string): string {
  if (kind === "map" && rec?.map_counts && Object.keys(rec.map_counts).length) {
    const c = rec.map_counts;
    const parts = [];
    if (c.succeeded) parts.push(`✓${c.succeeded}`);
    if (c.failed) parts.push(`✗${c.failed}`);
    if (c.aborted) parts.push(`⊘${c.aborted}`);
    if (c.running) parts.push(`▶${c.running}`);
    if (c.retrying) parts.push(`↻${c.retrying}`);
    if (c.queued) parts.push(`…${c.queued}`);
    if (c.pending) parts.push(`○${c.pending}`);
    return parts.join(" ");
  }
  if (phase === "waiting") return gate === "approve" ? "waiting for approval" : "waiting for input";
  const bits = [phase];
  // a running node's duration ticks; an interrupted one's stopped (when, nobody recorded)
  const live = rec?.started_at && !rec.ended_at && phase !== "interrupted";
  const d = rec?.duration_s ?? (live ? Date.now() / 1000 - rec!.started_at! : null);
  if (d !== null && d !== undefined) bits.push(fmtDuration(d));
  if (rec?.cache_status === "hit") bits.push("cached");
  else if (rec?.cache_status === "partial") bits.push("partly cached");
  if (kind !== "task") bits.push(kind);
  return bits.join(" · ");
}
