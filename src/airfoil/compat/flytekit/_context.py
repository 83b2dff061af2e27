"""flytekit's task context on Airfoil's: ``current_context()``, ``Secret`` and ``Deck``.

A ``Secret(group="db", key="password")`` is the Airfoil secret named ``db.password`` (locally
read from ``AIRFOIL_SECRET_DB_PASSWORD``; on a server, ``airfoil secrets set db.password``);
``current_context().secrets.get("db", "password")`` reads it. A ``Deck``'s HTML goes to the
attempt's log (``airfoil logs``) as well as ``current_context().decks``.
"""

from __future__ import annotations

import enum
import html
import os
import re
from dataclasses import dataclass
from typing import Any

from airfoil.sdk._context import ExecutionContext
from airfoil.sdk._context import current_context as _airfoil_context

__all__ = ["Deck", "Secret", "SecretsManager", "current_context", "secret_name"]


@dataclass(frozen=True)
class Secret:
    """A secret a task requests (``secret_requests=[Secret(group=..., key=...)]``)."""

    group: str | None = None
    key: str | None = None
    group_version: str | None = None
    mount_requirement: Any = None
    env_var: str | None = None

    class MountType(enum.Enum):
        ANY = 0
        ENV_VAR = 1
        FILE = 2

    def __post_init__(self) -> None:
        if not self.group and not self.key:
            raise ValueError("Secret needs a group or a key (Secret(group='db', key='password'))")

    @property
    def name(self) -> str:
        return secret_name(self.group, self.key)


def secret_name(group: str | None, key: str | None) -> str:
    """The Airfoil secret name of a flytekit (group, key)."""
    return ".".join(part for part in (group, key) if part)


def local_env_var(name: str) -> str:
    """The environment variable a local run reads secret ``name`` from (the rule of
    ``airfoil.store.stores.secret_env_name``, which this layer may not import)."""
    return "AIRFOIL_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()


class SecretsManager:
    """``flytekit.testing.SecretsManager``: where a local run reads each secret from, to set
    them in a test or a script (``os.environ[sm.get_secrets_env_var(group, key)] = value``),
    and ``get(group, key)`` to read one outside a task. A running task's
    ``current_context().secrets`` is one reading the task's own secrets."""

    def get_secrets_env_var(self, group: str | None = None, key: str | None = None) -> str:
        return local_env_var(secret_name(group, key))

    def get(
        self,
        group: str | None = None,
        key: str | None = None,
        group_version: str | None = None,
        encode_mode: str = "r",
    ) -> Any:
        name = secret_name(group, key)
        value = self._read(name)
        if value is None:
            raise ValueError(self._missing(group, key, name))
        return value.encode() if "b" in encode_mode else value

    def _read(self, name: str) -> str | None:
        return os.environ.get(local_env_var(name))

    def _missing(self, group: str | None, key: str | None, name: str) -> str:
        return f"secret {name!r} is not set: set the environment variable {local_env_var(name)}"

    def get_secrets_file(
        self, group: str | None = None, key: str | None = None, group_version: str | None = None
    ) -> str:
        """The path a task's ``current_context().secrets.get_secrets_file(group, key)`` gives:
        ``<this user's secrets directory>/<group>/[<group_version>/]<key>`` (lower-cased), as
        flytekit's names ``/etc/secrets/<group>/<key>``. Outside a task nothing is written
        there (as in flytekit); a running task that asks for the file has the secret in it
        while it runs."""
        from airfoil.sdk._secret_files import shared_path

        if not group and not key:
            raise ValueError("get_secrets_file needs a group or a key")
        return shared_path(*(p for p in (group, group_version, key) if p))


