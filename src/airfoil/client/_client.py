"""``Client(url, api_key)``: the Python client of the Airfoil API.

Register code, launch, watch, wait and fetch outputs as typed Python values. The server is
found from ``url`` or ``AIRFOIL_SERVER_URL``, the key from ``api_key`` or ``AIRFOIL_API_KEY``
(read when the client is made, never at import).

Errors the server answers become Airfoil errors of the matching class (404 ->
:class:`NotFoundError`, 409 -> :class:`ConflictError`, 422 -> :class:`InvalidInputError`,
401/403 -> :class:`AuthError`), carrying the server's ``code``.

The class is built in layers: the connection and that error mapping (``_base``), the
read-only diagnostic queries, logs to runs tables (``_insights``), and here registration,
launches, executions, watching, waiting and outputs.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from airfoil.client._base import _in
from airfoil.client._http import ApiCallError, AuthError, _error_class, to_json
from airfoil.client._insights import Insights
from airfoil.core.errors import (
    ConfigError,
    ConflictError,
    InvalidInputError,
)
from airfoil.core.launch_plans import LaunchPlanSpec
from airfoil.core.records import TaskSpec, Value, WorkflowSpec
from airfoil.wire import (
    API_PREFIX,
    EntityIn,
    EventOut,
    ExecutionDetail,
    ExecutionPage,
    ExecutionSummary,
    LaunchPlanIn,
    LaunchPlanLaunchRequest,
    LaunchPlanList,
    LaunchRequest,
    PackageOut,
    RawValues,
    RegisterRequest,
    RegisterResponse,
    ScheduleStateOut,
)

if TYPE_CHECKING:
    from airfoil.client._artifacts import Artifacts

__all__ = ["ApiCallError", "AuthError", "Client"]

_TERMINAL = frozenset({"succeeded", "failed", "aborted"})
#: The largest event sequence number the API takes (the store keeps them as signed 64-bit).
_SEQ_MAX = 2**63 - 1
#: How many executions' details a client keeps (with their tags) for its next ``get``.
_KEPT_DETAILS = 8


class Client(Insights):
    """A client of one Airfoil server.

    Args:
        url: the server (default ``AIRFOIL_SERVER_URL``, else ``http://127.0.0.1:8080``).
        api_key: the key (default ``AIRFOIL_API_KEY``; none for an open loopback server).
        project / domain: where this client registers and launches by default.
        timeout: seconds per HTTP call.
        transport: the ``httpx`` transport to send calls through (default: the network's).
    """

    # --- registration -----------------------------------------------------------------------

    def upload_package(self, source_dir: str, *, project: str | None = None) -> PackageOut:
        """Package a source folder and upload it (a no-op if the server has it)."""
        from airfoil.client._package import build_package

        data, sha = build_package(source_dir)
        r = self._call(
            "PUT",
            f"/projects/{self._p(project)}/packages/{sha}",
            content=data,
            headers={"Content-Type": "application/gzip"},
        )
        return PackageOut.model_validate(r.json())

    def register(
        self,
        entities: Sequence[Any],
        *,
        source_dir: str | None = None,
        project: str | None = None,
    ) -> RegisterResponse:
        """Upload the source of ``entities`` and register them.

        Args:
            entities: task and workflow definitions (``@task`` / ``@workflow`` objects) and
                launch plans (``af.LaunchPlan``; each plan's workflow is registered with it).
            source_dir: the folder to package (default: the first entity's project root).
        """
        from airfoil.client._package import entity_file, source_root

        if not entities:
            raise ConfigError("nothing to register")
        plans = [e for e in entities if isinstance(getattr(e, "spec", None), LaunchPlanSpec)]
        defs = [e for e in entities if not any(e is p for p in plans)]
        for plan in plans:
            if not any(d is plan.workflow for d in defs):
                defs.append(plan.workflow)
        root = source_dir or source_root(entities[0].module, entity_file(entities[0]))
        pkg = self.upload_package(root, project=project)
        items = []
        for e in defs:
            spec = e.spec
            kind: Literal["task", "workflow"]
            if isinstance(spec, TaskSpec):
                kind = "task"
            elif isinstance(spec, WorkflowSpec):
                kind = "workflow"
            else:
                raise ConfigError(f"{e!r} is not a task or workflow")
            items.append(
                EntityIn(
                    kind=kind, name=spec.name, version=spec.version, spec=msgspec.to_builtins(spec)
                )
            )
        body = RegisterRequest(
            package=pkg.sha256,
            entities=items,
            launch_plans=[
                LaunchPlanIn(name=p.spec.name, spec=msgspec.to_builtins(p.spec)) for p in plans
            ],
        )
        r = self._call(
            "POST", f"/projects/{self._p(project)}/entities", json=body.model_dump(mode="json")
        )
        return RegisterResponse.model_validate(r.json())

    def artifacts(self, project: str | None = None) -> Artifacts:
        """The artifact registry of the client's project (or ``project``) on the server."""
        from airfoil.client._artifacts import Artifacts

        return Artifacts(self, project)

    # --- executions -------------------------------------------------------------------------

    def launch(
        self,
        entity: Any,
        inputs: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        project: str | None = None,
        domain: str | None = None,
        idempotency_key: str | None = None,
    ) -> ExecutionSummary:
        """Launch a registered task or workflow (by name, or its definition object).

        The request carries an ``Idempotency-Key`` (``idempotency_key``, else a new random
        one): sent again when its answer is lost (a timeout, a dropped connection, a 503),
        it is answered with the execution it launched, never a second one. Give your own key
        to make a launch idempotent across processes (a job retried by its scheduler).

        Raises:
            InvalidInputError: ``idempotency_key`` launched another request in the project
                (``code == "idempotency_key_reused"``), or an input is refused.
        """
        entity_def = None if isinstance(entity, str) else entity
        if not isinstance(entity, str):
            version = version or entity.spec.version
            entity = entity.spec.name
        body = _request(
            LaunchRequest,
            entity,
            entity=entity,
            version=version,
            inputs={
                k: self._input_json(v, project, _input_type(entity_def, k))
                for k, v in (inputs or {}).items()
            },
            name=name,
            labels=labels or {},
        )
        r = self._call_once(
            idempotency_key or uuid.uuid4().hex,
            f"/projects/{self._p(project)}/domains/{domain or self.domain}/executions",
            json=body.model_dump(mode="json", exclude_none=True),
        )
        return ExecutionSummary.model_validate(r.json())

    def _input_json(self, value: Any, project: str | None, py_type: Any = None) -> Any:
        """A launch input as JSON; files, dataframes, arrays and values of a type an added
        converter owns are uploaded and referenced."""
        try:
            return to_json(value)
        except InvalidInputError:
            return self.upload_value(value, project=project, py_type=py_type)

    def upload_value(
        self, value: Any, *, project: str | None = None, py_type: Any = None
    ) -> dict[str, Any]:
        """Serialise a file, dataframe or array -- or a value of a type a converter added with
        :func:`airfoil.types.add_converter` owns -- as a local run would store it, upload its
        bytes (unless small enough to travel inline) and return the launch input that names
        them (``{"$airfoil": {...}}``).

        Args:
            py_type: the input's annotation (default: the value's class).

        Raises:
            InvalidInputError: the value is not JSON and no converter but pickle takes it.
        """
        from airfoil.client._values import DownloadedBlobs
        from airfoil.core.errors import TypeTransformError
        from airfoil.types import ValueContext, default_type_engine
        from airfoil.types._from_json import converter_kind
        from airfoil.types._refs import ValueRef

        blobs = DownloadedBlobs()
        engine = default_type_engine()
        annotation = type(value) if py_type is None else py_type
        try:
            # frames go as Arrow IPC, the bytes a task returning the same frame stores: one
            # hash for both, so cache keys do not depend on where a frame came from
            v = engine.to_value(value, annotation, ValueContext(blobs))
            owned = converter_kind(engine.to_spec(annotation))
        except TypeTransformError as exc:
            raise InvalidInputError(
                f"cannot send a {type(value).__name__} as a launch input over the API: {exc}"
            ) from None
        if v.format not in ("file", "arrow", "npy") and not (owned and v.format != "pickle"):
            raise InvalidInputError(
                f"cannot send a {type(value).__name__} as a launch input over the API (only "
                "JSON values, files, dataframes, numpy arrays and values of a type a converter "
                "added with airfoil.types.add_converter owns)"
            )
        if v.inline is not None:
            return ValueRef.of_value(v).to_json()
        data = blobs.get_bytes(v.uri or "")
        sha = hashlib.sha256(data).hexdigest()
        self._call(
            "PUT",
            f"/projects/{self._p(project)}/uploads/{sha}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return ValueRef.of_value(v, sha256=sha).to_json()

    def launch_plan(
        self,
        plan: Any,
        inputs: dict[str, Any] | None = None,
        *,
        version: str | None = None,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        project: str | None = None,
        domain: str | None = None,
        idempotency_key: str | None = None,
    ) -> ExecutionSummary:
        """Launch a registered launch plan (by name, or its ``af.LaunchPlan`` object), with an
        ``Idempotency-Key`` and its retries as :meth:`launch`.

        Raises:
            InvalidInputError: an input is unknown, ill-typed, missing, or fixed by the plan
                (``code == "fixed_input"``); ``idempotency_key`` launched another request.
        """
        entity_def = None if isinstance(plan, str) else getattr(plan, "workflow", None)
        if not isinstance(plan, str):
            plan = plan.spec.name
        body = _request(
            LaunchPlanLaunchRequest,
            plan,
            version=version,
            inputs={
                k: self._input_json(v, project, _input_type(entity_def, k))
                for k, v in (inputs or {}).items()
            },
            name=name,
            labels=labels or {},
        )
        r = self._call_once(
            idempotency_key or uuid.uuid4().hex,
            f"/projects/{self._p(project)}/domains/{domain or self.domain}/launch-plans/"
            f"{plan}/launch",
            json=body.model_dump(mode="json", exclude_none=True),
        )
        return ExecutionSummary.model_validate(r.json())

    def launch_plans(self, *, project: str | None = None) -> LaunchPlanList:
        """The registered launch plans (newest version of each)."""
        r = self._call("GET", f"/projects/{self._p(project)}/launch-plans")
        return LaunchPlanList.model_validate(r.json())

    def set_schedule(
        self,
        plan: str,
        *,
        active: bool,
        project: str | None = None,
        domain: str | None = None,
    ) -> ScheduleStateOut:
        """Activate (fires from now on, on the server) or deactivate a plan's schedule."""
        action = "activate" if active else "deactivate"
        r = self._call(
            "POST",
            f"/projects/{self._p(project)}/domains/{domain or self.domain}/launch-plans/"
            f"{plan}/{action}",
        )
        return ScheduleStateOut.model_validate(r.json())

    def schedules(
        self, *, project: str | None = None, domain: str | None = None
    ) -> list[ScheduleStateOut]:
        """The schedules of a domain, active or not."""
        r = self._call(
            "GET", f"/projects/{self._p(project)}/domains/{domain or self.domain}/schedules"
        )
        return [ScheduleStateOut.model_validate(x) for x in r.json()]

    def get(
        self, execution_id: str, *, project: str | None = None, domain: str | None = None
    ) -> ExecutionDetail:
        """An execution by its name in the project or its id (``domain``: the one of a name
        the project uses in several domains; without it such a name is a 409 naming them)."""
        path = f"/projects/{self._p(project)}/executions/{execution_id}"
        # Asked with the tag of the last answer (a poll of an unchanged execution: 304, no
        # body), validated from the bytes (pydantic parses them itself): half the CPU of
        # parsing to Python objects first and validating those, for ~100-1,000 nodes.
        key = (path, domain)
        kept = self._details.get(key)
        headers = {"If-None-Match": kept[0]} if kept is not None else None
        r = self._call("GET", path, params=_in(domain), headers=headers)
        if r.status_code == 304 and kept is not None:
            return ExecutionDetail.model_validate_json(kept[1])
        etag = r.headers.get("etag")
        if etag:
            self._details.pop(key, None)
            self._details[key] = (etag, r.content)
            while len(self._details) > _KEPT_DETAILS:
                self._details.pop(next(iter(self._details)), None)
        return ExecutionDetail.model_validate_json(r.content)

    def list(self, *, project: str | None = None, **filters: Any) -> ExecutionPage:
        params = {k: v for k, v in filters.items() if v is not None}
        r = self._call("GET", f"/projects/{self._p(project)}/executions", params=params)
        return ExecutionPage.model_validate_json(r.content)  # as get's detail

    def terminate(
        self, execution_id: str, *, project: str | None = None, domain: str | None = None
    ) -> ExecutionSummary:
        """Stop an execution (``domain``: as in :meth:`get`)."""
        return self._act("terminate", execution_id, project, domain)

    def relaunch(
        self, execution_id: str, *, project: str | None = None, domain: str | None = None
    ) -> ExecutionSummary:
        """A new execution of the same version with the same inputs."""
        return self._act("relaunch", execution_id, project, domain)

    def recover(
        self, execution_id: str, *, project: str | None = None, domain: str | None = None
    ) -> ExecutionSummary:
        """A new execution of a failed one that reuses every node that had succeeded."""
        return self._act("recover", execution_id, project, domain)

    def _act(
        self, action: str, execution_id: str, project: str | None, domain: str | None
    ) -> ExecutionSummary:
        """POST one of an execution's actions (terminate, relaunch, recover)."""
        path = f"/projects/{self._p(project)}/executions/{execution_id}/{action}"
        r = self._call("POST", path, params=_in(domain))
        return ExecutionSummary.model_validate(r.json())

    def signal(
        self,
        execution_id: str,
        name: str,
        value: Any,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> None:
        """Answer a gate of an execution (``True``/``False`` approves or rejects)."""
        self._call(
            "POST",
            f"/projects/{self._p(project)}/executions/{execution_id}/signals/{name}",
            json={"value": to_json(value)},
            params=_in(domain),
        )

    def watch(
        self, execution_id: str, *, project: str | None = None, domain: str | None = None
    ) -> Iterator[EventOut]:
        """The execution's events as they happen (server-sent events), until it ends.

        Raises:
            AuthError: the key was revoked while the stream went on (or before it opened).
        """
        path = f"{API_PREFIX}/projects/{self._p(project)}/executions/{execution_id}/watch"
        with self._http.stream("GET", path, params=_in(domain), timeout=None) as r:
            if r.status_code >= 400:
                r.read()
                self._raise(r)
            event, data = "", ""
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and data:
                    if event == "end":
                        return
                    if event == "error":  # the server refused to go on (the key was revoked)
                        err = json.loads(data)["error"]
                        status, code = int(err["status"]), str(err["code"])
                        raise _error_class(status, code)(status, code, str(err["message"]))
                    yield EventOut.model_validate_json(data)
                    event, data = "", ""

    def wait(
        self,
        execution_id: str,
        *,
        timeout: float | None = None,
        poll_s: float = 0.1,
        project: str | None = None,
        domain: str | None = None,
    ) -> ExecutionDetail:
        """Wait until the execution ends; return its detail.

        Raises:
            TimeoutError: it did not end within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # The page past the last possible event: the phase alone, not the event log the
            # server would otherwise read, encode and send (~6 entries per task) for nothing.
            r = self._call(
                "GET",
                f"/projects/{self._p(project)}/executions/{execution_id}/events",
                params={"after": _SEQ_MAX} | _in(domain),
            )
            page = r.json()
            if page["phase"] in _TERMINAL:
                return self.get(execution_id, project=project, domain=domain)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_id} did not end within {timeout}s")
            time.sleep(poll_s)

    def raw_outputs(
        self, execution_id: str, *, project: str | None = None, domain: str | None = None
    ) -> RawValues:
        path = f"/projects/{self._p(project)}/executions/{execution_id}/outputs"
        return RawValues.model_validate(self._call("GET", path, params=_in(domain)).json())

    def outputs(
        self,
        execution_id: str,
        entity: Any,
        *,
        project: str | None = None,
        domain: str | None = None,
    ) -> Any:
        """The outputs as the Python value(s) ``entity``'s signature promises.

        Raises:
            ConflictError: the execution has not succeeded.
        """
        from airfoil.client._values import DownloadedBlobs, python_outputs, to_value

        raw = self.raw_outputs(execution_id, project=project, domain=domain)
        if raw.phase != "succeeded":
            raise ConflictError(f"execution {execution_id} is {raw.phase}, not succeeded")
        values_path = f"/projects/{self._p(project)}/executions/{raw.execution_id}/values/"

        def fetch(digest: str) -> bytes:  # a value inside an output, from its execution
            return self._call("GET", values_path + digest).content

        blobs = DownloadedBlobs(fetch)
        values: dict[str, Value] = {}
        for name, rv in raw.values.items():
            data = None
            if rv.download is not None:
                resp = self._http.get(rv.download)
                if resp.status_code >= 400:
                    self._raise(resp)
                data = resp.content
            values[name] = to_value(rv, data, blobs)
        return python_outputs(values, entity, blobs)


def _input_type(entity: Any, name: str) -> Any:
    """The annotation of input ``name`` of a task or workflow definition (None if unknown)."""
    iface = getattr(entity, "py_interface", None)
    types = getattr(iface, "input_types", None)
    return types.get(name) if isinstance(types, dict) else None


def _request(model: Any, what: str, **fields: Any) -> Any:
    """``model(**fields)``; a field the API would refuse (an int input outside 64 bits, too
    many labels...) is the 422's :class:`InvalidInputError` here, before any call, naming it.
    """
    import pydantic

    try:
        return model(**fields)
    except pydantic.ValidationError as exc:
        said = []
        for e in exc.errors():
            where, msg = ".".join(map(str, e["loc"])), e["msg"].removeprefix("Value error, ")
            said.append(msg if msg.startswith(where) else f"{where}: {msg}")
        raise InvalidInputError(f"{what}: {'; '.join(said)}") from None
