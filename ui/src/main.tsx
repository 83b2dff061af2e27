import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Identity, ProjectOut } from "./api";
import { apiKey, enc, get, onKeyNeeded, setApiKey } from "./api";
import { Link } from "./components";
import { EntitiesPage, EntityPage } from "./EntitiesPage";
import { ExecutionPage } from "./ExecutionPage";
import { ExecutionsPage } from "./ExecutionsPage";
import { ClusterPage } from "./ClusterPage";
import { ComparePage } from "./ComparePage";
import { FailuresPage } from "./FailuresPage";
import { RunsPage } from "./RunsPage";
import { TaskPage, TasksPage } from "./TasksPage";
import { LogSearchPage } from "./LogView";
import { MetricsPage } from "./MetricsPage";
import { ModelPage, ModelsPage } from "./ModelsPage";
import { match, navigate, useLocation } from "./router";
import { useFetch } from "./util";
import "./style.css";

const LAST_PROJECT = "airfoil.project";

function KeyDialog(props: { message: string; onSaved: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const save = async (e: Event) => {
    e.preventDefault();
    setApiKey(key.trim());
    try {
      await get<Identity>("/auth/whoami");
      props.onSaved();
    } catch (err) {
      setApiKey(null);
      setError((err as Error).message);
    }
  };
  return (
    <div class="modal-back">
      <form class="modal" onSubmit={save}>
        <h2>API key needed</h2>
        <p>This server requires an API key{props.message.includes("revoked") ? " (the one kept here is no longer accepted)" : ""}.</p>
        <p class="muted small">
          Create one with <code>airfoil auth create-key --project P --role viewer</code>; it is kept in this
          browser only.
        </p>
        <input type="password" name="api-key" placeholder="af_…" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} autofocus />
        {error ? <div class="field-error">{error}</div> : null}
        <div class="buttons">
          <button class="primary" type="submit" disabled={!key.trim()}>
            Use this key
          </button>
        </div>
      </form>
    </div>
  );
}

