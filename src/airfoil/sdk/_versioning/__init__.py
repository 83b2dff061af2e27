"""Default code versions of tasks and workflows.

The rule (documented in docs/caching.md): a task's version is the SHA-256 over the
*components* it reaches, each a label (file relative to the project root, and qualified name)
and the hash of its normalised text:

1. its own code and the code of every *project-local* function, class and method it reaches,
   transitively (globals, closures, attribute chains through project-local modules, tasks it
   calls, decorators, wrappers such as ``functools.partial``/``lru_cache``/``__wrapped__``,
   bound methods, classes of instances, classes named in annotations), normalised (comments,
   formatting and docstrings do not count);
2. the canonical text of every constant it reads (numbers, strings, containers with dicts
   and sets order-free, dataclasses, enums, NamedTuples, dates, paths, numpy arrays, plain-data
   values of the standard library such as slices, deques and ``operator.itemgetter``) and the
   canonical state of every instance of a project-local class it reads;
3. the names of the library functions and classes it reads (their code is the installed
   package's business);
4. the interpreter's major.minor version (one Python's float sums and pickles are not
   another's).

"Project-local" means defined in a file under the task's project root: the directory holding
the task's top-level package (or the script itself), or in source outside it that is no
installed library (not in the standard library, Airfoil, or a site-packages/dist-packages
directory: a sibling package on ``PYTHONPATH``, an editable install), labelled by its place
under the directory it is imported from. No module name enters the hash, so a script run as
``python file.py`` (``__main__``) and as ``airfoil run file.py`` gets one version.

A value the task reads that has no canonical form is *unhashable*: it is named in a
:class:`CacheVersionWarning` (once per task and name) and in the version's manifest, which
``airfoil cache explain`` shows. Each version keeps a :class:`VersionManifest` (components
with their normalised text) so that two versions can be diffed.

A version remembers every global it looked up; :meth:`CodeVersion.stale` says whether any of
them was rebound since (``importlib.reload`` in a notebook), and the SDK then computes a new one.

A version computed while a definition runs (a decorator, a workflow's compile at its
``@workflow``, a launch plan's constructor: :func:`defining`) is *provisional*: the module
defining it may still be executing, and may yet fill a registry the task reads, update a
config dict or patch a method, none of which rebinds a global. Such a version is stale at its
first use outside a definition, which computes it again from the module as it is then.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import site
import sys
import sysconfig
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from airfoil.core.code_versions import ManifestComponent, VersionManifest
from airfoil.sdk._versioning._walk import MISSING, Walker, import_root

__all__ = [
    "CacheVersionWarning",
    "CodeVersion",
    "VersionManifest",
    "code_version",
    "compute_version",
    "defining",
    "manifest_for",
    "project_root",
    "with_config",
]


class CacheVersionWarning(UserWarning):
    """Something a task reads cannot be hashed into its code version: a change to it would
    not invalidate the cache. Pin ``cache_version=`` on the task (and bump it when it changes)."""


#: How many definitions (decorators, workflow compiles, launch plans) this context is inside.
_DEFINING: contextvars.ContextVar[int] = contextvars.ContextVar("airfoil_defining", default=0)


@contextlib.contextmanager
def defining() -> Iterator[None]:
    """Mark the versions computed inside as provisional (see the module docstring)."""
    token = _DEFINING.set(_DEFINING.get() + 1)
    try:
        yield
    finally:
        _DEFINING.reset(token)


class CodeVersion:
    """A computed version, its manifest, and what it looked up (to tell when it is stale)."""

    __slots__ = ("_watch", "manifest", "provisional", "version")

    def __init__(
        self, version: str, manifest: VersionManifest, watch: list[tuple[dict[str, Any], str, Any]]
    ) -> None:
        self.version = version
        self.manifest = manifest
        self._watch = watch
        #: computed inside a definition: recomputed at the first use outside one
        self.provisional = _DEFINING.get() > 0

    def stale(self) -> bool:
        """Whether a global this version read has been rebound (a module reloaded, a name
        defined later in the module than the code that reads it), or the version was
        computed inside a definition and is now used outside one."""
        if self.provisional and _DEFINING.get() == 0:
            return True
        return any(ns.get(name, MISSING) is not seen for ns, name, seen in self._watch)


#: The manifest's component naming the interpreter's major.minor version.
PYTHON_COMPONENT = "<python>"
_EXCLUDED_PREFIXES: tuple[str, ...] | None = None
_MANIFESTS: dict[str, VersionManifest] = {}
_WARNED: set[str] = set()


def _excluded() -> tuple[str, ...]:
    global _EXCLUDED_PREFIXES
    if _EXCLUDED_PREFIXES is None:
        paths = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
        paths.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
        paths.add(site.getusersitepackages())
        here = os.path.dirname(os.path.abspath(__file__))
        paths.add(os.path.dirname(os.path.dirname(here)))  # the airfoil package
        _EXCLUDED_PREFIXES = tuple(os.path.realpath(p) + os.sep for p in paths)
    return _EXCLUDED_PREFIXES


def project_root(module_name: str) -> str:
    """The directory holding a module's top-level package, or the script's directory."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file:
        return os.getcwd()
    return import_root(os.path.realpath(file), module_name)


