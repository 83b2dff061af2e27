// Answering gates from the page: approve / reject an approval, or give the typed value an
// input gate waits for (checked here against its type, and again by the server).
import { useState } from "preact/hooks";
import type { GateOut, NodeOut, SignalOut } from "./api";
import { enc, get, post } from "./api";
import { ValueView } from "./components";
import { Field, type Raw, type TypeSpec, parse, toRaw, typeName } from "./form";
import { useFetch } from "./util";

/** The value an approval gate holds back, so the approver sees what they approve. */
function ApprovedValue(props: { project: string; execution: string; node: string }) {
  const url = `/projects/${enc(props.project)}/executions/${enc(props.execution)}/nodes/${enc(props.node)}`;
  const detail = useFetch<NodeOut>(url, () => get<NodeOut>(url));
  const values = detail.data?.inputs ?? [];
  if (detail.error) return <div class="muted">the value to approve could not be read: {detail.error.message}</div>;
  if (!detail.data) return <div class="muted">loading the value to approve…</div>;
  if (!values.length) return <div class="muted">no value recorded</div>;
  return (
    <div class="approve-value">
      {values.map((v) => <ValueView value={v} />)}
    </div>
  );
}


export function GateForm(props: { project: string; execution: string; node: string; gate: GateOut; onDone: () => void }) {
  const { gate } = props;
  const spec = (gate.type_spec ?? { kind: "str" }) as unknown as TypeSpec;
  const [raw, setRaw] = useState<Raw>(() => toRaw(spec, undefined));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<string | null>(null);
  const send = async (value: unknown, what: string) => {
    setBusy(true);
    setError(null);
    try {
      await post<SignalOut>(
        `/projects/${enc(props.project)}/executions/${enc(props.execution)}/signals/${enc(gate.name)}`,
        { value },
      );
      setSent(what);
      props.onDone();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  if (sent) return <div class="gate gate-sent">Sent: {sent}</div>;
  if (gate.kind === "approve") {
    return (
      <div class="gate" data-gate={gate.name}>
        <div>
          <b>Approval “{gate.name}”</b> is waiting for you. Approve this value?
        </div>
        <ApprovedValue project={props.project} execution={props.execution} node={props.node} />
        <div class="buttons">
          <button class="primary" disabled={busy} onClick={() => send(true, "approved")}>
            Approve
          </button>
          <button class="danger" disabled={busy} onClick={() => send(false, "rejected")}>
            Reject
          </button>
        </div>
        {error ? <div class="field-error">{error}</div> : null}
      </div>
    );
  }
  const submit = (e: Event) => {
    e.preventDefault();
    const p = parse(spec, raw);
    if (!p.ok) {
      setError(p.error);
      return;
    }
    send(p.value, JSON.stringify(p.value));
  };
  return (
    <form class="gate" data-gate={gate.name} onSubmit={submit}>
      <div>
        <b>Input “{gate.name}”</b> <code>{typeName(spec)}</code> is waiting for a value.
      </div>
      <div class="gate-row">
        <Field id={`gate-${gate.name}`} spec={spec} raw={raw} onChange={(r) => { setRaw(r); setError(null); }} />
        <button class="primary" type="submit" disabled={busy}>
          Send
        </button>
      </div>
      {error ? <div class="field-error">{error}</div> : null}
    </form>
  );
}
