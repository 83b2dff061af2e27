import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

export function fmtDuration(s: number | null | undefined): string {
  if (s === null || s === undefined || !isFinite(s)) return "";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

/** Seconds between start and end (now while still running). */
export function elapsed(start?: number | null, end?: number | null, now = Date.now() / 1000) {
  if (start === null || start === undefined) return null;
  return Math.max(0, (end ?? now) - start);
}

export function fmtTime(t: number | null | undefined): string {
  if (!t) return "";
  const d = new Date(t * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

export const PHASE_COLORS: Record<string, string> = {
  pending: "#cfd4da",
  queued: "#f6d365",
  running: "#3b82f6",
  retrying: "#f59e0b",
  waiting: "#f59e0b",
  succeeded: "#22a05a",
  failed: "#e5484d",
  aborted: "#8e4ec6",
  skipped: "#eceef0",
  // no process drives the execution any more (Ctrl-C, a killed run): resumable
  interrupted: "#c2410c",
  lost: "#c2410c",
};

export function phaseColor(phase: string): string {
  return PHASE_COLORS[phase] ?? "#cfd4da";
}

/** Re-render every `ms` while `active` (live durations). */
export function useTick(ms: number, active: boolean): number {
  const [t, setT] = useState(0);
  useEffect(() => {
    if (!active) return;
    const h = setInterval(() => setT((x) => x + 1), ms);
    return () => clearInterval(h);
  }, [ms, active]);
  return t;
}

/** A failure that may pass if asked again: no answer at all (the server restarting, the
 * network), a 5xx (503 while it starts or sheds load), a 408 or a 429. A 4xx other than
 * those is the question's fault: asking again gets the same answer. */
export function retryable(e: unknown): boolean {
  if (e instanceof ApiError) return e.status >= 500 || e.status === 408 || e.status === 429;
  return e instanceof TypeError; // fetch() rejects with a TypeError when nothing answered
}

/** The wait before the `n`th retry of a one-fetch page: 1 s, 2 s, 4 s ... at most 30 s. */
export function backoffMs(n: number): number {
  return Math.min(1000 * 2 ** Math.max(0, n - 1), 30_000);
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
  reload: () => void;
}

/**
 * Fetch with `load` when `key` changes; poll every `pollMs` while `poll(data)` says so.
 * A failed fetch is shown (`error`) and asked again: a polling one at its next poll (2 s at
 * least), a one-fetch one (`pollMs` 0) with a backoff (`backoffMs`) while it is `retryable`.
 * Answers to an older key are dropped; its data is shown until the new one comes only
 * with `keepStale`.
 */
export function useFetch<T>(
  key: string,
  load: () => Promise<T>,
  pollMs = 0,
  poll: (d: T) => boolean = () => true,
  keepStale = false,
  interval: () => number = () => pollMs,
): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [n, setN] = useState(0);
  const seq = useRef(0);
  const lastKey = useRef(key);
  useEffect(() => {
    if (lastKey.current !== key) {
      lastKey.current = key;
      if (!keepStale) setData(null);
      setError(null);
    }
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      const mine = ++seq.current;
      try {
        const d = await load();
        if (stopped || mine !== seq.current) return;
        setData(d);
        setError(null);
        failures = 0;
        if (pollMs > 0 && poll(d)) timer = setTimeout(run, interval());
      } catch (e) {
        if (stopped || mine !== seq.current) return;
        setError(e as Error);
        failures += 1;
        if (pollMs > 0) timer = setTimeout(run, Math.max(pollMs, 2000));
        // a page that fetches once asks again, backing off, while the failure may pass
        else if (retryable(e)) timer = setTimeout(run, backoffMs(failures));
      }
    };
    let failures = 0;
    run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [key, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

export function shortId(s: string, n = 10): string {
  return s.length > n ? s.slice(0, n) : s;
}