def _python() -> str:
    """The interpreter's major.minor, a component of every version: one Python's float sums,
    pickles or compiled wheels are not another's (3.12's ``sum()`` of floats rounds
    differently from 3.11's), so its results are not served to another."""
    return f"python {sys.version_info.major}.{sys.version_info.minor}"


def compute_version(fn: Callable[..., Any], extra: str = "", *, warn: bool = True) -> CodeVersion:
    """The default version of a function, with its manifest: see the module docstring.

    Args:
        fn: the task's or workflow's function.
        extra: more text to hash (a workflow's compiled graph).
        warn: emit a :class:`CacheVersionWarning` for what could not be hashed.
    """
    walker = Walker(project_root(getattr(fn, "__module__", "") or ""), _excluded())
    entry = walker.function(fn)
    walker.finish()
    python = _python()
    walker.components[PYTHON_COMPONENT] = (hashlib.sha256(python.encode()).hexdigest(), python)
    digest = hashlib.sha256()
    for label, (part, _text) in sorted(walker.components.items()):
        digest.update(f"{label}\0{part}\0".encode())
    for name in sorted(walker.unhashable):
        digest.update(f"unhashable {name}\0".encode())
    if extra:
        digest.update(b"extra\0" + extra.encode())
    version = digest.hexdigest()[:16]
    manifest = VersionManifest(
        version=version,
        entry=entry,
        components={k: ManifestComponent(d, t) for k, (d, t) in sorted(walker.components.items())},
        unhashable=dict(sorted(walker.unhashable.items())),
    )
    _MANIFESTS[version] = manifest
    if warn:
        for name, reason in manifest.unhashable.items():
            if name in _WARNED:
                continue
            _WARNED.add(name)
            code = getattr(fn, "__code__", None)
            warnings.warn_explicit(  # pointing at the task, not at Airfoil's internals
                f"{entry} reads {name}, which cannot be hashed into its code version ({reason}): "
                "a change to it will not invalidate cached results. Give the task an explicit "
                "cache_version= and bump it when that value changes.",
                CacheVersionWarning,
                filename=code.co_filename if code is not None else "<unknown>",
                lineno=code.co_firstlineno if code is not None else 0,
                module=getattr(fn, "__module__", None) or "__main__",
            )
    return CodeVersion(version, manifest, walker.watch)


def code_version(fn: Callable[..., Any], extra: str = "") -> str:
    """The default version of a function: see the module docstring for the rule."""
    return compute_version(fn, extra).version


def manifest_for(version: str) -> VersionManifest | None:
    """The manifest of a version computed in this process, if any."""
    return _MANIFESTS.get(version)


def with_config(
    version: str, manifest: VersionManifest, config: str, *, label: str = "config"
) -> VersionManifest:
    """Keep (and return) the manifest of a task whose version also hashes its task type's
    ``config``, or its ``environment=`` (``label``), as ``version``: the code's components
    plus that setting, so explain shows its change."""
    digest = hashlib.sha256(config.encode()).hexdigest()[:16]
    components = {**manifest.components, label: ManifestComponent(digest, config)}
    kept = _MANIFESTS[version] = VersionManifest(
        version=version,
        entry=manifest.entry,
        components=dict(sorted(components.items())),
        unhashable=manifest.unhashable,
    )
    return kept
