// A timeline (Gantt) of the nodes that ran: one row per node, its queued time pale and each
// attempt a bar in the attempt's phase colour. Only the rows on screen are drawn.
import { useMemo, useState } from "preact/hooks";
import type { ExecutionDetail, NodeOut } from "./api";
import { fmtDuration, phaseColor } from "./util";

const ROW = 24;
const LABEL = 240;

export function Timeline(props: {
  detail: ExecutionDetail;
  /** Node names (a call's name, or its task's short name) by node id. */
  labels?: Map<string, string>;
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const { detail } = props;
  const now = Date.now() / 1000;
  const rows = useMemo(() => {
    const rs = (detail.nodes ?? []).filter((n) => n.started_at || n.queued_at || (n.attempt_list ?? []).length);
    rs.sort((a, b) => (a.started_at ?? a.queued_at ?? 0) - (b.started_at ?? b.queued_at ?? 0) || a.id.localeCompare(b.id));
    return rs;
  }, [detail]);
  const t0 = detail.started_at ?? detail.created_at;
  let t1 = detail.ended_at ?? now;
  for (const n of rows) t1 = Math.max(t1, n.ended_at ?? (n.started_at ? now : t1));
  const span = Math.max(t1 - t0, 0.001);
  const [scroll, setScroll] = useState(0);
  const height = Math.min(480, rows.length * ROW + 4);
  const first = Math.max(0, Math.floor(scroll / ROW) - 5);
  const last = Math.min(rows.length, first + Math.ceil(height / ROW) + 10);
  const ticks = 6;
  if (rows.length === 0) return <div class="muted pad">nothing has run yet</div>;
  return (
    <div class="timeline">
      <div class="tl-axis">
        <div style={{ width: `${LABEL}px` }} class="muted small">
          {rows.length} nodes · {fmtDuration(span)}
        </div>
        <div class="tl-ticks">
          {Array.from({ length: ticks + 1 }, (_, i) => (
            <span style={{ left: `${(100 * i) / ticks}%` }}>{fmtDuration((span * i) / ticks)}</span>
          ))}
        </div>
      </div>
      <div class="tl-scroll" style={{ height: `${height}px` }} onScroll={(e) => setScroll((e.target as HTMLElement).scrollTop)}>
        <div style={{ height: `${rows.length * ROW}px`, position: "relative" }}>
          {rows.slice(first, last).map((n, j) => (
            <Row n={n} label={props.labels?.get(n.id)} top={(first + j) * ROW} t0={t0} span={span} now={now} selected={n.id === props.selected} onSelect={props.onSelect} />
          ))}
        </div>
      </div>
    </div>
  );
}

function Row(props: { n: NodeOut; label?: string; top: number; t0: number; span: number; now: number; selected: boolean; onSelect: (id: string) => void }) {
  const { n, t0, span, now } = props;
  const pct = (t: number) => `${(100 * (t - t0)) / span}%`;
  const w = (a: number, b: number) => `${Math.max((100 * (b - a)) / span, 0.15)}%`;
  const attempts = n.attempt_list ?? [];
  return (
    <div
      class={props.selected ? "tl-row selected" : "tl-row"}
      style={{ top: `${props.top}px` }}
      data-row={n.id}
      onClick={() => props.onSelect(n.id)}
    >
      <div class="tl-label" style={{ width: `${LABEL}px` }} title={`${n.id} ${n.task}`}>
        {n.id}
        {props.label || n.task ? <small>{props.label ?? n.task.split(".").pop()}</small> : null}
      </div>
      <div class="tl-bars">
        {n.queued_at && (n.started_at ?? now) > n.queued_at ? (
          <span class="tl-bar queued" style={{ left: pct(n.queued_at), width: w(n.queued_at, n.started_at ?? now) }} />
        ) : null}
        {attempts.length
          ? attempts.map((a) => (
              <span
                class="tl-bar"
                title={`attempt ${a.attempt}: ${a.phase} ${fmtDuration((a.ended_at ?? now) - a.started_at)}`}
                style={{ left: pct(a.started_at), width: w(a.started_at, a.ended_at ?? now), background: phaseColor(a.phase) }}
              />
            ))
          : n.started_at ? (
              <span
                class="tl-bar"
                title={`${n.phase} ${fmtDuration((n.ended_at ?? now) - n.started_at)}`}
                style={{ left: pct(n.started_at), width: w(n.started_at, n.ended_at ?? now), background: phaseColor(n.phase) }}
              />
            ) : null}
      </div>
    </div>
  );
}
