// The API client of the console: typed by the OpenAPI spec (schema.d.ts is generated from it).
import type { components } from "./schema";

export type S = components["schemas"];
export type ExecutionSummary = S["ExecutionSummary"];
export type ExecutionDetail = S["ExecutionDetail"];
export type ExecutionPage = S["ExecutionPage"];
export type UnreadableOut = S["UnreadableOut"];
export type NodeOut = S["NodeOut"];
export type ValueOut = S["ValueOut"];
export type AttemptOut = S["AttemptOut"];
export type ErrorOut = S["ErrorOut"];
export type GraphOut = S["GraphOut"];
export type GraphNodeOut = S["GraphNodeOut"];
export type GateOut = S["GateOut"];
export type EntitySummary = S["EntitySummary"];
export type EntityVersionOut = S["EntityVersionOut"];
export type ParamOut = S["ParamOut"];
export type ProjectOut = S["ProjectOut"];
export type LogOut = S["LogOut"];
export type MapItemsOut = S["MapItemsOut"];
export type Identity = S["Identity"];
export type SignalOut = S["SignalOut"];
export type AnomalyList = S["AnomalyList"];
export type AnomalyOut = S["AnomalyOut"];

const KEY = "airfoil.apiKey";
export const API = "/api/v1";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

type KeyListener = (needed: boolean, message: string) => void;
const listeners = new Set<KeyListener>();

/** Called when the server asks for a key (401) or accepts one. */
export function onKeyNeeded(fn: KeyListener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function apiKey(): string | null {
  return localStorage.getItem(KEY);
}

export function setApiKey(key: string | null): void {
  if (key) localStorage.setItem(KEY, key);
  else localStorage.removeItem(KEY);
}

function headers(extra?: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { Accept: "application/json", ...extra };
  const key = apiKey();
  if (key) h["Authorization"] = `Bearer ${key}`;
  return h;
}

async function request<T>(method: string, path: string, body?: unknown, text = false): Promise<T> {
  const init: RequestInit = { method, headers: headers(text ? { Accept: "text/html" } : undefined) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = headers({ "Content-Type": "application/json" });
  }
  const r = await fetch(API + path, init);
  if (!r.ok) {
    let code = "http_error";
    let message = `${r.status} ${r.statusText}`;
    try {
      const e = (await r.json()) as S["ErrorBody"];
      code = e.error.code;
      message = e.error.message;
    } catch {
      /* not a JSON error body */
    }
    if (r.status === 401) listeners.forEach((fn) => fn(true, message));
    throw new ApiError(r.status, code, message);
  }
  if (text) {
    const damage = r.headers.get("X-Airfoil-Damage");
    return {
      text: await r.text(),
      attempt: Number(r.headers.get("X-Airfoil-Attempt") ?? 0),
      damage: damage === null ? null : decodeURIComponent(damage),
    } as T;
  }
  return (await r.json()) as T;
}

/** A page the API serves as HTML (a node's report): its text, ``X-Airfoil-Attempt`` and,
 * for a report part of which could not be read, ``X-Airfoil-Damage`` (null when whole). */
export type HtmlPage = { text: string; attempt: number; damage: string | null };
export const getHtml = (path: string) => request<HtmlPage>("GET", path, undefined, true);

/** PUT raw bytes (an upload); the server's JSON answer. */
export async function putBytes<T = unknown>(path: string, body: Uint8Array<ArrayBuffer>): Promise<T> {
  const r = await fetch(API + path, { method: "PUT", headers: headers({ "Content-Type": "application/octet-stream" }), body });
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try {
      message = ((await r.json()) as S["ErrorBody"]).error.message;
    } catch {
      /* not a JSON error body */
    }
    if (r.status === 401) listeners.forEach((fn) => fn(true, message));
    throw new ApiError(r.status, "upload_failed", `upload failed: ${message}`);
  }
  return (await r.json()) as T;
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => request<T>("POST", path, body);

export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;

/** The domains a project's runs live in (a run's name is unique within one). */
export const DOMAINS = ["development", "staging", "production"];

/** A run's page: by its name in its project and `?domain=` (a name is unique within a project
 * and domain only, so a bare name the project uses in several domains is a 409), or by its id
 * where no name is known; `query` adds the page's parameters (node, tab). */
export function runPath(
  project: string,
  run: { name?: string; id: string; domain?: string },
  query: Record<string, string | number | undefined | null> = {},
): string {
  const path = `/projects/${enc(project)}/executions/${enc(run.name || run.id)}`;
  return path + qs({ ...query, domain: run.name ? run.domain : undefined });
}

export const TERMINAL = new Set(["succeeded", "failed", "aborted", "skipped", "cached"]);
export function isTerminal(phase: string): boolean {
  return TERMINAL.has(phase);
}
