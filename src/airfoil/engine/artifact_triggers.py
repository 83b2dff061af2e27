"""Launch plans triggered by a new artifact version: each new version launches the plan once.

A triggered plan (``LaunchPlanSpec.trigger``, an
:class:`~airfoil.core.launch_plans.ArtifactTriggerSpec`) is activated like a schedule, into
the same :class:`~airfoil.store._schedules.ScheduleStore` row, and the scheduler loop fires
it (``SchedulerLoop(..., artifacts=store)``). The row's ``next_fire_at`` is the trigger's
*cursor*: ``CURSOR_BASE + v`` where ``v`` is the newest version already handled. The base is
about 31.7 million years away, so a trigger row is never due as a time schedule, and the
cursor is claimed with the store's atomic ``claim_schedule_fire`` compare-and-set, exactly as
a schedule's instants are.

How a pass fires a trigger whose cursor is ``c``:

1. list the artifact's versions newer than ``c``, oldest first;
2. for each version ``v``: claim ``CURSOR_BASE + c -> CURSOR_BASE + v``. Of several loops
   (threads, processes, server replicas on one database) exactly one wins; a loser stops (the
   winner owns what follows);
3. if ``v``'s partitions match the trigger, the winner launches the plan with the
   deterministic id :func:`triggered_execution_id` (plan, artifact, ``v``) and, if the
   trigger names one, ``v`` in its version input. An existing execution of that id is not
   launched again; an id another project's (or domain's) execution holds is passed over
   for the plan's next (:func:`firing_id`).

Invariants:

- Every version is claimed at most once, so it is launched at most once; a version that does
  not match the partitions only moves the cursor.
- Versions that existed when the trigger was activated never fire (the cursor starts at the
  newest of them); re-activating an active, unchanged trigger keeps its cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from airfoil.core.errors import AirfoilError, ConfigError, ConflictError, NotFoundError
from airfoil.core.ids import stable_hash
from airfoil.core.launch_plans import ArtifactTriggerSpec, LaunchPlanSpec
from airfoil.core.records import Value
from airfoil.engine.launch_plans import launch_launch_plan, launch_values, own_firing_id
from airfoil.engine.runner import Engine
from airfoil.store._schedules import ScheduleRecord, ScheduleStore, activate_record
from airfoil.store.artifacts import ArtifactStore, ArtifactVersion, check_artifact_name
from airfoil.store.base import MetaStore
from airfoil.types import TypeEngine

__all__ = [
    "CURSOR_BASE",
    "TriggerFiring",
    "activate_trigger",
    "cursor_of",
    "describe_trigger",
    "fire_trigger",
    "firing_id",
    "launch_version",
    "matches",
    "triggered_execution_id",
    "validate_trigger",
]

#: ``next_fire_at`` of a trigger row is this plus the newest version handled (epoch seconds
#: 31.7 million years away: never due as a time schedule; exact in a double up to 2**53).
CURSOR_BASE = 1e15


@dataclass(frozen=True)
class TriggerFiring:
    """One version of one triggered plan, as a loop handled it.

    Attributes:
        name: the launch plan.
        artifact / version: the new version that fired it.
        execution_id: the deterministic id of its execution.
        launched: False when the execution already existed.
        error: why launching failed, if it did.
    """

    name: str
    artifact: str
    version: int
    execution_id: str
    launched: bool
    error: str = ""


def cursor_of(record: ScheduleRecord) -> int | None:
    """The newest version a trigger row has handled, or None (inactive, or not a trigger)."""
    if record.spec.trigger is None or record.next_fire_at is None:
        return None
    if record.next_fire_at < CURSOR_BASE:
        return None
    return int(record.next_fire_at - CURSOR_BASE)


def describe_trigger(trigger: ArtifactTriggerSpec) -> str:
    """A short description: ``on new versions of events (day=*)``."""
    parts = ", ".join(f"{k}={v}" for k, v in sorted(trigger.partitions.items()))
    return f"on new versions of {trigger.artifact}" + (f" ({parts})" if parts else "")


def matches(trigger: ArtifactTriggerSpec, partitions: Mapping[str, str]) -> bool:
    """Whether a version with ``partitions`` fires ``trigger`` (``"*"``: any value)."""
    for key, want in trigger.partitions.items():
        if key not in partitions or (want != "*" and partitions[key] != want):
            return False
    return True


def triggered_execution_id(
    plan: str, artifact: str, version: int, *, project: str = "", domain: str = "", n: int = 0
) -> str:
    """The execution id of a plan's firing for ``artifact:version``: the same whoever fires it.

    Shape: ``{plan slug}-v{version}-{8 hex}`` (at most 63 characters); ``n`` past 0: the next
    ids to try where another project's execution holds the first (:func:`firing_id`)."""
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", plan.rsplit(".", 1)[-1].lower()).strip("-")[:32]
    again = (str(n),) if n else ()
    digest = stable_hash(project, domain, plan, artifact, str(version), *again)[:8]
    return f"{slug or 'lp'}-v{version}-{digest}"


def firing_id(meta: MetaStore, record: ScheduleRecord, version: ArtifactVersion) -> str:
    """The id of ``record``'s firing for ``version`` (its deterministic id, or the next where
    another project's execution holds it: :func:`~airfoil.engine.launch_plans.own_firing_id`).

    Raises:
        ConflictError: every id it may take is another project's.
    """

    key = (record.name, version.name, version.version)
    return own_firing_id(
        meta,
        lambda n: triggered_execution_id(*key, project=record.project, domain=record.domain, n=n),
        record.project,
        record.domain,
    )


