// Task logs in the console: a node's attempt log (tailed while it runs) with a level filter
// (the server filters: `?level=`, as `airfoil logs --level`) and a search box that highlights
// matches (optionally keeping only matching lines); and the search across runs
// (`airfoil logs --search`, `GET /logs/search`) as a page of matching lines linked to their runs.
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { LogOut, NodeOut, S } from "./api";
import { enc, get, isTerminal, qs, runPath } from "./api";
import { Link, Problem, Unreadable } from "./components";
import { setQuery } from "./router";
import { useFetch } from "./util";

type SearchOut = S["LogSearchOut"];

export const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/** The most matches one log highlights (each is an element: a one-letter search of a
 * large log would otherwise build hundreds of thousands); later ones are counted. */
export const MAX_MARKS = 2000;

/** `text` with each case-insensitive occurrence of `needle` in a <mark> (the first
 * MAX_MARKS); the count found. */
export function highlight(text: string, needle: string): [ComponentChildren[], number] {
  if (!needle) return [[text], 0];
  const hay = text.toLowerCase();
  const n = needle.toLowerCase();
  const out: ComponentChildren[] = [];
  let at = 0;
  let found = 0;
  for (let i = hay.indexOf(n); i >= 0; i = hay.indexOf(n, i + n.length)) {
    found++;
    if (found > MAX_MARKS) continue;
    if (i > at) out.push(text.slice(at, i));
    out.push(<mark>{text.slice(i, i + n.length)}</mark>);
    at = i + n.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return [out, found];
}

function LevelSelect(props: { value: string; onChange: (v: string) => void }) {
  return (
    <label class="inline">
      level{" "}
      <select name="level" value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">all</option>
        {LEVELS.map((l) => <option value={l}>{l} and above</option>)}
      </select>
    </label>
  );
}

/** A map item's tries, for its log (``base`` is then the item's: ``.../nodes/n3[12]``). */
export type ItemTries = { index: number; phase: string; attempts: number; cache: string };

export function Logs(props: { project: string; base: string; rec: NodeOut | undefined; item?: ItemTries }) {
  const { base, rec, item } = props;
  const attempts = item
    ? item.cache === "hit" ? [] : Array.from({ length: item.attempts }, (_, i) => i + 1)
    : rec?.attempt_list?.map((a) => a.attempt) ?? [];
  const [chosen, setChosen] = useState<number | null>(null);
  const attempt = chosen ?? (attempts.length ? attempts[attempts.length - 1] : null);
  const live = item ? !isTerminal(item.phase) : !rec || !isTerminal(rec.phase);
  const [follow, setFollow] = useState(true);
  const [level, setLevel] = useState("");
  const [search, setSearch] = useState("");
  const [onlyMatching, setOnlyMatching] = useState(false);
  // A training task: its attempt's own log (the supervisor's story) or one rank's output.
  const ranks = rec?.task_type === "training" ? rec.workers ?? 0 : 0;
  const [rank, setRank] = useState<number | null>(null);
  const url = `${base}/logs${qs({ attempt, level, rank })}`;
  const version = item ? `${item.phase}|${item.attempts}` : `${rec?.phase}|${rec?.attempts}`;
  const log = useFetch<LogOut>(`${url}|${version}`, () => get<LogOut>(url), live ? 1000 : 0, () => live, true);
  const pre = useRef<HTMLPreElement>(null);
  const text = log.data?.text ?? "";
  const needle = search.trim();
  const shown = useMemo(() => {
    if (!needle || !onlyMatching) return text;
    const n = needle.toLowerCase();
    return text.split("\n").filter((line) => line.toLowerCase().includes(n)).join("\n");
  }, [text, needle, onlyMatching]);
  const [parts, found] = useMemo(() => highlight(shown, needle), [shown, needle]);
  useEffect(() => {
    if (needle && pre.current) {
      const first = pre.current.querySelector("mark");
      if (first) {
        first.classList.add("current");
        first.scrollIntoView({ block: "nearest" });
      }
    } else if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text, follow, needle, onlyMatching]);
  const acrossRuns = `/projects/${enc(props.project)}/logs${qs({ text: needle, level })}`;
  return (
    <div class="logs">
      <div class="logs-bar">
        {attempts.length > 1 ? (
          <select name="attempt" value={String(attempt)} onChange={(e) => setChosen(Number((e.target as HTMLSelectElement).value))}>
            {attempts.map((a) => <option value={String(a)}>attempt {a}</option>)}
          </select>
        ) : null}
        {ranks > 0 ? (
          <select
            name="rank"
            value={rank === null ? "" : String(rank)}
            onChange={(e) => {
              const v = (e.target as HTMLSelectElement).value;
              setRank(v === "" ? null : Number(v));
            }}
          >
            <option value="">attempt log</option>
            {Array.from({ length: ranks }, (_, r) => <option value={String(r)}>rank {r}</option>)}
          </select>
        ) : null}
        {live ? <span class="live">● live</span> : null}
        <LevelSelect value={level} onChange={setLevel} />
        <input type="search" name="log-search" placeholder="search this log" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        {needle ? (
          <span class="small muted log-found" data-found={found}>
            {found} match{found === 1 ? "" : "es"}{found > MAX_MARKS ? ` (the first ${MAX_MARKS} highlighted)` : ""}
          </span>
        ) : null}
        {needle ? (
          <label class="inline">
            <input type="checkbox" name="only-matching" checked={onlyMatching} onChange={(e) => setOnlyMatching((e.target as HTMLInputElement).checked)} /> only matching lines
          </label>
        ) : null}
        {needle ? <Link to={acrossRuns} class="small across-runs">search all runs →</Link> : null}
        <label class="inline">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> follow
        </label>
      </div>
      {log.error && !log.data ? <div class="muted">{log.error.message}</div> : null}
      {log.error && log.data ? <Problem error={log.error} /> : null}
      <pre ref={pre} class="log" data-level={level || undefined}>
        {log.data ? (text ? parts : level ? `(no entries at ${level} or above)` : "(empty log)") : ""}
      </pre>
    </div>
  );
}

const SPANS: [string, number | null][] = [["all time", null], ["7 days", 7 * 86400], ["24 hours", 86400], ["1 hour", 3600]];

/** Lines of the project's task logs containing a text, across its newest runs. */
export function LogSearchPage(props: { project: string; query: URLSearchParams }) {
  const { project, query } = props;
  const text = query.get("text") ?? "";
  const level = query.get("level") ?? "";
  const span = query.get("since") ?? "";
  const runs = query.get("runs") ?? "200";
  const [draft, setDraft] = useState(text);
  useEffect(() => setDraft(text), [text]);
  const seconds = SPANS.find(([label]) => label === span)?.[1] ?? null;
  const url = `/projects/${enc(project)}/logs/search`;
  const key = `${url}|${text}|${level}|${span}|${runs}`;
  const found = useFetch<SearchOut | null>(key, () =>
    text.trim()
      ? get<SearchOut>(url + qs({ text, level, runs, limit: 500, since: seconds === null ? null : Date.now() / 1000 - seconds }))
      : Promise.resolve(null),
  );
  const d = found.data;
  return (
    <div class="page log-search-page">
      <h1>Search logs across runs</h1>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ text: draft.trim() });
        }}
      >
        <input type="search" name="text" placeholder="text to find (case-insensitive)" value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} />{" "}
        <button class="primary" type="submit" disabled={!draft.trim()}>search</button>{" "}
        <LevelSelect value={level} onChange={(v) => setQuery({ level: v })} />{" "}
        <label class="inline">
          since{" "}
          <select name="since" value={span || "all time"} onChange={(e) => setQuery({ since: (e.target as HTMLSelectElement).value })}>
            {SPANS.map(([label]) => <option value={label}>{label}</option>)}
          </select>
        </label>{" "}
        <label class="inline">
          newest{" "}
          <select name="runs" value={runs} onChange={(e) => setQuery({ runs: (e.target as HTMLSelectElement).value })}>
            {["50", "200", "1000"].map((n) => <option value={n}>{n}</option>)}
          </select>{" "}
          runs
        </label>
      </form>
      <Problem error={found.error} />
      {d ? (
        <div class="log-search-results">
          <Unreadable items={d.unreadable} />
          <p class="muted small" data-matches={d.matches.length} data-complete={String(d.complete)}>
            {d.matches.length} lines in {d.logs} logs of the newest {d.runs} runs
            {d.skipped ? `; ${d.skipped} logs over 8 MB not read` : ""}
            {d.complete ? "" : " (a bound stopped the search: older runs were not read)"}
          </p>
          <table class="list log-matches">
            <thead>
              <tr><th>execution</th><th>workflow</th><th>node</th><th>attempt</th><th>time</th><th>level</th><th>line</th></tr>
            </thead>
            <tbody>
              {d.matches.map((m) => (
                <tr data-execution={m.name || m.execution_id} data-node={m.node_id} data-level={m.level}>
                  <td><Link to={runPath(project, { name: m.name, id: m.execution_id, domain: m.domain }, { node: m.node_id, tab: "Logs" })} class="mono">{m.name || m.execution_id}</Link>{m.domain ? <span class="muted small"> {m.domain}</span> : null}</td>
                  <td>{m.workflow}</td>
                  <td class="mono">{m.node_id}</td>
                  <td>{m.attempt}</td>
                  <td class="small">{m.at}</td>
                  <td>{m.level}</td>
                  <td class="line">{highlight(m.line, text.trim())[0]}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
