"""``on_failure`` handlers in the run state machine (a mixin of
:class:`~airfoil.engine.state.RunState`; pure, like the rest of it).

The top-level workflow's handler is node ``on_failure``: it runs once the execution has
failed, with the failure's details. A subworkflow's own handler is node
``<sub>.on_failure`` (see :func:`airfoil.engine.graph.flatten`): it runs when that
subworkflow node fails, before the top-level handler, with the failure inside it. A handler
that has not started is *dormant*: it is not counted as open work (an execution that succeeds
never waits for it), and it is skipped once its subworkflow succeeds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.ids import sha256_hex
from airfoil.core.phases import ErrorKind
from airfoil.core.phases import NodePhase as N
from airfoil.core.records import Binding, ErrorInfo, Value
from airfoil.engine import transitions as tr
from airfoil.engine._recording import RunRecorder
from airfoil.engine.graph import FAILURE_INPUT

__all__ = ["HANDLER", "FailureHandlersMixin"]

#: The node id of the top-level workflow's on_failure handler.
HANDLER = "on_failure"
_canonical = msgspec.json.Encoder(order="deterministic")

Command = Any


def _deps(b: Binding) -> set[str]:
    if b.kind == "output":
        return {b.node}
    out: set[str] = set()
    for i in b.items:
        out |= _deps(i)
    return out


class FailureHandlersMixin(RunRecorder):
    """Start, skip and feed the ``on_failure`` handlers of the workflow and its subworkflows."""

    if TYPE_CHECKING:

        def _ready(self, nid: str, now: float) -> list[Any]: ...

    def _init_handlers(self) -> None:
        """Restore what handlers know from the records (a new run, or a resumed one)."""
        #: handler node id -> the failure it was (or will be) given
        self._failures: dict[str, Value] = {}
        for nid, fn in self.graph.items():
            if nid != HANDLER and not fn.handles:
                continue
            rec = self.records[nid]
            for key, b in fn.inputs.items():
                if (
                    b.kind == "input"
                    and b.name == FAILURE_INPUT
                    and rec.inputs
                    and key in rec.inputs
                ):
                    self._failures[nid] = rec.inputs[key]
        self._failing = HANDLER in self.records and self.records[HANDLER].phase != N.PENDING

    @property
    def _failure_value(self) -> Value | None:
        return self._failures.get(HANDLER)

    def _dormant(self, nid: str) -> bool:
        """A handler that has not been started (not open work, not startable by its inputs)."""
        if nid == HANDLER:
            return not self._failing
        fn = self.graph.get(nid)
        return (
            fn is not None
            and bool(fn.handles)
            and self.records[nid].phase == N.PENDING
            and nid not in self._failures
        )

    def _failure_of(self, b: Binding) -> Value:
        """The failure a handler's failure input gets (``b.node``: the subworkflow, or "")."""
        value = self._failures.get(f"{b.node}.{HANDLER}" if b.node else HANDLER)
        assert value is not None, f"no failure recorded for the handler of {b.node or 'the run'}"
        return value

    def _failure_payload(self, under: str, err: ErrorInfo | None) -> Value:
        failed = next(
            (
                r
                for r in self.records.values()
                if r.phase == N.FAILED
                and r.error
                and (not under or r.node_id.startswith(under + "."))
            ),
            None,
        )
        err = err or (failed.error if failed else None)
        info = {
            "execution_id": self.execution.id,
            "node_id": failed.node_id if failed else under,
            "kind": err.kind if err else ErrorKind.SYSTEM,
            "error_type": err.type if err else "",
            "message": err.message if err else "the execution failed",
        }
        payload = _canonical.encode(info)
        return Value(hash=sha256_hex(payload), format="json", inline=payload, size=len(payload))

    def _run_failure_handler(self, now: float) -> list[Command] | None:
        """Start the workflow's ``on_failure`` handler, once, with the failure's details.
        None if there is no handler to run (any more)."""
        if HANDLER not in self.graph or self.records[HANDLER].phase != N.PENDING:
            return None
        self._failures[HANDLER] = self._failure_payload("", self.execution.error)
        self._failing = True
        self._open += 1
        self._event("execution", self.execution.phase, "running the on_failure handler", now)
        return self._ready(HANDLER, now)

    def _sub_handlers_running(self) -> bool:
        return any(
            self.graph[h].handles and self.records[h].phase not in tr.TERMINAL_PHASES
            for h in self._failures
            if h != HANDLER
        )

    def _start_sub_handler(self, sub: str, now: float) -> list[Command]:
        """Subworkflow ``sub`` failed: start its own handler (if it has one). One whose
        inputs are not all available (an input's producer did not succeed) is skipped."""
        nid = f"{sub}.{HANDLER}"
        fn = self.graph.get(nid)
        if fn is None or not fn.handles or not self._dormant(nid):
            return []
        self._open += 1  # dormant handlers are not open work; this one now is
        missing = sorted(
            d for b in fn.inputs.values() for d in _deps(b) if self.records[d].phase != N.SUCCEEDED
        )
        if missing:
            self._move(nid, N.SKIPPED, f"its inputs' producers did not succeed: {missing}", now)
            return []
        self._failures[nid] = self._failure_payload(sub, self.records[sub].error)
        self._event("node", N.PENDING.value, f"{sub} failed: running its on_failure", now, node=nid)
        return self._ready(nid, now)

    def _skip_sub_handler(self, sub: str, now: float) -> None:
        """Subworkflow ``sub`` succeeded: its handler has nothing to handle."""
        nid = f"{sub}.{HANDLER}"
        if nid in self.graph and self._dormant(nid):
            self._open += 1  # never counted open: skipping it must not close another
            self._move(nid, N.SKIPPED, f"{sub} succeeded: nothing to handle", now)