def validate_trigger(spec: LaunchPlanSpec) -> ArtifactTriggerSpec:
    """The plan's trigger, checked against its workflow.

    Raises:
        ConfigError: no trigger, a bad artifact name, a schedule as well, or a version input
            the workflow does not have (or that is not an ``int``).
    """
    trigger = spec.trigger
    if trigger is None:
        raise ConfigError(
            f"launch plan {spec.name!r} has no artifact trigger: give it "
            "trigger=on_artifact('name') to activate it on new versions"
        )
    if spec.schedule is not None:
        raise ConfigError(
            f"launch plan {spec.name!r} has both a schedule and an artifact trigger: "
            "make two launch plans"
        )
    check_artifact_name(trigger.artifact)
    arg = trigger.version_input_arg
    if arg:
        found = spec.workflow.interface.input(arg)
        if found is None:
            names = ", ".join(p.name for p in spec.workflow.interface.inputs) or "none"
            raise ConfigError(
                f"launch plan {spec.name!r}: the trigger's version input {arg!r} is not an "
                f"input of the workflow (its inputs: {names})"
            )
        if found.type.kind != "int":
            raise ConfigError(
                f"launch plan {spec.name!r}: the trigger's version input {arg!r} must be an "
                f"int, it is {found.type}"
            )
        if arg in spec.fixed_inputs:
            raise ConfigError(
                f"launch plan {spec.name!r}: the trigger's version input {arg!r} is a fixed "
                "input; make it a default input or leave it unset"
            )
    return trigger


def activate_trigger(
    store: ScheduleStore,
    artifacts: ArtifactStore,
    spec: LaunchPlanSpec,
    *,
    now: float,
    code_root: str = "",
    executor: str = "",
    project: str = "default",
    domain: str = "development",
) -> ScheduleRecord:
    """Store ``spec`` and make its trigger fire for versions added from now on.

    Raises:
        ConfigError: see :func:`validate_trigger`.
    """
    trigger = validate_trigger(spec)

    def cursor(old: ScheduleRecord | None) -> float:
        keep = old is not None and old.active and old.spec.trigger == trigger
        if keep and old is not None and old.next_fire_at is not None:
            return old.next_fire_at
        try:
            newest = artifacts.get_version(project, trigger.artifact).version
        except NotFoundError:
            newest = 0
        return CURSOR_BASE + newest

    return activate_record(
        store,
        spec,
        cursor,
        now=now,
        project=project,
        domain=domain,
        code_root=code_root,
        executor=executor,
    )


def launch_version(
    engine: Engine,
    types: TypeEngine,
    record: ScheduleRecord,
    version: ArtifactVersion,
    eid: str | None = None,
) -> TriggerFiring:
    """Launch (without driving) the plan's execution for ``version``, with its deterministic
    id (``eid`` where the caller has found it already, as :func:`fire_trigger`'s claim did);
    an existing execution of that id is left alone."""
    spec = record.spec
    trigger = validate_trigger(spec)
    if eid is None:
        try:
            eid = firing_id(engine.meta, record, version)
        except ConflictError as exc:
            return TriggerFiring(record.name, version.name, version.version, "", False, str(exc))

    def firing(launched: bool, error: str = "") -> TriggerFiring:
        return TriggerFiring(record.name, version.name, version.version, eid, launched, error)

    try:
        engine.meta.get_execution(eid)
        return firing(False)
    except NotFoundError:
        pass
    given: dict[str, Value] = {}
    if trigger.version_input_arg:
        from airfoil.types import ValueContext

        given[trigger.version_input_arg] = types.to_value(
            version.version, int, ValueContext(blobs=engine.blobs)
        )
    try:
        values = launch_values(spec, given, types, engine.blobs)
        launch_launch_plan(
            engine,
            spec,
            values,
            execution_id=eid,
            code_root=record.code_root,
            labels={"artifact": f"{version.name}:{version.version}"},
        )
    except ConflictError:
        return firing(False)
    except AirfoilError as exc:
        return firing(False, str(exc))
    return firing(True)


def fire_trigger(
    store: ScheduleStore,
    artifacts: ArtifactStore,
    record: ScheduleRecord,
    now: float,
    launch: Callable[[ScheduleRecord, ArtifactVersion, str | None], TriggerFiring],
    *,
    meta: MetaStore,
) -> list[TriggerFiring]:
    """Claim, in order, the versions of ``record``'s artifact newer than its cursor, and
    ``launch`` each claimed version that matches the trigger's partitions with the id claimed
    for it (None where every id is another project's: the launch says why; ``meta``: where
    the executions are, for each firing's id).

    Returns the firings this caller claimed and launched (or tried to)."""
    trigger = record.spec.trigger
    cursor = cursor_of(record)
    if trigger is None or cursor is None or not record.active:
        return []
    newer = [
        v for v in artifacts.list_versions(record.project, trigger.artifact) if v.version > cursor
    ]
    out: list[TriggerFiring] = []
    for version in sorted(newer, key=lambda v: v.version):
        fires = matches(trigger, version.partitions)
        eid = record.last_execution_id
        if fires:
            try:
                eid = firing_id(meta, record, version)
            except ConflictError:
                eid = ""  # launch_version says why: this version fails, the cursor moves on
        won = store.claim_schedule_fire(
            record.name,
            expected_at=CURSOR_BASE + cursor,
            next_at=CURSOR_BASE + version.version,
            execution_id=eid,
            now=now,
            project=record.project,
            domain=record.domain,
        )
        if not won:
            break  # another loop claimed it (or the trigger changed): it owns what follows
        cursor = version.version
        if fires:
            out.append(launch(record, version, eid or None))
    return out
