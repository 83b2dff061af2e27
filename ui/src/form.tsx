// Launch forms generated from a typed interface: one field per input, by its TypeSpec.
// Every field keeps its raw text; `parse` turns it into the JSON the API expects or says
// what is wrong, so inputs are checked before anything is sent. File, DataFrame and array
// inputs (and lists of them) take files from the disk, uploaded when the form is sent
// (upload.ts).
import { PendingUpload, PendingUploads, UPLOAD_FORMATS } from "./upload";
import { fmtBytes } from "./util";

export interface TypeSpec {
  kind: string;
  name?: string;
  args?: TypeSpec[];
  fields?: [string, TypeSpec][];
  values?: string[];
  variadic?: boolean;
  /** A TypedDict's keys that may be left out (`NotRequired`, `total=False`). */
  optional?: string[];
}

/** A file picked for an upload input (null: none yet); several for a list of them. */
export interface UploadRaw {
  upload: File | null;
  uploads?: File[];
}

/** A TypedDict's key it does not require: left out (`absent`), or given as `inner`. */
export interface KeyRaw {
  absent: boolean;
  inner: Raw;
}

export type Raw =
  | string
  | boolean
  | UploadRaw
  | KeyRaw
  | { none: boolean; inner: Raw }
  | { [field: string]: Raw };

function mayLeaveOut(spec: TypeSpec, name: string): boolean {
  return !!spec.optional?.includes(name);
}

export function isUpload(spec: TypeSpec): boolean {
  return spec.kind in UPLOAD_FORMATS || isUploadList(spec);
}

/** A list of uploaded values (`list[File]`, `list[DataFrame]`): several files at once. */
export function isUploadList(spec: TypeSpec): boolean {
  return spec.kind === "list" && !!spec.args?.length && spec.args[0].kind in UPLOAD_FORMATS;
}

function accepts(kind: string): string | undefined {
  if (kind === "ndarray") return ".npy";
  return kind === "dataframe" ? ".parquet,.csv,application/vnd.apache.parquet,text/csv" : undefined;
}

function chooseHint(kind: string): string {
  if (kind === "ndarray") return "choose a .npy file";
  return kind === "dataframe" ? "choose a Parquet or CSV file" : "choose a file";
}

const STRUCT = new Set(["dataclass", "pydantic"]);
const INT_RE = /^[+-]?\d+$/;

function optionalInner(spec: TypeSpec): TypeSpec | null {
  if (spec.kind !== "union" || !spec.args) return null;
  const rest = spec.args.filter((a) => a.kind !== "none");
  return rest.length === 1 && rest.length < spec.args.length ? rest[0] : null;
}

/** The kinds the form can give: as JSON, or uploaded (a file, a dataframe, an array). */
const GIVABLE = new Set([
  "int", "float", "bool", "str", "bytes", "none", "datetime", "date", "timedelta",
  "list", "set", "tuple", "dict", "union", "enum", "dataclass", "pydantic",
  ...Object.keys(UPLOAD_FORMATS),
]);
/** Kinds a server takes from no one: it never unpickles what it is sent. */
const NEVER_SENT = new Set(["pickle", "any", "directory"]);

/** The part of a type the form cannot give (null: it can give all of it). */
export function notGivable(spec: TypeSpec): TypeSpec | null {
  if (!GIVABLE.has(spec.kind)) return spec;
  for (const t of [...(spec.args ?? []), ...(spec.fields ?? []).map(([, f]) => f)]) {
    const part = notGivable(t);
    if (part) return part;
  }
  return null;
}

/** Why an input of a type holding `part` (from `notGivable`) is not offered, and the fix. */
export function notGivableNote(part: TypeSpec): string {
  const name = typeName(part);
  if (part.kind === "pickle")
    return `${name} values are stored as pickles, which the server does not accept: give the input a default, or add a converter for ${name} (airfoil.types.add_converter)`;
  if (NEVER_SENT.has(part.kind)) return `${name} values cannot be sent to a server: give the input a default`;
  return `${name} values are written by a converter the console does not have: launch from Python (airfoil.client.Client, with the converter added)`;
}