function App() {
  const loc = useLocation();
  const [needKey, setNeedKey] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => onKeyNeeded((needed, message) => setNeedKey(needed ? message : null)), []);
  // useFetch: a failed answer that may pass (none, 5xx, 408, 429) is asked again, backing off
  const who = useFetch(`whoami|${generation}`, () => get<Identity>("/auth/whoami"), 0, undefined, true).data;

  const m =
    match("/projects/:project/executions/:id", loc.path) ??
    match("/projects/:project/executions", loc.path) ??
    match("/projects/:project/entities/:name", loc.path) ??
    match("/projects/:project/entities", loc.path) ??
    match("/projects/:project/metrics", loc.path) ??
    match("/projects/:project/models/:name", loc.path) ??
    match("/projects/:project/models", loc.path) ??
    match("/projects/:project/failures", loc.path) ??
    match("/projects/:project/compare", loc.path) ??
    match("/projects/:project/runs", loc.path) ??
    match("/projects/:project/tasks/:name", loc.path) ??
    match("/projects/:project/tasks", loc.path) ??
    match("/projects/:project/logs", loc.path) ??
    match("/projects/:project/cluster", loc.path) ??
    match("/projects/:project", loc.path);
  // again on each project opened: a project's first run (a local one too) makes it exist;
  // null until listed: a project of the URL is told apart from the ones there are only then
  const listed = useFetch(
    `projects|${generation}|${m?.project ?? ""}`,
    () => get<{ items: ProjectOut[] }>("/projects"),
    0,
    undefined,
    true,
  );
  const projects = listed.data?.items ?? null;
  const project = m?.project ?? localStorage.getItem(LAST_PROJECT) ?? projects?.[0]?.name ?? "default";
  useEffect(() => {
    if (m?.project) localStorage.setItem(LAST_PROJECT, m.project);
    else if (!m) navigate(`/projects/${enc(project)}/executions`, true);
  }, [loc.path, project]);

  let page = null;
  const p = loc.path;
  let mm;
  if ((mm = match("/projects/:project/executions/:id", p))) page = <ExecutionPage key={`${mm.id}|${generation}`} project={mm.project} id={mm.id} query={loc.query} />;
  else if ((mm = match("/projects/:project/executions", p))) page = <ExecutionsPage key={generation} project={mm.project} query={loc.query} />;
  else if ((mm = match("/projects/:project/entities/:name", p))) page = <EntityPage key={generation} project={mm.project} name={mm.name} query={loc.query} />;
  else if ((mm = match("/projects/:project/entities", p))) page = <EntitiesPage key={generation} project={mm.project} />;
  else if ((mm = match("/projects/:project/models/:name", p))) page = <ModelPage key={`${mm.name}|${generation}`} project={mm.project} name={mm.name} />;
  else if ((mm = match("/projects/:project/models", p))) page = <ModelsPage key={generation} project={mm.project} />;
  else if ((mm = match("/projects/:project/metrics", p))) page = <MetricsPage key={generation} project={mm.project} query={loc.query} />;
  else if ((mm = match("/projects/:project/failures", p))) page = <FailuresPage key={generation} project={mm.project} query={loc.query} />;
  else if ((mm = match("/projects/:project/compare", p))) page = <ComparePage key={generation} project={mm.project} query={loc.query} />;
  else if ((mm = match("/projects/:project/runs", p))) page = <RunsPage key={generation} project={mm.project} query={loc.query} />;
  else if ((mm = match("/projects/:project/tasks/:name", p))) page = <TaskPage key={`${mm.name}|${generation}`} project={mm.project} name={mm.name} query={loc.query} />;
  else if ((mm = match("/projects/:project/tasks", p))) page = <TasksPage key={generation} project={mm.project} />;
  else if ((mm = match("/projects/:project/logs", p))) page = <LogSearchPage key={generation} project={mm.project} query={loc.query} />;
  else if ((mm = match("/projects/:project/cluster", p))) page = <ClusterPage key={generation} project={mm.project} />;
  else if ((mm = match("/projects/:project", p))) navigate(`/projects/${enc(mm.project)}/executions`, true);

  const names = (projects ?? []).map((x) => x.name);
  const unknown = projects !== null && !names.includes(project);
  useEffect(() => {
    // a project said not to exist is asked after while the page stays open: its first run or
    // registration makes it exist, and the executions list below shows that run within 2 s
    if (!unknown) return;
    const h = setInterval(listed.reload, 2000);
    return () => clearInterval(h);
  }, [unknown, project, generation]);
  const section = p.includes("/entities") ? "entities" : p.endsWith("/metrics") ? "metrics" : p.includes("/models") ? "models" : p.endsWith("/failures") ? "failures" : p.endsWith("/compare") ? "compare" : p.endsWith("/runs") ? "runs" : p.includes("/tasks") ? "tasks" : p.endsWith("/logs") ? "logs" : p.endsWith("/cluster") ? "cluster" : "executions";
  return (
    <div class="app">
      <header class="top">
        <Link to={`/projects/${enc(project)}/executions`} class="brand">
          ✈ Airfoil
        </Link>
        <label class="project">
          project{" "}
          <select
            name="project"
            value={project}
            onChange={(e) => navigate(`/projects/${enc((e.target as HTMLSelectElement).value)}/${section}`)}
          >
            {names.map((n) => <option value={n}>{n}</option>)}
            {projects === null || unknown ? (
              <option value={project} disabled={unknown}>
                {unknown ? `${project} (does not exist)` : project}
              </option>
            ) : null}
          </select>
        </label>
        <nav>
          <Link to={`/projects/${enc(project)}/executions`} class={section === "executions" ? "active" : ""}>
            Executions
          </Link>
          <Link to={`/projects/${enc(project)}/entities`} class={section === "entities" ? "active" : ""}>
            Workflows &amp; tasks
          </Link>
          <Link to={`/projects/${enc(project)}/metrics`} class={section === "metrics" ? "active" : ""}>
            Metrics
          </Link>
          <Link to={`/projects/${enc(project)}/models`} class={section === "models" ? "active" : ""}>
            Models
          </Link>
          <Link to={`/projects/${enc(project)}/runs`} class={section === "runs" ? "active" : ""}>
            Runs
          </Link>
          <Link to={`/projects/${enc(project)}/tasks`} class={section === "tasks" ? "active" : ""}>
            Tasks
          </Link>
          <Link to={`/projects/${enc(project)}/logs`} class={section === "logs" ? "active" : ""}>
            Logs
          </Link>
          <Link to={`/projects/${enc(project)}/failures`} class={section === "failures" ? "active" : ""}>
            Failures
          </Link>
          <Link to={`/projects/${enc(project)}/compare`} class={section === "compare" ? "active" : ""}>
            Compare
          </Link>
          <Link to={`/projects/${enc(project)}/cluster`} class={section === "cluster" ? "active" : ""}>
            Cluster
          </Link>
        </nav>
        <div class="who muted small">
          {who ? (who.open_mode ? "open server (loopback)" : `${who.role} of ${who.project}`) : ""}
          {apiKey() ? (
            <button
              class="link"
              onClick={() => {
                setApiKey(null);
                setGeneration((g) => g + 1);
              }}
            >
              forget key
            </button>
          ) : null}
        </div>
      </header>
      <main>
        {unknown ? (
          <div class="error-box unknown-project" role="alert">
            Project <b>{project}</b> does not exist: nothing is registered or has run in it.{" "}
            {names.length ? (
              <>
                Projects here:{" "}
                {names.map((n, i) => (
                  <>
                    {i ? ", " : ""}
                    <Link to={`/projects/${enc(n)}/${section}`}>{n}</Link>
                  </>
                ))}
                .
              </>
            ) : (
              <>There are no projects here yet.</>
            )}{" "}
            <span class="muted small">
              A project begins with its first run (<code>AIRFOIL_PROJECT={project} airfoil run …</code>) or
              registration (<code>airfoil register --project {project} …</code>).
            </span>
          </div>
        ) : null}
        {page}
      </main>
      {needKey !== null ? (
        <KeyDialog
          message={needKey}
          onSaved={() => {
            setNeedKey(null);
            setGeneration((g) => g + 1);
          }}
        />
      ) : null}
    </div>
  );
}

render(<App />, document.getElementById("app")!);
