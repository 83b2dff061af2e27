// Answering gates from the page: approve / reject an approval, or give the typed value an
// input gate waits for (checked here against its type, and again by the server).
import { useState } from "preact/hooks";
import type { GateOut, SignalOut } from "./api";
import { enc, post } from "./api";
import { Field, type Raw, type TypeSpec, parse, toRaw, typeName } from "./form";


export function GateForm(props: { project: string; execution: string; gate: GateOut; onDone: () => void }) {
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
          <b>Approval “{gate.name}”</b> is waiting for you.
        </div>
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
