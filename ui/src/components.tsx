import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { ErrorOut, UnreadableOut, ValueOut } from "./api";
import { apiKey } from "./api";
import { onLinkClick } from "./router";
import { fmtBytes, phaseColor } from "./util";

export function Link(props: { to: string; children: ComponentChildren; class?: string; title?: string }) {
  return (
    <a href={props.to} class={props.class} title={props.title} onClick={(e) => onLinkClick(e, props.to)}>
      {props.children}
    </a>
  );
}

export function Phase({ phase }: { phase: string }) {
  const light = phase === "pending" || phase === "skipped" || phase === "queued";
  return (
    <span
      class="phase"
      data-phase={phase}
      style={{ background: phaseColor(phase), color: light ? "#1f2328" : "#fff" }}
    >
      {phase}
    </span>
  );
}

/** The kinds of stored parts that are blobs (a log's file), not records: the notice's noun. */
const BLOB_KINDS = new Set(["log", "report"]);

/** Stored parts that could not be read (records that no longer decode, written by an older or
 *  faulty version; blobs that are damaged), left out of what the page shows: how many, which,
 *  and why, as the API says it (``why``, the CLI's words), so a short list never passes for a
 *  whole one. */
export function Unreadable({ items }: { items: UnreadableOut[] | undefined }) {
  if (!items || items.length === 0) return null;
  const n = items.length;
  const kinds = new Set(items.map((u) => (BLOB_KINDS.has(u.kind) ? u.kind : "record")));
  const noun = kinds.size === 1 ? [...kinds][0] : "part";
  const whys = new Set(items.map((u) => u.why ?? ""));
  const shared = whys.size === 1 ? items[0].why : ""; // one reason for all: said once
  return (
    <div class="notice unreadable" role="status" data-unreadable={n}>
      {n} stored {noun}{n === 1 ? "" : "s"} could not be read and {n === 1 ? "is" : "are"} left out
      {shared ? ` (${n === 1 ? "" : "each: "}${shared})` : ""}:
      <ul>
        {items.map((u) => (
          <li data-kind={u.kind}>
            {u.kind} <span class="mono">{u.id}</span> <span class="muted small">{u.reason}</span>
            {shared || !u.why ? null : <span class="small"> ({u.why})</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function ErrorView({ error }: { error: ErrorOut }) {
  return (
    <div class="error-box">
      <div>
        <b>{error.type}</b> <span class="muted">({error.kind} error)</span>
      </div>
      <div class="error-message">{error.message}</div>
      {error.traceback ? <pre class="traceback">{error.traceback}</pre> : null}
    </div>
  );
}

export function Problem({ error }: { error: Error | null }) {
  if (!error) return null;
  return <div class="problem">{error.message}</div>;
}

function isFrame(p: unknown): p is { format: string; rows: number; columns: string[]; dtypes: string[]; head?: Record<string, unknown>[] } {
  return typeof p === "object" && p !== null && ["arrow", "parquet"].includes((p as { format?: string }).format ?? "");
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A table of records (a list of objects with the same keys) or of a dataframe's head. */
export function Table({ columns, rows, caption }: { columns: string[]; rows: unknown[][]; caption?: string }) {
  return (
    <div class="table-wrap">
      <table class="data">
        {caption ? <caption>{caption}</caption> : null}
        <thead>
          <tr>{columns.map((c) => <th>{c}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr>{r.map((v) => <td>{cell(v)}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function recordsTable(p: unknown): { columns: string[]; rows: unknown[][] } | null {
  if (!Array.isArray(p) || p.length === 0 || p.length > 1000) return null;
  if (!p.every((r) => typeof r === "object" && r !== null && !Array.isArray(r))) return null;
  const columns = Object.keys(p[0] as object);
  if (columns.length === 0) return null;
  return { columns, rows: p.map((r) => columns.map((c) => (r as Record<string, unknown>)[c])) };
}

async function download(url: string, name: string) {
  const key = apiKey();
  const r = await fetch(url, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  const blob = await r.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function ValueView({ value }: { value: ValueOut }) {
  const p = value.preview;
  let body: ComponentChildren;
  if (isFrame(p)) {
    const head = p.head ?? [];
    body = (
      <div>
        <div class="muted">
          dataframe: {p.rows} rows × {p.columns.length} columns
          {head.length < p.rows ? ` (first ${head.length} shown)` : ""}
        </div>
        <Table
          columns={p.columns.map((c, i) => `${c}${p.dtypes[i] ? ` (${p.dtypes[i]})` : ""}`)}
          rows={head.map((r) => p.columns.map((c) => r[c]))}
        />
      </div>
    );
  } else if (value.preview_error) {
    body = <div class="muted">no preview: {value.preview_error}</div>;
  } else if (p === null || p === undefined) {
    body = <div class="muted">{value.format === "json" ? "null" : "(not previewed)"}</div>;
  } else {
    const t = recordsTable(p);
    body = t ? <Table {...t} /> : <pre class="json">{JSON.stringify(p, null, 2)}</pre>;
  }
  return (
    <div class="value" data-value={value.name}>
      <div class="value-head">
        <b>{value.name}</b> <code>{value.type}</code>{" "}
        <span class="muted">
          {value.format}, {fmtBytes(value.size)}
        </span>
        {value.download ? (
          <button class="link" onClick={() => download(value.download!, `${value.name}.${value.format === "arrow" ? "parquet" : value.format}`)}>
            download
          </button>
        ) : null}
      </div>
      {body}
    </div>
  );
}

export function Tabs(props: { tabs: string[]; current: string; onChange: (t: string) => void }) {
  return (
    <div class="tabs" role="tablist">
      {props.tabs.map((t) => (
        <button
          role="tab"
          class={t === props.current ? "tab active" : "tab"}
          aria-selected={t === props.current}
          onClick={() => props.onChange(t)}
        >
          {t}
        </button>
      ))}
    </div>
  );
}

export function Collapsible({ title, children, open = false }: { title: ComponentChildren; children: ComponentChildren; open?: boolean }) {
  const [o, setO] = useState(open);
  return (
    <div class="collapsible">
      <button class="link" onClick={() => setO(!o)}>
        {o ? "▾" : "▸"} {title}
      </button>
      {o ? <div>{children}</div> : null}
    </div>
  );
}
