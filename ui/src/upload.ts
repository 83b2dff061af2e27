// Launch inputs that are not JSON (a File, a DataFrame), sent as the CLI sends them: the
// bytes are uploaded by content (`PUT .../uploads/{sha256}`) and the launch names them in a
// reference `{"$airfoil": {format, hash, size, meta, sha256}}` that the server checks against
// the input's type and the bytes (see server/_uploads.py). SHA-256 comes from SubtleCrypto,
// or, where the page is not a secure context (plain http to a remote host), from @noble/hashes.
// A DataFrame input takes a Parquet file or a CSV file (the server reads the CSV as
// `airfoil run --x data.csv` does and stores it as Parquet); a File input any file; a list of
// them (`list[File]`) several files, sent as an array of references.
import { putBytes } from "./api";

/** Input type kinds the form uploads, and the value format each is stored in. */
export const UPLOAD_FORMATS: Record<string, string> = { file: "file", dataframe: "parquet", ndarray: "npy" };

const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"
const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** A file chosen for an input, uploaded when the form is sent. */
export class PendingUpload {
  constructor(
    readonly file: File,
    readonly kind: string,
    readonly flavour: string,
  ) {}
}

/** Files chosen for a list input (`list[File]`, `list[DataFrame]`), uploaded in order. */
export class PendingUploads {
  constructor(readonly uploads: PendingUpload[]) {}
}

function isCsv(file: File): boolean {
  return /\.csv$/i.test(file.name) || file.type === "text/csv";
}

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  if (globalThis.crypto?.subtle) return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
  const { sha256: noble } = await import("@noble/hashes/sha256");
  return hex(noble(data));
}

/** What is wrong with a chosen file for an input of `kind`, read from its first bytes. */
export async function checkUpload(file: File, kind: string): Promise<string | null> {
  if (kind === "ndarray") {
    const magic = new Uint8Array(await file.slice(0, 6).arrayBuffer());
    const ok = magic.length === 6 && NPY_MAGIC.every((m, i) => magic[i] === m);
    return ok ? null : `${file.name} is not a .npy file (an array input takes a file saved with numpy.save)`;
  }
  if (kind !== "dataframe") return null;
  if (isCsv(file)) return null;
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const tail = new Uint8Array(await file.slice(Math.max(0, file.size - 4)).arrayBuffer());
  const ok = (b: Uint8Array) => b.length === 4 && PARQUET_MAGIC.every((m, i) => b[i] === m);
  return ok(head) && ok(tail) ? null : `${file.name} is neither a Parquet file nor a .csv file (a DataFrame input takes either)`;
}

/** Upload the chosen file and return the launch reference that names it. */
export async function resolveUpload(project: string, u: PendingUpload): Promise<unknown> {
  const problem = await checkUpload(u.file, u.kind);
  if (problem) throw new Error(problem);
  const bytes = new Uint8Array(await u.file.arrayBuffer());
  const digest = await sha256(bytes);
  await putBytes(`/projects/${encodeURIComponent(project)}/uploads/${digest}`, bytes);
  if (u.kind === "file") {
    // FileHandler's value hash: SHA-256 of the canonical JSON {"name": ..., "sha256": ...}
    const canon = JSON.stringify({ name: u.file.name, sha256: digest });
    const hash = await sha256(new TextEncoder().encode(canon));
    return {
      $airfoil: { format: "file", hash, size: bytes.length, sha256: digest, meta: { name: u.file.name, sha256: digest } },
    };
  }
  // a CSV file is read and stored as Parquet by the server, as the CLI does with a .csv path
  const format = u.kind === "dataframe" && isCsv(u.file) ? "csv" : UPLOAD_FORMATS[u.kind];
  const meta = u.kind === "dataframe" ? { flavour: u.flavour } : {}; // an array's: read by the server
  return {
    $airfoil: { format, hash: digest, size: bytes.length, sha256: digest, meta },
  };
}

/** Upload every file of a list input; the launch value is the array of their references. */
export async function resolveUploads(project: string, u: PendingUploads): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const one of u.uploads) out.push(await resolveUpload(project, one));
  return out;
}