export function typeName(spec: TypeSpec): string {
  const inner = optionalInner(spec);
  if (inner) return `${typeName(inner)} | None`;
  if (spec.kind === "union") return (spec.args ?? []).map(typeName).join(" | ");
  if (STRUCT.has(spec.kind) || spec.kind === "enum" || spec.kind === "pickle") return (spec.name ?? spec.kind).split(".").pop()!;
  if (spec.args && spec.args.length) return `${spec.kind}[${spec.args.map(typeName).join(", ")}]`;
  return spec.kind;
}

/** The raw form state of a JSON value (a default) for a type. */
export function toRaw(spec: TypeSpec, v: unknown): Raw {
  const inner = optionalInner(spec);
  if (inner) return { none: v === null || v === undefined, inner: toRaw(inner, v ?? undefined) };
  if (spec.kind === "bool") return v === true;
  if (isUpload(spec)) return { upload: null };
  if (STRUCT.has(spec.kind) && spec.fields) {
    const obj = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
    const out: { [k: string]: Raw } = {};
    for (const [name, fs] of spec.fields) {
      const raw = toRaw(fs, obj[name]);
      out[name] = mayLeaveOut(spec, name) ? { absent: !(name in obj), inner: raw } : raw;
    }
    return out;
  }
  if (v === undefined || v === null) return "";
  if (["int", "float", "str", "enum", "datetime", "date", "timedelta"].includes(spec.kind))
    return String(v);
  return JSON.stringify(v);
}

export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/** The JSON value of a field, or what is wrong with it. */
const FLOAT_WORDS: Record<string, string> = {
  inf: "inf",
  "+inf": "inf",
  infinity: "inf",
  "+infinity": "inf",
  "-inf": "-inf",
  "-infinity": "-inf",
  nan: "nan",
};

function isFloatWord(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const keys = Object.keys(v);
  const word = (v as Record<string, unknown>).$float;
  return keys.length === 1 && (word === "inf" || word === "-inf" || word === "nan");
}

export function parse(spec: TypeSpec, raw: Raw): Parsed {
  const inner = optionalInner(spec);
  if (inner) {
    const r = raw as { none: boolean; inner: Raw };
    return r.none ? { ok: true, value: null } : parse(inner, r.inner);
  }
  const text = typeof raw === "string" ? raw.trim() : "";
  if (isUpload(spec)) {
    if (isUploadList(spec)) {
      const elem = spec.args![0];
      const files = (raw as UploadRaw).uploads ?? [];
      if (!files.length) return { ok: false, error: `${chooseHint(elem.kind)} (one or more)` };
      return { ok: true, value: new PendingUploads(files.map((f) => new PendingUpload(f, elem.kind, elem.name ?? "pandas"))) };
    }
    const file = (raw as UploadRaw).upload;
    if (!file) return { ok: false, error: chooseHint(spec.kind) };
    return { ok: true, value: new PendingUpload(file, spec.kind, spec.name ?? "pandas") };
  }
  switch (spec.kind) {
    case "bool":
      return { ok: true, value: raw === true };
    case "int":
      if (!INT_RE.test(text)) return { ok: false, error: "expects a whole number" };
      if (!Number.isSafeInteger(Number(text))) return { ok: false, error: "number too large" };
      return { ok: true, value: Number(text) };
    case "float": {
      // JSON has no infinity nor NaN: the API takes them as {"$float": "inf" | "-inf" | "nan"}
      const word = FLOAT_WORDS[text.toLowerCase()];
      if (word) return { ok: true, value: { $float: word } };
      const n = Number(text);
      if (text === "" || !isFinite(n)) return { ok: false, error: "expects a number (or inf, -inf, nan)" };
      return { ok: true, value: n };
    }
    case "str":
      return { ok: true, value: typeof raw === "string" ? raw : "" };
    case "enum":
      if (!(spec.values ?? []).includes(text)) return { ok: false, error: "choose a value" };
      return { ok: true, value: text };
    case "datetime":
    case "date":
      if (!text || isNaN(Date.parse(text))) return { ok: false, error: `expects a ${spec.kind}` };
      return { ok: true, value: text };
    case "timedelta": {
      const n = Number(text);
      if (text === "" || !isFinite(n)) return { ok: false, error: "expects seconds" };
      return { ok: true, value: n };
    }
  }
  if (STRUCT.has(spec.kind) && spec.fields) {
    const r = raw as { [k: string]: Raw };
    const out: Record<string, unknown> = {};
    for (const [name, fs] of spec.fields) {
      let raw = r[name];
      if (mayLeaveOut(spec, name)) {
        const key = raw as KeyRaw;
        if (key.absent) continue; // a key the TypedDict does not require, left out
        raw = key.inner;
      }
      const p = parse(fs, raw);
      if (!p.ok) return { ok: false, error: `${name}: ${p.error}` };
      out[name] = p.value;
    }
    return { ok: true, value: out };
  }
  if (text === "") return { ok: false, error: `expects JSON for ${typeName(spec)}` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: "not valid JSON" };
  }
  const problem = check(spec, value);
  return problem ? { ok: false, error: problem } : { ok: true, value };
}

