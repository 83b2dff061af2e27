// The execution graph on a canvas: pan (drag), zoom (wheel), click a node to open it,
// click a container's +/- (or double-click it) to expand or collapse it.
import { useEffect, useMemo, useRef } from "preact/hooks";
import type { NodeOut } from "./api";
import { type Model, isContainer, visibleGraph } from "./graph";
import { NODE_H, NODE_W, layout } from "./layout";
import { fmtDuration, phaseColor } from "./util";

export interface GraphViewProps {
  model: Model;
  expanded: Set<string>;
  nodes: Map<string, NodeOut>;
  selected: string | null;
  onSelect: (id: string) => void;
  onToggle: (id: string) => void;
}

interface Cam {
  x: number; // world x at the canvas' left edge
  y: number;
  k: number; // pixels per world unit
}

const MAP_ORDER = ["succeeded", "failed", "running", "retrying", "queued", "pending"];

export function displayPhase(node: { kind: string; gate?: { kind: string } | null }, rec?: NodeOut): string {
  const phase = rec?.phase ?? "pending";
  if (node.gate && node.gate.kind !== "sleep" && (phase === "running" || phase === "queued")) return "waiting";
  return phase;
}

declare global {
  interface Window {
    __airfoilGraph?: {
      boxOf: (id: string) => { x: number; y: number; w: number; h: number } | null;
      visible: () => string[];
      paints: number;
      firstPaintAt: number | null;
      focus: (id: string) => void;
    };
  }
}

