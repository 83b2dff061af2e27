"""The one exception tree of Airfoil.

Every error Airfoil raises derives from :class:`AirfoilError`. The tree tells three
audiences apart:

```
AirfoilError
├── UserError                 the user asked for something wrong; never retried
│   ├── ConfigError           bad settings, URLs, CLI arguments
│   │   └── UnschedulableTaskError  a task asks for more than the cluster could ever give
│   ├── DefinitionError       a task/workflow definition is wrong (raised before anything runs)
│   │   ├── BindingTypeError      an input is bound to a value of the wrong type
│   │   ├── MissingInputError     a required input is not bound
│   │   ├── UnknownInputError     a binding names an input the callee does not have
│   │   ├── UnknownOutputError    a promise names an output the producer does not have
│   │   └── PromiseMisuseError    a promise is used as a value (``if``, ``len``, ``bool``...)
│   ├── TypeTransformError    a value does not fit its declared type (or would lose data)
│   ├── InvalidInputError     launch inputs do not match the interface
│   ├── SecretOutputError     a task's output holds the value of a secret it was given
│   ├── CacheScopeAccessError a project may not use a named cache scope (not a member)
│   ├── TooLargeError         what was asked for is past a size limit (names how to get it)
│   └── NotFoundError         an execution, node, task or cache entry does not exist
├── UserCodeError             user code raised; carries the original type, message, traceback
├── PlatformError             a system failure, retryable on its own budget
│   ├── WorkerLostError       the worker process died (killed, crashed)
│   ├── TaskTimeoutError      the attempt ran past its timeout and was stopped
│   ├── OutOfMemoryError      the attempt ran out of memory
│   └── StoreError            the metadata or blob store failed
│       ├── ConflictError     a concurrent writer won (stale version, lease lost)
│       ├── CorruptBlobError  a blob's content no longer matches its hash
│       ├── UnreadableRecordError  a stored record does not decode (written by an older or
│       │                          faulty version): never retried
│       └── TransientStoreError   the database is away or lost a race (connection lost,
│                                 serialization failure, deadlock, timeout): may succeed later
└── ExecutionFailedError      an execution ended failed; raised to whoever waited for it
```

User code is never trusted to raise Airfoil errors: the runtime wraps each call into user code
and reports any exception as :class:`UserCodeError`, so a user's ``ValueError`` is told apart
from a platform failure.
"""

from __future__ import annotations

__all__ = [
    "AirfoilError",
    "BindingTypeError",
    "CacheScopeAccessError",
    "ConfigError",
    "ConflictError",
    "CorruptBlobError",
    "CorruptVersionError",
    "DefinitionError",
    "ExecutionFailedError",
    "InvalidInputError",
    "MissingInputError",
    "NotFoundError",
    "OutOfMemoryError",
    "PlatformError",
    "PromiseMisuseError",
    "SecretOutputError",
    "StoreError",
    "TaskTimeoutError",
    "TooLargeError",
    "TransientStoreError",
    "TypeTransformError",
    "UnknownInputError",
    "UnknownOutputError",
    "UnreadableRecordError",
    "UnschedulableTaskError",
    "UserCodeError",
    "UserError",
    "WorkerLostError",
    "unreadable_why",
]


class AirfoilError(Exception):
    """Base of every error raised by Airfoil."""


class UserError(AirfoilError):
    """The user asked for something that cannot work. Never retried."""


class ConfigError(UserError):
    """Bad configuration: settings, URLs, command-line arguments."""


class UnschedulableTaskError(ConfigError):
    """A task asks for more CPUs, memory or GPUs than any node (or its project's hard
    quota) could ever give: it fails at launch instead of waiting forever.

    Attributes:
        task: the task's name.
        node_id: the node that runs it.
        requested: what it asks for (a ``ResourceSpec``).
        capacity: the most it could ever get (a ``ResourceSpec``).
    """

    def __init__(
        self, message: str, *, task: str, node_id: str, requested: object, capacity: object
    ) -> None:
        super().__init__(message)
        self.task = task
        self.node_id = node_id
        self.requested = requested
        self.capacity = capacity


