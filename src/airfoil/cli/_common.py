"""Shared CLI plumbing: settings, the runtime, error reporting, consoles.

Errors have one form, ``error: <message>`` on stderr, printed as plain text (a message may
hold ``[brackets]``, which must never be read as Rich markup) and never wrapped when stderr
is not a terminal. Exit codes: 1 an execution failed, 2 the user asked for something that
cannot work, 3 Airfoil itself failed, 130 interrupted.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.text import Text

from airfoil.cli import _collector as collector
from airfoil.core.errors import (
    AirfoilError,
    ConflictError,
    ExecutionFailedError,
    UnreadableRecordError,
    UserError,
)

if TYPE_CHECKING:
    from airfoil.local import LocalRuntime
    from airfoil.settings import AirfoilSettings

__all__ = [
    "err_console",
    "fail",
    "handle_errors",
    "is_tty",
    "json_line",
    "out_console",
    "plain",
    "runtime",
    "say",
    "say_unreadable",
    "showing_console",
    "unreadable_json",
]

F = TypeVar("F", bound=Callable[..., Any])

# Wide enough that nothing is cut or wrapped when the output is piped (to a file, grep, less).
_PIPE_WIDTH = 10_000


# What a terminal obeys instead of showing: C0 controls but tab and newline (Rich itself drops
# BEL, backspace, \r, \v and \f), DEL, C1 controls (0x9b is a one-byte CSI) and the bidi
# embeddings, overrides and isolates that reorder what follows (Trojan Source,
# CVE-2021-42574). The directional marks (U+061C, U+200E, U+200F) reorder nothing after them
# and are written in right-to-left text on purpose: kept.
_OBEYED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"  # valid in JSON and in Python alike


class _ShowingConsole(Console):
    """A console that shows, escaped (``\\u001b``), every control character in what it prints:
    a task's log line, error message or metric name must not move the cursor, erase lines,
    set the window's title or reorder the text (``airfoil logs`` forged that way). The
    console's own styles and controls (a live display's cursor moves) are not text: kept."""

    def render(self, renderable: Any, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            text = segment.text
            if segment.control or not _OBEYED.search(text):
                yield segment
            else:
                yield Segment(_OBEYED.sub(_shown, text), segment.style)


def showing_console(stderr: bool) -> Console:
    """A console that escapes the control characters of the text it prints (see
    ``_ShowingConsole``), as wide as a terminal, or unbounded when piped."""
    # emoji=False: no ":name:" in a task's or workflow's name is turned into an emoji, and no
    # print loads Rich's ~3,600-entry emoji table (~2 ms of every `airfoil run`; issue 17, W5)
    console = _ShowingConsole(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = _PIPE_WIDTH
    return console


out_console = showing_console(stderr=False)
err_console = showing_console(stderr=True)


def json_line(text: str) -> str:
    """JSON text with the characters a terminal obeys shown escaped (``\\u009b``): C1
    controls and bidi overrides, which JSON encoders write as they are (``msgspec``, or
    ``json.dumps(..., ensure_ascii=False)``), can be in nothing but its strings, where the
    escape decodes to the same character."""
    return _OBEYED.sub(_shown, text)


def plain(console: Console, text: str, style: str = "") -> None:
    """Print ``text`` as it is: no markup, no highlighting, no wrapping."""
    console.print(Text(text, style=style), soft_wrap=True, highlight=False)


def say(console: Console, *parts: str | tuple[str, str]) -> None:
    """Print ``parts`` one after another as they are, a ``(text, style)`` pair in its style.

    For lines that put names users chose (tasks, workflows, projects, schedules, scopes,
    error messages) beside styled words: an f-string with ``[bold]`` in it would read a name
    such as ``t[/]`` or ``[link=https://...]x`` as Rich markup, and print another text.
    """
    console.print(Text.assemble(*parts), soft_wrap=True, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: <message>`` (never parsed as markup) and exit with ``code``."""
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True, highlight=False
    )
    raise typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn Airfoil errors into ``error: <message>`` and an exit code (see the module)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not getattr(fn, "resumes_collector", False):
            collector.resume()  # paused by main() while the command loaded (cli/_collector)
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except ExecutionFailedError as exc:
            fail(str(exc), code=1)
        except (UserError, ConflictError) as exc:
            # A conflict on the command line is the user's request meeting the store's state
            # (an execution id taken, an execution another process is driving).
            fail(str(exc), code=2)
        except UnreadableRecordError as exc:  # damaged data, not a failure of this code
            fail(str(exc), code=3)
        except AirfoilError as exc:
            fail(f"{exc} (an internal {type(exc).__name__})", code=3)
        except KeyboardInterrupt:
            plain(err_console, "interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def load_settings() -> AirfoilSettings:
    """The ``AIRFOIL_*`` settings; a bad one fails the command naming it (exit 2)."""
    from airfoil.settings import AirfoilSettings, SettingsError

    try:
        return AirfoilSettings()
    except SettingsError as exc:  # "bad AIRFOIL_<NAME> setting: <problem and fix>"
        fail(str(exc))


def runtime(**overrides: Any) -> LocalRuntime:
    """The local runtime from ``AIRFOIL_*`` settings, with ``overrides`` (command-line
    options, like ``ray_address``) replacing the settings they name when not None."""
    from airfoil.local import get_runtime

    settings = load_settings()
    given = {k: v for k, v in overrides.items() if v is not None}
    if given:
        settings = settings.model_copy(update=given)
    return get_runtime(settings)


def is_tty() -> bool:
    return sys.stderr.isatty()


def local_execution(rt: LocalRuntime, ref: str, domain: str | None = None) -> str:
    """The id of the local execution ``ref`` names in the runtime's project
    (``AIRFOIL_PROJECT``): its name there (in ``domain`` if given, else in ``AIRFOIL_DOMAIN``
    first, then in the only other domain that has it), or its id. Another project's
    executions are not found."""
    from airfoil.core.errors import NotFoundError

    project = rt.settings.project
    if domain:
        return rt.meta.resolve_execution(project, ref, domain)
    try:
        return rt.meta.resolve_execution(project, ref, rt.settings.domain)
    except NotFoundError:
        try:
            return rt.meta.resolve_execution(project, ref)
        except NotFoundError:
            raise NotFoundError(
                f"execution {ref!r} does not exist in project {project!r}: set AIRFOIL_PROJECT "
                "to the project it ran in"
            ) from None


#: ``--domain`` of a command that takes a run by its name (a name is unique within its
#: project and domain only); the remote commands find it alike (``_remote.addressed``).
RUN_DOMAIN = typer.Option(
    None,
    "--domain",
    help="The domain of a name the project uses in several (default: AIRFOIL_DOMAIN's, "
    "else the only one).",
)


def run_label(name: str, domain: str, home: str) -> str:
    """What the CLI prints for a run named ``name`` in ``domain`` (``""``: not known): the
    name alone in the caller's domain ``home`` (``AIRFOIL_DOMAIN``, where a name is looked up
    first), else ``name (domain)``: a name is unique within its project and domain only, so a
    name the project uses in several domains prints one line per run that tells them apart."""
    return name if not domain or domain == home else f"{name} ({domain})"


def shown_name(record: Any) -> str:
    """What the user calls an execution (a record, a head or the API's summary): its name in
    its project, else its id."""
    return str(getattr(record, "name", "") or record.id)


def unreadable_json(exc: UnreadableRecordError) -> dict[str, str]:
    """A part left out, as the API's ``UnreadableOut`` has it (``kind``, ``id``, ``reason``,
    ``why``): the local ``--json`` objects' shape is the remote ones'."""
    return {"kind": exc.kind, "id": exc.record_id, "reason": exc.reason, "why": exc.why}


def say_unreadable(part: Mapping[str, str], shown: str = "left out") -> None:
    """One line on stderr for a stored part of an execution that cannot be read (a record
    that no longer decodes; a ``log`` or ``report`` blob), given as the API's
    ``UnreadableOut`` has it (:func:`unreadable_json`), that was left out of what is shown
    (the rest is shown), or, ``shown``, what became of it; its ``why`` as it says (empty
    from an older server: then not said)."""
    why = part.get("why")
    said = f"unreadable: {part['kind']} {part['id']} ({shown}): {part['reason']}"
    err_console.print(f"{said}; {why}" if why else said, markup=False)