export function GraphView(props: GraphViewProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const cam = useRef<Cam>({ x: 0, y: 0, k: 1 });
  const fitted = useRef(false);
  const frame = useRef(0);
  const propsRef = useRef(props);
  propsRef.current = props;

  const view = useMemo(() => visibleGraph(props.model, props.expanded), [props.model, props.expanded]);
  const pos = useMemo(() => layout(view.ids.length, view.edges), [view]);
  const state = useRef({ view, pos });
  state.current = { view, pos };

  const draw = () => {
    frame.current = 0;
    const c = canvas.current;
    if (!c) return;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const { view, pos } = state.current;
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
      pos.x[i] + NODE_W >= vx0 && pos.x[i] <= vx1 && pos.y[i] + NODE_H >= vy0 && pos.y[i] <= vy1;

    // edges
    ctx.lineWidth = Math.max(1, 1 / k);
    ctx.strokeStyle = view.edges.length > 3000 ? "rgba(110,118,129,0.25)" : "rgba(110,118,129,0.7)";
    ctx.beginPath();
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

    // nodes
    const text = k > 0.3;
    ctx.textBaseline = "middle";
    for (let i = 0; i < view.ids.length; i++) {
      if (!inView(i)) continue;
      const id = view.ids[i];
      const node = p.model.nodes.get(id)!;
      const rec = p.nodes.get(id);
      const phase = displayPhase(node, rec);
      const x = pos.x[i], y = pos.y[i];
      const container = isContainer(node);
      const open = container && p.expanded.has(id);
      const fill = phaseColor(phase);
      if (open) {
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
      if (node.kind === "map" && rec?.map_counts) {
        const counts = rec.map_counts;
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
      if (id === p.selected) {
        ctx.strokeStyle = "#111827";
        ctx.lineWidth = 3 / Math.min(k, 1);
        ctx.strokeRect(x - 2, y - 2, NODE_W + 4, NODE_H + 4);
      }
      if (text) {
        const dark = open || phase === "pending" || phase === "skipped" || phase === "queued" || phase === "waiting";
        ctx.fillStyle = dark ? "#1f2328" : "#ffffff";
        ctx.font = "600 12px system-ui, sans-serif";
        ctx.fillText(clip(ctx, (open ? "▣ " : "") + node.label, NODE_W - (container ? 30 : 14)), x + 7, y + 14);
        ctx.font = "11px system-ui, sans-serif";
        ctx.fillText(clip(ctx, subtitle(node.kind, phase, rec, node.gate?.kind), NODE_W - 14), x + 7, y + (node.kind === "map" ? 28 : 31));
        if (container) {
          ctx.fillStyle = "rgba(255,255,255,0.9)";
          ctx.fillRect(x + NODE_W - 20, y + 4, 16, 16);
          ctx.strokeStyle = "#57606a";
          ctx.lineWidth = 1;
          ctx.strokeRect(x + NODE_W - 20, y + 4, 16, 16);
          ctx.fillStyle = "#1f2328";
          ctx.font = "bold 13px system-ui, sans-serif";
          ctx.fillText(open ? "−" : "+", x + NODE_W - 16, y + 12.5);
        }
      }
    }
    const g = window.__airfoilGraph;
    if (g) {
      g.paints++;
      if (g.firstPaintAt === null && view.ids.length > 0) {
        g.firstPaintAt = performance.now();
        c.dataset.painted = String(view.ids.length);
      }
    }
  };

  const schedule = () => {
    if (!frame.current) frame.current = requestAnimationFrame(draw);
  };

  useEffect(() => {
    schedule();
  });

  useEffect(() => {
    const toScreen = (i: number) => {
      const c = canvas.current!.getBoundingClientRect();
      const { x, y, k } = cam.current;
      const { pos } = state.current;
      return { x: c.left + (pos.x[i] - x) * k, y: c.top + (pos.y[i] - y) * k, w: NODE_W * k, h: NODE_H * k };
    };
    window.__airfoilGraph = {
      paints: 0,
      firstPaintAt: null,
      boxOf: (id) => {
        const i = state.current.view.index.get(id);
        return i === undefined ? null : toScreen(i);
      },
      visible: () => state.current.view.ids.slice(),
      focus: (id) => {
        const i = state.current.view.index.get(id);
        const c = canvas.current;
        if (i === undefined || !c) return;
        const { pos } = state.current;
        const k = Math.max(cam.current.k, 0.8);
        cam.current = {
          k,
          x: pos.x[i] + NODE_W / 2 - c.clientWidth / 2 / k,
          y: pos.y[i] + NODE_H / 2 - c.clientHeight / 2 / k,
        };
        schedule();
      },
    };
    const ro = new ResizeObserver(() => schedule());
    if (canvas.current) ro.observe(canvas.current);
    return () => {
      ro.disconnect();
      if (frame.current) cancelAnimationFrame(frame.current);
    };
  }, []);

  const hit = (e: MouseEvent): { i: number; toggle: boolean } | null => {
    const r = canvas.current!.getBoundingClientRect();
    const { x, y, k } = cam.current;
    const wx = x + (e.clientX - r.left) / k;
    const wy = y + (e.clientY - r.top) / k;
    const { view, pos } = state.current;
    for (let i = 0; i < view.ids.length; i++) {
      if (wx >= pos.x[i] && wx <= pos.x[i] + NODE_W && wy >= pos.y[i] && wy <= pos.y[i] + NODE_H) {
        const toggle = wx >= pos.x[i] + NODE_W - 22 && wy <= pos.y[i] + 22;
        return { i, toggle };
      }
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
    const id = state.current.view.ids[h.i];
    const node = propsRef.current.model.nodes.get(id)!;
    if (h.toggle && isContainer(node)) propsRef.current.onToggle(id);
    else propsRef.current.onSelect(id);
  };
  const onDbl = (e: MouseEvent) => {
    const h = hit(e);
    if (!h) return;
    const id = state.current.view.ids[h.i];
    if (isContainer(propsRef.current.model.nodes.get(id)!)) propsRef.current.onToggle(id);
  };
  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const r = canvas.current!.getBoundingClientRect();
    const c = cam.current;
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    const wx = c.x + mx / c.k, wy = c.y + my / c.k;
    const k = Math.min(4, Math.max(0.01, c.k * Math.exp(-e.deltaY * 0.0015)));
    cam.current = { k, x: wx - mx / k, y: wy - my / k };
    schedule();
  };
  const zoom = (f: number) => {
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
        data-nodes={view.ids.length}
        onMouseDown={onDown}
        onMouseMove={onMove}
        onMouseUp={onUp}
        onDblClick={onDbl}
        onWheel={onWheel}
      />
      <div class="graph-tools">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            const q = finder.current?.value.trim().toLowerCase();
            if (!q) return;
            const { view } = state.current;
            const m = propsRef.current.model;
            const id = view.ids.find((x) => x.toLowerCase() === q) ??
              view.ids.find((x) => x.toLowerCase().includes(q) || m.nodes.get(x)!.label.toLowerCase().includes(q));
            if (id) {
              window.__airfoilGraph?.focus(id);
              propsRef.current.onSelect(id);
            }
          }}
        >
          <input ref={finder} class="finder" type="search" placeholder="find node…" />
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

function subtitle(kind: string, phase: string, rec: NodeOut | undefined, gate?: string): string {
  if (kind === "map" && rec?.map_counts && Object.keys(rec.map_counts).length) {
    const c = rec.map_counts;
    const parts = [];
    if (c.succeeded) parts.push(`✓${c.succeeded}`);
    if (c.failed) parts.push(`✗${c.failed}`);
    if (c.running) parts.push(`▶${c.running}`);
    if (c.retrying) parts.push(`↻${c.retrying}`);
    if (c.queued) parts.push(`…${c.queued}`);
    if (c.pending) parts.push(`○${c.pending}`);
    return parts.join(" ");
  }
  if (phase === "waiting") return gate === "approve" ? "waiting for approval" : "waiting for input";
  const bits = [phase];
  const d = rec?.duration_s ?? (rec?.started_at && !rec.ended_at ? Date.now() / 1000 - rec.started_at : null);
  if (d !== null && d !== undefined) bits.push(fmtDuration(d));
  if (rec?.cache_status === "hit") bits.push("cached");
  if (kind !== "task") bits.push(kind);
  return bits.join(" · ");
}