class DefinitionError(UserError):
    """A task or workflow definition is wrong. Raised at definition time, before anything runs.

    Attributes:
        workflow: the workflow being built, if any.
        call: the call inside it (``"train(...)"``), if any.
        location: ``"file.py:LINE"`` of the offending call, if known.
    """

    def __init__(
        self,
        message: str,
        *,
        workflow: str | None = None,
        call: str | None = None,
        location: str | None = None,
    ) -> None:
        self.workflow = workflow
        self.call = call
        self.location = location
        self.detail = message
        where = []
        if workflow:
            where.append(f"in workflow {workflow!r}")
        if call:
            where.append(f"at call {call}")
        if location:
            where.append(f"({location})")
        super().__init__(f"{message} [{' '.join(where)}]" if where else message)


class BindingTypeError(DefinitionError):
    """An input is bound to a value or promise of an incompatible type."""


class MissingInputError(DefinitionError):
    """A required input is not bound."""


class UnknownInputError(DefinitionError):
    """A binding names an input that the callee does not declare."""


class UnknownOutputError(DefinitionError):
    """A promise names an output that its producer does not declare."""


class PromiseMisuseError(DefinitionError):
    """A promise (a future output) is used as if it were a value while building a workflow."""


class TypeTransformError(UserError):
    """A value does not fit its declared type, or converting it would lose data."""


class InvalidInputError(UserError):
    """Inputs given to a launch do not match the interface."""


class SecretOutputError(UserError):
    """A task returned the value of a secret it was given as (part of) an output.

    Outputs are kept in the store and shown to anyone who may read the execution, so the
    attempt fails (as the task's error) and the value is never stored; the message names the
    output and the secret, never the value. Return something derived from the secret (a hash,
    a masked form) instead, or ask for the secret by name in the task that needs it.
    """


class CacheScopeAccessError(UserError):
    """A run of a project uses a named cache scope (``cache_scope=``) it is not a member of.

    Raised at launch on a server (a 403 ``cache_scope_forbidden``), and by the engine when a
    lookup in the scope is refused (a dynamic graph's task, a membership revoked while the run
    was going): the run fails with this error rather than missing silently. The message names
    the scope, the project and the command an admin runs to grant it.
    """

    def __init__(self, message: str, *, scope: str = "", project: str = "") -> None:
        super().__init__(message)
        self.scope = scope
        self.project = project


class TooLargeError(UserError):
    """What was asked for is past a size limit of the reader (a report past what a page
    shows); the message names the size, the limit and the way to get it whole."""


class NotFoundError(UserError):
    """The execution, node, entity or cache entry asked for does not exist."""


class UserCodeError(AirfoilError):
    """User code raised an exception.

    Attributes:
        error_type: qualified name of the original exception type (``"builtins.ValueError"``).
        message: ``str()`` of the original exception.
        traceback: the formatted traceback, from inside the user's code.
        original: the original exception, when raised in the same process.
    """

    def __init__(
        self,
        error_type: str,
        message: str,
        traceback: str = "",
        original: BaseException | None = None,
    ) -> None:
        self.error_type = error_type
        self.message = message
        self.traceback = traceback
        self.original = original
        super().__init__(f"{error_type}: {message}")


class PlatformError(AirfoilError):
    """A system failure (not the user's code). Retried on the system retry budget."""


class WorkerLostError(PlatformError):
    """The worker running an attempt died or vanished."""


class TaskTimeoutError(PlatformError):
    """An attempt ran past its timeout and was stopped."""


class OutOfMemoryError(PlatformError):
    """An attempt ran out of memory."""


class StoreError(PlatformError):
    """The metadata or blob store failed."""


class ConflictError(StoreError):
    """A concurrent writer won: a stale version or a lost lease."""