class _Secrets(SecretsManager):
    """``current_context().secrets``: the running task's secrets, as in flytekit."""

    def __init__(self, ctx: ExecutionContext) -> None:
        self._ctx = ctx

    def _read(self, name: str) -> str | None:
        return self._ctx.secrets.get(name)

    def _missing(self, group: str | None, key: str | None, name: str) -> str:
        return (
            f"secret {name!r} was not requested or is not set: add "
            f"Secret(group={group!r}, key={key!r}) to the task's secret_requests and set it "
            f"(locally: the environment variable {local_env_var(name)})"
        )

    def get_secrets_file(
        self, group: str | None = None, key: str | None = None, group_version: str | None = None
    ) -> str:
        """The path of a file holding the secret (``Secret(mount_requirement=FILE)``) while
        the task runs: the path :meth:`SecretsManager.get_secrets_file` names outside a task
        too (see :meth:`airfoil.Secrets.shared_file`)."""
        name = secret_name(group, key)
        if name not in self._ctx.secrets:
            self.get(group, key)  # raises the error that says what to do
        path = SecretsManager.get_secrets_file(self, group, key, group_version)
        return self._ctx.secrets.shared_file(name, path)


@dataclass(frozen=True)
class ExecutionIdentifier:
    """``current_context().execution_id``, as flytekit's: the run's project and domain, and
    its ``name`` there (what ``airfoil`` commands of that project take: the name it was
    launched with, else its id)."""

    name: str
    project: str = "default"
    domain: str = "development"


class Deck:
    """An HTML report of a task (flytekit's ``Deck``): ``Deck("summary", html)`` or
    ``current_context().default_deck.append(html)``. Its text is written to the attempt's log
    when appended, so ``airfoil logs EXECUTION`` shows it."""

    def __init__(self, name: str, html: str | None = "", auto_add_to_deck: bool = True) -> None:
        self.name = name
        self._html = ""
        if auto_add_to_deck:
            _decks().append(self)
        if html:
            self.append(html)

    def append(self, html_text: str) -> Deck:
        self._html += html_text
        ctx = _airfoil_context()
        if ctx.execution_id != "local":
            ctx.logger.info("deck %s: %s", self.name, _text_of(html_text))
        return self

    @property
    def html(self) -> str:
        return self._html


def _text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup)).strip()


_LOCAL_DECKS: list[Deck] = []  # decks made outside a running task


def _decks() -> list[Deck]:
    """The decks of the running attempt (kept on its context, so they end with it)."""
    ctx = _airfoil_context()
    if ctx.execution_id == "local":
        return _LOCAL_DECKS
    decks: list[Deck] | None = ctx.__dict__.get("_flytekit_decks")
    if decks is None:
        decks = ctx.__dict__["_flytekit_decks"] = []
    return decks


class FlyteContext:
    """What ``current_context()`` returns: flytekit's names over Airfoil's task context."""

    def __init__(self, ctx: ExecutionContext) -> None:
        self._ctx = ctx
        self.secrets = _Secrets(ctx)
        self.execution_id = ExecutionIdentifier(
            name=ctx.execution_name, project=ctx.project, domain=ctx.domain
        )

    @property
    def working_directory(self) -> str:
        return self._ctx.working_directory

    @property
    def logging(self) -> Any:
        return self._ctx.logger

    @property
    def task_id(self) -> str:
        return self._ctx.task

    @property
    def attempt_number(self) -> int:
        return self._ctx.attempt - 1  # flytekit counts from 0

    @property
    def checkpoint(self) -> Any:
        """The node's checkpoint (``read()`` / ``write(bytes)``), kept across its attempts."""
        from airfoil.compat.flytekit._checkpoint import Checkpoint

        return Checkpoint(self._ctx.blobs, self._ctx.execution_id, self._ctx.node_id)

    @property
    def decks(self) -> list[Deck]:
        return _decks()

    @property
    def default_deck(self) -> Deck:
        for deck in _decks():
            if deck.name == "default":
                return deck
        return Deck("default")

    @property
    def raw_output_prefix(self) -> str:
        return self._ctx.scratch_dir


def current_context() -> FlyteContext:
    """The running task's context, with flytekit's names (``secrets.get(group, key)``,
    ``execution_id.name``, ``working_directory``, ``logging``, ``decks``)."""
    return FlyteContext(_airfoil_context())
