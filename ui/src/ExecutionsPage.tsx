// The executions of a project, newest first, with live phases and durations, filters
// (domain, workflow, phase, dates) and search; filters live in the URL.
import { useEffect, useState } from "preact/hooks";
import type { EntitySummary, ExecutionPage as Page } from "./api";
import { DOMAINS, enc, get, isTerminal, qs } from "./api";
import { Link, Phase, Problem, Unreadable } from "./components";
import { setQuery } from "./router";
import { elapsed, fmtDuration, fmtTime, useFetch, useTick } from "./util";

const PHASES = ["queued", "running", "succeeded", "failed", "aborted"];
const PAGE = 50;

function toEpoch(date: string, endOfDay: boolean): number | undefined {
  if (!date) return undefined;
  const t = Date.parse(`${date}T${endOfDay ? "23:59:59.999" : "00:00:00"}`);
  return isNaN(t) ? undefined : t / 1000;
}

export function ExecutionsPage(props: { project: string; query: URLSearchParams }) {
  const { project, query } = props;
  const f = {
    domain: query.get("domain") ?? "",
    workflow: query.get("workflow") ?? "",
    phase: query.get("phase") ?? "",
    q: query.get("q") ?? "",
    from: query.get("from") ?? "",
    to: query.get("to") ?? "",
    offset: Number(query.get("offset") ?? "0") || 0,
  };
  const path =
    `/projects/${enc(project)}/executions` +
    qs({
      domain: f.domain,
      workflow: f.workflow,
      phase: f.phase,
      q: f.q,
      since: toEpoch(f.from, false),
      until: toEpoch(f.to, true),
      limit: PAGE,
      offset: f.offset,
    });
  const page = useFetch<Page>(path, () => get<Page>(path), 2000);
  const entities = useFetch<{ items: EntitySummary[] }>(`ent|${project}`, () =>
    get<{ items: EntitySummary[] }>(`/projects/${enc(project)}/entities`),
  );
  // typed text is the page's own until it is committed (Enter, leaving the field, Search):
  // the list's refreshes must not overwrite it
  const [search, setSearch] = useState(f.q);
  const [workflow, setWorkflow] = useState(f.workflow);
  useEffect(() => setSearch(f.q), [f.q]);
  useEffect(() => setWorkflow(f.workflow), [f.workflow]);
  const live = (page.data?.items ?? []).some((e) => !isTerminal(e.phase));
  useTick(1000, live);
  const set = (k: string, v: string) => setQuery({ [k]: v || null, offset: null });
  const total = page.data?.total ?? 0;
  return (
    <div class="page">
      <h1>Executions</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ q: search.trim() || null, workflow: workflow.trim() || null, offset: null });
        }}
      >
        <input type="search" name="q" placeholder="search id, workflow, label…" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        <select name="domain" value={f.domain} onChange={(e) => set("domain", (e.target as HTMLSelectElement).value)}>
          <option value="">all domains</option>
          {DOMAINS.map((d) => <option value={d}>{d}</option>)}
        </select>
        <input
          name="workflow"
          list="workflow-names"
          placeholder="any workflow"
          value={workflow}
          onInput={(e) => setWorkflow((e.target as HTMLInputElement).value)}
          onChange={(e) => set("workflow", (e.target as HTMLInputElement).value.trim())}
        />
        <datalist id="workflow-names">
          {[...new Set([...(entities.data?.items ?? []).map((e) => e.name), ...(page.data?.items ?? []).map((e) => e.workflow)])].map((n) => (
            <option value={n} />
          ))}
        </datalist>
        <select name="phase" value={f.phase} onChange={(e) => set("phase", (e.target as HTMLSelectElement).value)}>
          <option value="">all phases</option>
          {PHASES.map((p) => <option value={p}>{p}</option>)}
        </select>
        <label class="inline">
          from <input type="date" name="from" value={f.from} onChange={(e) => set("from", (e.target as HTMLInputElement).value)} />
        </label>
        <label class="inline">
          to <input type="date" name="to" value={f.to} onChange={(e) => set("to", (e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Search</button>
      </form>
      <Problem error={page.error} />
      <Unreadable items={page.data?.unreadable} />
      <table class="list executions">
        <thead>
          <tr>
            <th>execution</th>
            <th>workflow</th>
            <th>phase</th>
            <th>domain</th>
            <th>created</th>
            <th>duration</th>
          </tr>
        </thead>
        <tbody>
          {(page.data?.items ?? []).map((e) => (
            <tr data-execution={e.name || e.id} data-phase={e.phase}>
              <td class="mono">
                <Link to={`/projects/${enc(project)}/executions/${enc(e.name || e.id)}?domain=${enc(e.domain)}`}>{e.name || e.id}</Link>
              </td>
              <td>
                <Link to={`/projects/${enc(project)}/entities/${enc(e.workflow)}`}>{e.workflow}</Link>
                <div class="muted small mono">{e.version.slice(0, 12)}</div>
              </td>
              <td>
                <Phase phase={e.phase} />
              </td>
              <td>{e.domain}</td>
              <td>{fmtTime(e.created_at)}</td>
              <td>{fmtDuration(e.duration_s ?? elapsed(e.started_at, e.ended_at))}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.items.length === 0 && !page.data.unreadable?.length ? <div class="muted pad">no executions match</div> : null}
      <div class="pager">
        <span class="muted">
          {total ? `${f.offset + 1}–${Math.min(f.offset + PAGE, total)} of ${total}` : ""}
        </span>
        <button disabled={f.offset === 0} onClick={() => setQuery({ offset: String(Math.max(0, f.offset - PAGE)) })}>
          ← newer
        </button>
        <button disabled={f.offset + PAGE >= total} onClick={() => setQuery({ offset: String(f.offset + PAGE) })}>
          older →
        </button>
      </div>
    </div>
  );
}