class CorruptVersionError(UserError):
    """An artifact version's stored bytes no longer match the hash recorded when it was
    published: no service could load it, so an alias is not moved to it (publish the same
    bytes again, or retrain)."""


class CorruptBlobError(StoreError):
    """A blob's content does not match the content hash recorded when it was written (the
    file was changed or damaged since: a disk fault, a power loss in ``process``
    durability, a hand edit).

    Raised while a task's input is read, it fails the attempt with an error of kind ``data``,
    which is never retried: reading the same bytes again cannot succeed. A corrupt cached
    output is not an error at all: the node recomputes it."""


class UnreadableRecordError(StoreError):
    """A stored record does not decode into its current record type: it was written by an
    older or faulty version of Airfoil (a setting of the wrong type stored in a spec, say).

    Reading the same bytes again cannot succeed, so it is never retried. A listing skips such
    a record and reports it (its id and the decode error) rather than failing whole; reading
    the record itself raises this error, naming it.

    Attributes:
        kind: what the record is: ``"execution"``, or a part of one (``"node"``,
            ``"attempt"``, ``"event"``).
        record_id: its id (a part's: ``<execution>/<node>``, ``<execution>/<node>#<attempt>``,
            ``<execution>@<seq>``), or ``"?"`` where even that cannot be read.
        reason: the decoder's message (the field and what it found).
    """

    def __init__(self, kind: str, record_id: str, reason: str) -> None:
        super().__init__(
            f"{kind} {record_id!r} cannot be read: its stored record does not fit this version "
            f"of Airfoil ({reason}); it was written by an older or faulty version. Read it with "
            "the version that wrote it, or delete its row from the store; other records are "
            "not affected"
        )
        self.kind = kind
        self.record_id = record_id
        self.reason = reason

    @property
    def why(self) -> str:
        """Why it cannot be read, in words (:func:`unreadable_why`)."""
        return unreadable_why(self.kind)


#: The kinds of stored part that are blobs (a log's or a report's file), not records.
_BLOB_KINDS = frozenset({"log", "report"})


def unreadable_why(kind: str) -> str:
    """Why a stored part of ``kind`` that cannot be read could not be, in words: a blob's
    (``log``, ``report``) was damaged or changed by hand, a record was written by an older
    or faulty version of Airfoil. The one rule: the API carries it (``UnreadableOut.why``),
    and the CLI's ``unreadable:`` lines and the console's notices print it."""
    if kind in _BLOB_KINDS:
        return "its blob is damaged or was changed by hand"
    return "it was stored by an older or faulty version of Airfoil"


class TransientStoreError(StoreError):
    """The database could not be reached, or the transaction lost a race (connection lost,
    serialization failure, deadlock, statement timeout): the same call may succeed later.

    The SQL store retries these itself, with backoff and jitter, within its retry budget; one
    that escapes means the database stayed away for the whole budget (or, with
    ``outcome_unknown``, that the connection broke while a commit was in flight, so whether
    it took effect is unknown). Callers pause what they were doing and resume from the store;
    they never treat it as a failure of the work itself.
    """

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


class ExecutionFailedError(AirfoilError):
    """An execution ended in a failed phase.

    Attributes:
        execution_id: the failed execution.
        node_id: the node whose failure ended it, if any.
        error_kind: ``"user"`` or ``"system"``.
        error_type: qualified name of the original exception type, for user errors.
        traceback: the failing attempt's traceback.
    """

    def __init__(
        self,
        execution_id: str,
        message: str,
        *,
        node_id: str | None = None,
        error_kind: str = "user",
        error_type: str = "",
        traceback: str = "",
    ) -> None:
        self.execution_id = execution_id
        self.node_id = node_id
        self.error_kind = error_kind
        self.error_type = error_type
        self.traceback = traceback
        where = f" at node {node_id!r}" if node_id else ""
        super().__init__(f"execution {execution_id} failed{where}: {message}")