/** A structural check of a JSON value against a type (the server checks it fully). */
function check(spec: TypeSpec, v: unknown, where = ""): string | null {
  const at = where ? ` at ${where}` : "";
  const inner = optionalInner(spec);
  if (inner) return v === null ? null : check(inner, v, where);
  switch (spec.kind) {
    case "int":
      return Number.isInteger(v) ? null : `expects a whole number${at}`;
    case "float":
      return typeof v === "number" || isFloatWord(v) ? null : `expects a number${at}`;
    case "bool":
      return typeof v === "boolean" ? null : `expects true or false${at}`;
    case "str":
      return typeof v === "string" ? null : `expects text${at}`;
    case "none":
      return v === null ? null : `expects null${at}`;
    case "enum":
      return (spec.values ?? []).includes(v as string) ? null : `expects one of ${(spec.values ?? []).join(", ")}${at}`;
    case "list":
    case "set":
    case "tuple": {
      if (!Array.isArray(v)) return `expects a JSON array${at}`;
      const args = spec.args ?? [];
      if (spec.kind === "tuple" && !spec.variadic && args.length && v.length !== args.length)
        return `expects ${args.length} items${at}`;
      for (let i = 0; i < v.length; i++) {
        const t = spec.kind === "tuple" && !spec.variadic ? args[i] : args[0];
        if (t) {
          const p = check(t, v[i], `${where}[${i}]`);
          if (p) return p;
        }
      }
      return null;
    }
    case "dict": {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return `expects a JSON object${at}`;
      const t = spec.args?.[1];
      if (t) {
        for (const [k, x] of Object.entries(v)) {
          const p = check(t, x, `${where}.${k}`);
          if (p) return p;
        }
      }
      return null;
    }
  }
  if (STRUCT.has(spec.kind)) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return `expects a JSON object${at}`;
    return null;
  }
  return null;
}

