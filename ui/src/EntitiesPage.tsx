// Workflows and tasks: their versions and typed interfaces, and a launch form generated from
// the interface that checks every input before anything is sent.
import { useEffect, useState } from "preact/hooks";
import type { EntitySummary, EntityVersionOut, ExecutionDetail, ExecutionSummary, ParamOut } from "./api";
import { enc, get, post, runPath } from "./api";
import { Link, Problem } from "./components";
import { Field, type Raw, type TypeSpec, isUpload, notGivable, notGivableNote, parse, toRaw, typeName } from "./form";
import { PendingUpload, PendingUploads, resolveUpload, resolveUploads } from "./upload";

/** A field left empty, so its default is used. */
function isEmpty(spec: TypeSpec, raw: Raw): boolean {
  if (isUpload(spec)) {
    const r = raw as { upload: File | null; uploads?: File[] };
    return !r.upload && !r.uploads?.length;
  }
  return typeof raw === "string" && raw.trim() === "" && spec.kind !== "str";
}
import { navigate, setQuery } from "./router";
import { fmtTime, useFetch } from "./util";

export function EntitiesPage(props: { project: string }) {
  const { project } = props;
  const list = useFetch<{ items: EntitySummary[] }>(`entities|${project}`, () =>
    get<{ items: EntitySummary[] }>(`/projects/${enc(project)}/entities`),
  );
  const items = list.data?.items ?? [];
  const section = (kind: string, title: string) => (
    <div>
      <h2>{title}</h2>
      <table class="list">
        <thead>
          <tr><th>name</th><th>latest version</th><th>versions</th><th>registered</th></tr>
        </thead>
        <tbody>
          {items.filter((e) => e.kind === kind).map((e) => (
            <tr data-entity={e.name}>
              <td><Link to={`/projects/${enc(project)}/entities/${enc(e.name)}`}>{e.name}</Link></td>
              <td class="mono">{e.latest_version.slice(0, 16)}</td>
              <td>{e.versions}</td>
              <td>{fmtTime(e.registered_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
  return (
    <div class="page">
      <h1>Workflows and tasks</h1>
      <Problem error={list.error} />
      {list.data && items.length === 0 ? (
        <div class="muted pad">nothing registered in this project yet: <code>airfoil register FILE</code></div>
      ) : null}
      {section("workflow", "Workflows")}
      {section("task", "Tasks")}
    </div>
  );
}

export function EntityPage(props: { project: string; name: string; query: URLSearchParams }) {
  const { project, name, query } = props;
  const path = `/projects/${enc(project)}/entities/${enc(name)}/versions`;
  const versions = useFetch<{ items: EntityVersionOut[] }>(path, () => get<{ items: EntityVersionOut[] }>(path));
  const items = versions.data?.items ?? [];
  const chosen = items.find((v) => v.version === query.get("version")) ?? items[0];
  return (
    <div class="page">
      <div class="crumbs">
        <Link to={`/projects/${enc(project)}/entities`}>workflows and tasks</Link> /
      </div>
      <h1>
        {name} {chosen ? <span class="muted small">{chosen.kind}</span> : null}
      </h1>
      <Problem error={versions.error} />
      {chosen ? (
        <div class="entity">
          <div class="entity-side">
            <h3>Versions</h3>
            <ul class="versions">
              {items.map((v) => (
                <li class={v === chosen ? "active" : ""}>
                  <button class="link mono" onClick={() => setQuery({ version: v.version })}>
                    {v.version.slice(0, 16)}
                  </button>
                  <div class="muted small">{fmtTime(v.registered_at)}</div>
                </li>
              ))}
            </ul>
            <Link to={`/projects/${enc(project)}/executions?workflow=${enc(name)}`}>its executions →</Link>
            {chosen.kind === "workflow" ? <div><Link to={`/projects/${enc(project)}/runs?workflow=${enc(name)}`}>its runs with inputs and metrics →</Link></div> : null}
          </div>
          <div class="entity-main">
            {chosen.docs ? <p class="docs">{chosen.docs}</p> : null}
            <h3>Interface</h3>
            <Interface params={chosen.interface.inputs} title="inputs" />
            <Interface params={chosen.interface.outputs} title="outputs" />
            <LaunchForm key={chosen.version} project={project} entity={chosen} from={query.get("from")} />
          </div>
        </div>
      ) : null}
    </div>
  );
}

function Interface({ params, title }: { params: ParamOut[]; title: string }) {
  return (
    <table class="list iface">
      <thead>
        <tr><th>{title}</th><th>type</th><th>default</th><th>description</th></tr>
      </thead>
      <tbody>
        {params.length === 0 ? <tr><td colSpan={4} class="muted">none</td></tr> : null}
        {params.map((p) => (
          <tr>
            <td class="mono">{p.name}</td>
            <td><code>{p.type}</code></td>
            <td class="mono">{p.has_default ? JSON.stringify(p.default) : ""}</td>
            <td>{p.description}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A run's inputs for the launch form (relaunch with changed inputs): each input whose value
 * the run's detail shows (JSON values) as the form's raw text; the others by what they were. */
function inputsOf(run: ExecutionDetail, inputs: ParamOut[]): { raws: Record<string, Raw>; missing: Record<string, string> } {
  const raws: Record<string, Raw> = {};
  const missing: Record<string, string> = {};
  const shown = new Map(run.inputs.map((v) => [v.name, v]));
  for (const p of inputs) {
    const v = shown.get(p.name);
    if (v === undefined) continue; // not given to the run: the default applied
    if (v.format === "json" && v.preview !== null && v.preview !== undefined) {
      raws[p.name] = toRaw(p.type_spec as unknown as TypeSpec, v.preview);
    } else {
      missing[p.name] = `the run's value (${v.format}, ${v.size} bytes) cannot be filled in here: give it again`;
    }
  }
  return { raws, missing };
}

function LaunchForm(props: { project: string; entity: EntityVersionOut; from?: string | null }) {
  const { project, entity, from } = props;
  const inputs = entity.interface.inputs;
  const [raws, setRaws] = useState<Record<string, Raw>>({});
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [domain, setDomain] = useState("development");
  const [execName, setExecName] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [source, setSource] = useState<ExecutionDetail | null>(null);
  const [missing, setMissing] = useState<Record<string, string>>({});
  // the run whose inputs fill the form, asked again while its failure may pass (useFetch)
  const fromPath = from ? `/projects/${enc(project)}/executions/${enc(from)}` : "";
  const fromRun = useFetch<ExecutionDetail | null>(`from|${fromPath}`, () =>
    fromPath ? get<ExecutionDetail>(fromPath) : Promise.resolve(null),
  );
  // an answer for the run asked before `from` changed is not this run's
  const run = fromRun.data && (fromRun.data.name === from || fromRun.data.id === from) ? fromRun.data : null;
  useEffect(() => {
    const r: Record<string, Raw> = {};
    for (const p of inputs) r[p.name] = toRaw(p.type_spec as unknown as TypeSpec, p.has_default ? p.default : undefined);
    setRaws(r);
    setErrors({});
    setTouched({});
    setSource(null);
    setMissing({});
    if (!run) return;
    if (run.workflow !== entity.name) {
      setProblem(`run ${run.name || run.id} is of ${run.workflow}, not ${entity.name}: its inputs are not filled in`);
      return;
    }
    const got = inputsOf(run, inputs);
    setRaws({ ...r, ...got.raws });
    setMissing(got.missing);
    setDomain(run.domain);
    setSource(run);
  }, [entity.version, from, run]);
  const check = (p: ParamOut, raw: Raw): string | null => {
    const spec = p.type_spec as unknown as TypeSpec;
    if (p.has_default && isEmpty(spec, raw)) return null;
    const r = parse(spec, raw);
    return r.ok ? null : r.error;
  };
  // inputs the form cannot give (pickles...): left to their defaults; one without a default,
  // or one the run to relaunch gave, keeps the form from launching
  const fixed = new Map(inputs.flatMap((p) => {
    const part = notGivable(p.type_spec as unknown as TypeSpec);
    return part ? [[p.name, part] as const] : [];
  }));
  const blocked = inputs.filter((p) => fixed.has(p.name) && (!p.has_default || missing[p.name]));
  const submit = async (e: Event) => {
    e.preventDefault();
    if (blocked.length) return;
    const errs: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    for (const p of inputs) {
      const raw = raws[p.name];
      const spec = p.type_spec as unknown as TypeSpec;
      if (fixed.has(p.name)) continue; // its default (a blocked form never gets here)
      if (missing[p.name]) {
        errs[p.name] = missing[p.name]; // never launched with a default in the run's value's place
        continue;
      }
      if (p.has_default && isEmpty(spec, raw)) continue;
      const r = parse(spec, raw);
      if (r.ok) values[p.name] = r.value;
      else errs[p.name] = r.error;
    }
    setErrors(errs);
    setTouched(Object.fromEntries(inputs.map((p) => [p.name, true])));
    if (Object.keys(errs).length) {
      setProblem("fix the inputs marked above");
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      // files chosen for File / DataFrame inputs: uploaded now, named by reference
      for (const [name, v] of Object.entries(values)) {
        if (!(v instanceof PendingUpload) && !(v instanceof PendingUploads)) continue;
        const what = v instanceof PendingUpload ? v.file.name : `${v.uploads.length} files`;
        setStatus(`uploading ${what}…`);
        try {
          values[name] = v instanceof PendingUpload ? await resolveUpload(project, v) : await resolveUploads(project, v);
        } catch (err) {
          setErrors((prev) => ({ ...prev, [name]: (err as Error).message }));
          throw new Error(`input ${name}: ${(err as Error).message}`);
        }
      }
      setStatus(null);
      const out = await post<ExecutionSummary>(`/projects/${enc(project)}/domains/${enc(domain)}/executions`, {
        entity: entity.name,
        version: entity.version,
        inputs: values,
        ...(execName.trim() ? { name: execName.trim() } : {}),
      });
      navigate(runPath(project, out)); // with its domain: the name may be used in another
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(false);
      setStatus(null);
    }
  };
  return (
    <form class="launch" onSubmit={submit} novalidate>
      <h3>Launch</h3>
      {source ? (
        <div class="muted small" data-from={source.id}>
          filled with the inputs of run <Link to={runPath(project, source)}>{source.name || source.id}</Link> ({source.domain}): change
          what you want and launch a new run
        </div>
      ) : null}
      {inputs.map((p) => {
        const spec = p.type_spec as unknown as TypeSpec;
        const err = touched[p.name] ? errors[p.name] : undefined;
        return (
          <div class={err ? "field invalid" : "field"} data-input={p.name}>
            <label for={`in-${p.name}`}>
              {p.name} <code>{typeName(spec)}</code>
              {p.has_default ? <span class="muted small"> (default {JSON.stringify(p.default)})</span> : null}
            </label>
            {p.description ? <div class="muted small">{p.description}</div> : null}
            {fixed.has(p.name) ? (
              <div class="muted small" data-not-givable>
                {notGivableNote(fixed.get(p.name)!)}
                {p.has_default && !missing[p.name] ? "; its default is used" : ""}
              </div>
            ) : raws[p.name] !== undefined ? (
              <Field
                id={`in-${p.name}`}
                spec={spec}
                raw={raws[p.name]}
                onChange={(r) => {
                  setRaws({ ...raws, [p.name]: r });
                  setTouched({ ...touched, [p.name]: true });
                  if (missing[p.name]) setMissing(({ [p.name]: _given, ...rest }) => rest);
                  const msg = check(p, r);
                  const next = { ...errors };
                  if (msg) next[p.name] = msg;
                  else delete next[p.name];
                  setErrors(next);
                }}
              />
            ) : null}
            {err ? <div class="field-error">{err}</div> : null}
            {missing[p.name] && !err && !fixed.has(p.name) ? <div class="field-error">{missing[p.name]}</div> : null}
          </div>
        );
      })}
      <div class="field row">
        <label>
          domain{" "}
          <select name="domain" value={domain} onChange={(e) => setDomain((e.target as HTMLSelectElement).value)}>
            <option>development</option>
            <option>staging</option>
            <option>production</option>
          </select>
        </label>
        <label>
          name (optional){" "}
          <input name="execution-name" type="text" value={execName} onInput={(e) => setExecName((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      {from && fromRun.error ? (
        <div class="problem">
          the inputs of run {from} could not be read: {fromRun.error.message}
        </div>
      ) : null}
      {blocked.length ? (
        <div class="problem" data-blocked>
          cannot launch from here: {blocked.map((p) => p.name).join(", ")} {blocked.length === 1 ? "needs a value" : "need values"} the
          console cannot give (see above)
        </div>
      ) : null}
      {problem ? <div class="problem">{problem}</div> : null}
      {status ? <div class="muted" role="status">{status}</div> : null}
      <button class="primary" type="submit" disabled={busy || blocked.length > 0}>
        Launch
      </button>
    </form>
  );
}