export function Field(props: { id: string; spec: TypeSpec; raw: Raw; onChange: (r: Raw) => void }) {
  const { id, spec, raw, onChange } = props;
  const inner = optionalInner(spec);
  if (inner) {
    const r = raw as { none: boolean; inner: Raw };
    return (
      <div class="optional">
        <label class="inline">
          <input
            type="checkbox"
            checked={r.none}
            onChange={(e) => onChange({ ...r, none: (e.target as HTMLInputElement).checked })}
          />{" "}
          None
        </label>
        {r.none ? null : <Field id={id} spec={inner} raw={r.inner} onChange={(x) => onChange({ ...r, inner: x })} />}
      </div>
    );
  }
  const text = (e: Event) => onChange((e.target as HTMLInputElement).value);
  if (isUploadList(spec)) {
    const files = (raw as UploadRaw).uploads ?? [];
    const total = files.reduce((sum, f) => sum + f.size, 0);
    return (
      <div class="upload">
        <input
          id={id}
          name={id}
          type="file"
          multiple
          accept={accepts(spec.args![0].kind)}
          onChange={(e) => onChange({ upload: null, uploads: [...((e.target as HTMLInputElement).files ?? [])] })}
        />
        {files.length ? (
          <span class="muted small" data-upload-size>
            {files.length} file{files.length === 1 ? "" : "s"}, {fmtBytes(total)}, uploaded on launch
          </span>
        ) : null}
      </div>
    );
  }
  if (isUpload(spec)) {
    const file = (raw as UploadRaw).upload;
    return (
      <div class="upload">
        <input
          id={id}
          name={id}
          type="file"
          accept={accepts(spec.kind)}
          onChange={(e) => onChange({ upload: (e.target as HTMLInputElement).files?.[0] ?? null })}
        />
        {file ? <span class="muted small" data-upload-size>{fmtBytes(file.size)}, uploaded on launch</span> : null}
      </div>
    );
  }
  switch (spec.kind) {
    case "bool":
      return <input id={id} name={id} type="checkbox" checked={raw === true} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />;
    case "int":
      return <input id={id} name={id} type="text" inputMode="numeric" value={raw as string} onInput={text} placeholder="whole number" />;
    case "float":
      return <input id={id} name={id} type="text" inputMode="decimal" value={raw as string} onInput={text} placeholder="number" />;
    case "str":
      return <input id={id} name={id} type="text" value={raw as string} onInput={text} />;
    case "enum":
      return (
        <select id={id} name={id} value={raw as string} onChange={text}>
          <option value="">choose…</option>
          {(spec.values ?? []).map((v) => <option value={v}>{v}</option>)}
        </select>
      );
    case "datetime":
      return <input id={id} name={id} type="text" value={raw as string} onInput={text} placeholder="2024-01-31T12:00:00" />;
    case "date":
      return <input id={id} name={id} type="date" value={raw as string} onInput={text} />;
    case "timedelta":
      return <input id={id} name={id} type="text" value={raw as string} onInput={text} placeholder="seconds" />;
  }
  if (STRUCT.has(spec.kind) && spec.fields) {
    const r = raw as { [k: string]: Raw };
    return (
      <fieldset class="struct">
        <legend>{typeName(spec)}</legend>
        {spec.fields.map(([name, fs]) => (
          <div class="field">
            <label for={`${id}.${name}`}>
              {name} <code>{typeName(fs)}</code>
            </label>
            {mayLeaveOut(spec, name) ? (
              <KeyField id={`${id}.${name}`} spec={fs} raw={r[name] as KeyRaw} onChange={(x) => onChange({ ...r, [name]: x })} />
            ) : (
              <Field id={`${id}.${name}`} spec={fs} raw={r[name]} onChange={(x) => onChange({ ...r, [name]: x })} />
            )}
          </div>
        ))}
      </fieldset>
    );
  }
  return (
    <textarea id={id} name={id} rows={3} value={raw as string} onInput={text} placeholder={`JSON: ${typeName(spec)}`} />
  );
}

/** A key a TypedDict does not require: left out unless the user gives it. */
function KeyField(props: { id: string; spec: TypeSpec; raw: KeyRaw; onChange: (r: KeyRaw) => void }) {
  const { id, spec, raw, onChange } = props;
  return (
    <div class="optional" data-may-leave-out>
      <label class="inline">
        <input
          type="checkbox"
          name={`${id}.absent`}
          checked={raw.absent}
          onChange={(e) => onChange({ ...raw, absent: (e.target as HTMLInputElement).checked })}
        />{" "}
        left out
      </label>
      {raw.absent ? null : <Field id={id} spec={spec} raw={raw.inner} onChange={(x) => onChange({ ...raw, inner: x })} />}
    </div>
  );
}
