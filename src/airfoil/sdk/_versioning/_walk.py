"""Walk the code a function reaches and collect what its version hashes.

Starting from a function, the walker follows every name its code (and its nested code) reads
from its module's globals or its closure, and every attribute of a project-local module it
reads (``pkg.sub.f``: ``pkg``, then ``pkg.sub``, then ``f``). What it reaches:

- a project-local function (also behind a task, ``functools.partial``, ``lru_cache`` or any
  ``__wrapped__``, a bound method): its normalised code, walked in turn;
- a project-local class (also as the type of an instance, a base, an enum, or named in an
  annotation: a parameter's, a return's, a field's): its normalised
  code without method bodies, each method walked as a function, its class attributes as
  constants;
- an instance of a project-local class: its class, and its state (``vars``/slots) canonically;
- a constant with a canonical form (numbers, strings, containers, frozen dataclasses, enums,
  ...): its canonical text;
- library code (the standard library, Airfoil, anything under site-packages or dist-packages):
  only its name, since the installed package versions it; source outside the project root
  that is no library (a sibling package on ``PYTHONPATH``, an editable install) is walked as
  project code;
- anything else (a library object with no canonical form): recorded as *unhashable*.

Every global lookup is remembered (namespace, name, object found) so that a later rebinding of
any of them (``importlib.reload``) is seen as a stale version.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import os
import sys
import types
import typing
from typing import Any

from airfoil.sdk._versioning._canonical import VALUE_TYPES, Unhashable, canonical
from airfoil.sdk._versioning._imports import (
    file_imports,
    imported_modules,
    module_file,
    normalised_file,
)
from airfoil.sdk._versioning._source import normalised

__all__ = ["MISSING", "Walker", "import_root"]

MISSING: Any = object()
#: Library objects a task may read without it being a cache hazard: no warning for these.
_HARMLESS_MODULES = ("logging", "threading", "typing", "contextvars", "weakref", "_thread")
_TEXT_LIMIT = 4000
#: Modules whose classes in an input's annotation are not searched for project subclasses.
_NO_SUBCLASS_WALK = frozenset({"builtins", "typing", "abc", "enum", "collections.abc"})
#: Directories installed packages live in: code under them is versioned by its package.
_INSTALLED_DIRS = frozenset({"site-packages", "dist-packages"})
#: A module's attributes that say which module it is and where its file lies: hashed as the
#: file's place in the project, never as the absolute path or the import name.
_MODULE_IDENTITY = frozenset(
    {"__name__", "__file__", "__cached__", "__spec__", "__loader__", "__package__", "__path__"}
)


class Walker:
    """Collects the components of one code version."""

    def __init__(self, root: str, excluded: tuple[str, ...]) -> None:
        self.root = root.rstrip(os.sep) + os.sep
        self.excluded = excluded
        self.components: dict[str, tuple[str, str]] = {}
        self.unhashable: dict[str, str] = {}
        self.watch: list[tuple[dict[str, Any], str, Any]] = []
        self._tokens: dict[int, str] = {}
        self._labels: dict[str, int] = {}  # how many objects took each label
        self._module_names: dict[int, set[str]] = {}  # the names taken in, by module
        self._imports_seen: set[str] = set()  # modules imported inside function bodies
        self._foreign: set[str] = set()  # top-level packages found outside the project
        self._alive: list[Any] = []  # keeps ids unique while the walk lasts
        self._functions: list[tuple[Any, str]] = []  # the project functions walked, tokens
        self._read: set[str] = set()  # every name the walked code reads
        self._outside: dict[str, bool] = {}  # files outside the root: source, or installed
        self._subclasses: dict[int, list[type]] = {}  # an input class's project subclasses
        self._library_classes: dict[int, type] = {}  # library classes in annotations
        self._members_seen: set[tuple[int, str]] = set()

    # --- where things live -------------------------------------------------------------

    def _file_of_module(self, module: types.ModuleType | None) -> str | None:
        if module is None:
            return None
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file:
            return os.path.realpath(file)
        if module.__name__ == "__main__":  # an interactive session or a notebook
            return ""
        for entry in getattr(module, "__path__", None) or ():  # a namespace package
            return os.path.realpath(str(entry)) + os.sep
        return None

    def _local_file(self, file: str | None) -> bool:
        """Whether code in ``file`` is hashed by its content: a file under the project root,
        or *source outside it* (a sibling package on ``PYTHONPATH``, an editable install):
        any file outside the standard library, Airfoil and where installed packages live
        (a ``site-packages``/``dist-packages`` directory, or an import path holding
        ``*.dist-info`` directories, as ``pip install --target`` makes)."""
        if file is None:
            return False
        if file == "":
            return True
        if file.startswith(self.excluded):
            return False
        if file.startswith(self.root):
            return True
        known = self._outside.get(file)
        if known is None:
            parts = set(file.split(os.sep))
            known = (
                not (parts & _INSTALLED_DIRS)
                and os.path.exists(file.rstrip(os.sep))
                and not self._installed_target(file)
            )
            self._outside[file] = known
        return known

    def _installed_target(self, file: str) -> bool:
        """Whether ``file`` lies under an import path that packages were installed into
        (one holding ``*.dist-info`` directories): a library, even outside site-packages."""
        return any(
            file.startswith(path.rstrip(os.sep) + os.sep) and _install_target(path)
            for path in {os.path.realpath(entry or os.getcwd()) for entry in sys.path}
        )

    def is_local(self, obj: Any) -> bool:
        """Whether ``obj`` (a module, function or class) is defined under the project root."""
        if isinstance(obj, types.ModuleType):
            return self._local_file(self._file_of_module(obj))
        module = sys.modules.get(getattr(obj, "__module__", None) or "")
        return self._local_file(self._file_of_module(module))

    def where(self, obj: Any) -> str:
        """The file (relative to the project root) that defines ``obj``: never ``__main__``."""
        module = obj if isinstance(obj, types.ModuleType) else None
        if module is None:
            module = sys.modules.get(getattr(obj, "__module__", None) or "")
        file = self._file_of_module(module)
        if file:
            return self.relative(file, getattr(module, "__name__", ""))
        if file == "":
            return "<interactive>"
        return getattr(module, "__name__", "?")

    def label(self, obj: Any) -> str:
        return f"{self.where(obj)}:{getattr(obj, '__qualname__', type(obj).__name__)}"

    def _new_token(self, obj: Any) -> str:
        """A token for code met for the first time, unique in this walk.

        Two objects share a label when they share a file and a qualified name: two lambdas,
        two functions or classes made by one factory (``make.<locals>.f``). Each still needs
        its own component, or the last one walked would hide the others' code and closures
        (an edit to the first lambda would keep the version). The second gets ``#2``, in the
        walk's order, which the code fixes.
        """
        label = self.label(obj)
        seen = self._labels.get(label, 0) + 1
        self._labels[label] = seen
        return label if seen == 1 else f"{label} #{seen}"

    # --- code ---------------------------------------------------------------------------

    def function(self, fn: Any) -> str:
        """Walk a project-local function; its token."""
        known = self._tokens.get(id(fn))
        if known is not None:
            return known
        token = self._new_token(fn)
        self._tokens[id(fn)] = token
        self._alive.append(fn)
        glb: dict[str, Any] = getattr(fn, "__globals__", {})
        norm = normalised(fn, lambda root: _is_airfoil(glb.get(root, MISSING)))
        self.components[token] = (norm.digest, norm.text[:_TEXT_LIMIT])
        code = fn.__code__
        names = _code_names(code)
        self._functions.append((fn, token))
        self._read |= names
        for name in sorted(names | set(norm.decorator_names)):
            self._global(glb, name, names, token)
        if fn.__closure__:
            for var, cell in zip(code.co_freevars, fn.__closure__, strict=False):
                try:
                    value = cell.cell_contents
                except ValueError:  # not yet assigned
                    continue
                self.consider(value, f"{token}.<{var}>", names)
        for i, default in enumerate(fn.__defaults__ or ()):
            self.consider(default, f"{token}.<default {i}>", names)
        for key, default in (fn.__kwdefaults__ or {}).items():
            self.consider(default, f"{token}.<default {key}>", names)
        self._annotated(fn)
        module_name = str(glb.get("__name__") or "")
        package = glb.get("__package__") or module_name.rpartition(".")[0]
        try:
            imported = sorted(set(imported_modules(code, str(package))))
        except Exception as exc:  # bytecode this reader does not know: said, never fatal
            self.unhashable[f"{token}.<imports>"] = f"could not be read ({type(exc).__name__})"
            imported = []
        for name in imported:
            self._imported_file(name)
        return token

    def function_attributes(self) -> None:
        """Take in the attributes set on the walked functions (``h.factor = 3``) that the
        walked code reads by name: they are not in the function's code. Called once the walk
        is done, so an attribute read by code walked after its function is seen too."""
        done: set[int] = set()
        while len(done) < len(self._functions):
            for fn, token in list(self._functions):
                if id(fn) in done:
                    continue
                done.add(id(fn))
                attrs = getattr(fn, "__dict__", None) or {}
                for key in sorted(k for k in attrs if k in self._read and not k.startswith("__")):
                    self.consider(attrs[key], f"{token}.{key}", self._read)

    def finish(self) -> None:
        """Take in what the walked code reaches by attribute name only, once the walk is
        done (each pass can walk more code, which reads more names): the attributes set on
        walked functions, and the members the project added to library classes named in
        annotations."""
        while True:
            before = (len(self._functions), len(self._read))
            self.function_attributes()
            self._library_members()
            if (len(self._functions), len(self._read)) == before:
                return

    def _library_members(self) -> None:
        """Members that project code added to a library class named in an annotation
        (``def t(df: pd.DataFrame)``) and that the walked code reads by name: a method
        patched in (``pd.DataFrame.doubled = doubled``), a registered pandas accessor
        (``@pd.api.extensions.register_dataframe_accessor("geo")``, read as ``df.geo``).
        Their code runs on the value although no global names it."""
        for cls in list(self._library_classes.values()):
            for name in sorted(self._read):
                if (id(cls), name) in self._members_seen:
                    continue
                self._members_seen.add((id(cls), name))
                member = _class_member(cls, name)
                if member is MISSING or _harmless(member):
                    continue
                label = f"<{cls.__module__}.{cls.__qualname__}.{name}>"
                if self.is_local(member) and (inspect.isclass(member) or callable(member)):
                    self.consider(member, label, self._read)
                    continue
                try:  # a library object holding project code: an accessor's class
                    held = sorted(vars(member).items())
                except TypeError:  # no __dict__
                    continue
                for key, value in held:
                    if (inspect.isclass(value) or inspect.isfunction(value)) and self.is_local(
                        value
                    ):
                        self.consider(value, f"{label}.{key}", self._read)

    def _imported_file(self, name: str) -> None:
        """Take in a project-local module imported inside a function body, by its file, and
        the project-local modules that file imports (see :mod:`._imports`)."""
        top = name.partition(".")[0]
        if name in self._imports_seen or top in self._foreign:
            return
        self._imports_seen.add(name)
        file = module_file(name)
        if file is None or not self.is_local_path(file):
            if name == top and file is not None:
                self._foreign.add(top)  # a library: none of its submodules is looked for
            return
        rel = self.relative(file, name)
        try:
            text, tree = normalised_file(file)
        except (OSError, ValueError, RecursionError) as exc:  # unreadable: said, never fatal
            self.unhashable[f"{rel}:<file>"] = f"could not be read ({type(exc).__name__}: {exc})"
            return
        self.components[f"{rel}:<file>"] = (_digest(text), text[:_TEXT_LIMIT])
        if tree is not None:
            package = name if os.path.basename(file) == "__init__.py" else name.rpartition(".")[0]
            for imported in sorted(set(file_imports(tree, package))):
                self._imported_file(imported)

    def klass(self, cls: type) -> str:
        """Walk a project-local class; its token."""
        known = self._tokens.get(id(cls))
        if known is not None:
            return known
        token = self._new_token(cls)
        self._tokens[id(cls)] = token
        self._alive.append(cls)
        module = sys.modules.get(cls.__module__)
        glb: dict[str, Any] = vars(module) if module is not None else {}
        norm = normalised(cls, lambda root: _is_airfoil(glb.get(root, MISSING)))
        self.components[token] = (norm.digest, norm.text[:_TEXT_LIMIT])
        for root in norm.decorator_names:
            self._global(glb, root, set(), token)
        for base in cls.__mro__[1:]:
            if base is not object and self.is_local(base):
                self.klass(base)
        if self.is_local(type(cls)):  # a metaclass: its methods run on the class (C.make())
            self.klass(type(cls))
        self._annotated(cls)
        for field, default in _field_defaults(cls):
            self.consider(default, f"{token}.<{field}>", set())
        own_file = inspect.getfile(module) if module is not None and _has_file(module) else None
        for name, member in sorted(vars(cls).items()):
            if isinstance(member, functools.partialmethod):  # its bound arguments
                self.consider((member.args, member.keywords), f"{token}.{name}", set())
            for func in _functions_of(member):
                code = getattr(func, "__code__", None)
                if code is None:
                    continue
                if own_file is not None and not self._method_code(code, own_file):
                    continue  # generated (dataclass __init__, ...): the class source covers it
                self.function(func)
            if (
                not name.startswith(("__", "_abc_"))
                and not _functions_of(member)
                # a library's descriptors (slots, properties...); a project one is an instance
                and not (hasattr(type(member), "__get__") and not self.is_local(type(member)))
            ):
                self.consider(member, f"{token}.{name}", set())
        return token

    def _annotated(self, obj: Any) -> None:
        """Walk the project-local classes named in a function's parameter and return types
        (or a class's field types), inside ``list[...]``, ``Optional[...]`` and the like.

        A value of such a type reaches the code without any name being read: a task's input
        is built from its annotation (``def t(cfg: Config): return cfg.compute()``), and a
        dataclass's field is built from the field's type. So the class's code is part of what
        the code computes: an edit to ``Config.compute`` changes the version.
        """
        for key, hint in _hints(obj):
            for named in _classes_in(hint):
                if key != "return" and inspect.isclass(named):
                    for sub in self._local_subclasses(named):
                        self.klass(sub)
                library = inspect.isclass(named) and not self.is_local(named)
                if library and named.__module__ not in _NO_SUBCLASS_WALK:
                    self._library_classes.setdefault(id(named), named)
                if not self.is_local(named):
                    continue
                if inspect.isclass(named):
                    self.klass(named)
                else:  # a validator in Annotated[int, AfterValidator(f)]: it runs on the value
                    self.function(named)

    def _local_subclasses(self, cls: type) -> list[type]:
        """The project-local subclasses (at any depth) of a class named in an input's
        annotation, in a fixed order.

        A value arrives as an instance of the annotation's class *or of any subclass*: a
        pickled ``Linear`` where the task says ``m: Model`` (or ``nn.Module``), whose
        ``predict`` runs in the task although no name in the task reads ``Linear``. Its code
        is part of what the task computes, so an edit to it is a miss, not a hit on the
        result of the old code (the pickle's bytes hold no code, so the input's hash keeps).
        Builtin classes are passed over (``int`` has every project ``IntEnum`` below it,
        ``object`` every class): their values travel by their converters, never by pickle.
        """
        if cls.__module__ in _NO_SUBCLASS_WALK:
            return []
        known = self._subclasses.get(id(cls))
        if known is not None:
            return known
        found: dict[int, type] = {}
        todo: list[type] = [cls]
        while todo:
            subs: list[type] = type.__subclasses__(todo.pop())
            for sub in subs:
                if id(sub) not in found:
                    found[id(sub)] = sub
                    todo.append(sub)
        local = [sub for sub in found.values() if self.is_local(sub)]
        known = sorted(local, key=lambda sub: (sub.__module__, sub.__qualname__))
        self._subclasses[id(cls)] = known
        return known

    def _method_code(self, code: types.CodeType, own_file: str) -> bool:
        """Whether a function found in a class body is code to walk: written in the class's
        file, or in another project file (``apply = helpers.scale``, a mixin's function
        assigned in the body: its code is not in the class's source). Not: code generated
        from a string (a dataclass's ``__init__``), nor a library's function."""
        file = code.co_filename
        if os.path.realpath(file) == os.path.realpath(own_file):
            return True
        return not file.startswith("<") and os.path.isfile(file) and self.is_local_path(file)

    def _global(self, glb: dict[str, Any], name: str, names: set[str], owner: str) -> None:
        value = glb.get(name, MISSING)
        self.watch.append((glb, name, value))
        if value is MISSING:
            return
        file = glb.get("__file__")
        module_name = str(glb.get("__name__") or "")
        where = (
            self.relative(file, module_name)
            if isinstance(file, str) and self.is_local_path(file)
            else owner.split(":", 1)[0]
        )
        if name in _MODULE_IDENTITY:
            self._module_identity(name, value, where, module_name)
            return
        self.consider(value, f"{where}:{name}", names)

    def relative(self, file: str, module_name: str) -> str:
        """A hashed file's label: its path relative to the project root, with ``/``; for
        source outside the root, its path relative to the directory its top-level package
        is imported from (``sibling/helpers.py`` for module ``sibling.helpers``), never the
        absolute path, so machines with the same code in other places agree."""
        path = os.path.realpath(file)
        if not path.startswith(self.root):
            return os.path.relpath(path, import_root(path, module_name)).replace(os.sep, "/")
        return os.path.relpath(path.rstrip(os.sep), self.root).replace(os.sep, "/")

    def _module_identity(self, name: str, value: Any, where: str, module_name: str) -> None:
        """A module's own ``__name__``, ``__file__``... read by the code (``f.__name__`` on a
        function reads the name too): where the module sits in the project, never its
        absolute path or the name it was imported under, so two checkouts, a server's
        worker and ``python flow.py`` beside ``airfoil run flow.py`` agree."""
        if name in ("__file__", "__cached__") and isinstance(value, str):
            local = self.is_local_path(value)
            text = f"<file {self.relative(value, module_name) if local else '?'}>"
        else:
            text = f"<module's {name}>"
        self.components[f"{where}:{name}"] = (_digest(text), text)

    def is_local_path(self, file: str) -> bool:
        return self._local_file(os.path.realpath(file))

    # --- values -------------------------------------------------------------------------

    def consider(self, value: Any, name: str, names: set[str]) -> None:
        """Take in a value the code reads under ``name``; never raises."""
        try:
            self._consider(value, name, names)
        except Exception as exc:  # an object that misbehaves when inspected: never fatal
            self.unhashable[name] = f"could not be inspected ({type(exc).__name__}: {exc})"

    def _consider(self, value: Any, name: str, names: set[str]) -> None:
        if isinstance(value, types.ModuleType):
            self._module(value, names)
            return
        try:
            text = canonical(value, name, self.reference)
        except Unhashable as exc:
            if not _harmless(value):
                self.unhashable[name] = exc.reason if exc.path == name else str(exc)
            return
        if _is_code(value) and text == self._tokens.get(id(_unwrap_code(value))):
            return  # its own component already
        key = name
        if key in self.components and self.components[key][0] != _digest(text):
            key = f"{name} (binding)"  # a wrapper bound to the name of the function it wraps
        self.components[key] = (_digest(text), text[:_TEXT_LIMIT])

    def _module(self, module: types.ModuleType, names: set[str]) -> None:
        """Take in the attributes of a project-local module that the reading code names.

        Each reader brings its own names: a module read by the task (``m.f``) and by a helper
        (``m.g``) gives both, not only those of whichever reader the walk met first.
        """
        if not self.is_local(module):
            return
        if id(module) not in self._tokens:
            self._tokens[id(module)] = f"module {module.__name__}"
            self._alive.append(module)
        done = self._module_names.setdefault(id(module), set())
        ns = vars(module)
        for attr in sorted(names - done):
            done.add(attr)
            value = ns.get(attr, MISSING)
            if value is MISSING:
                hook = ns.get("__getattr__", MISSING)  # PEP 562: the module computes it
                if hook is not MISSING and attr not in _MODULE_IDENTITY:
                    self.consider(hook, f"{self.where(module)}:__getattr__", names)
                continue
            self.watch.append((ns, attr, value))
            if attr in _MODULE_IDENTITY:
                self._module_identity(attr, value, self.where(module), module.__name__)
                continue
            self.consider(value, f"{self.where(module)}:{attr}", names)

    def reference(self, value: Any, path: str) -> str | None:
        """The token of code (or an instance of project-local code) inside a constant."""
        inner = _airfoil_fn(value)
        if inner is not None:
            return self.function(inner) if inspect.isfunction(inner) else self.label(inner)
        impls = _dispatched(value)
        if impls is not None and self.is_local(value):
            # functools.singledispatch: the wrapper's code is functools'; what runs is the
            # base function or one registered per type, each walked as a function.
            refs = [f"{t}={self.reference(f, path) or _lib(f)}" for t, f in impls]
            return f"singledispatch({','.join(refs)})"
        if inspect.isfunction(value):
            return self.function(value) if self.is_local(value) else _lib(value)
        if inspect.isclass(value):
            return self.klass(value) if self.is_local(value) else _lib(value)
        if isinstance(value, types.ModuleType):
            return f"module {value.__name__}"
        if isinstance(value, functools.partial):
            args = canonical(value.args, f"{path}.args", self.reference)
            kwargs = canonical(value.keywords, f"{path}.keywords", self.reference)
            return (
                f"partial({self.reference(value.func, path) or _lib(value.func)},{args},{kwargs})"
            )
        if isinstance(value, types.MethodType):
            owner = self.reference(value.__self__, path)
            if owner is None:
                owner = canonical(value.__self__, f"{path}.__self__", self.reference)
            return f"{owner}.{value.__func__.__name__}->{self.reference(value.__func__, path)}"
        if isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType)):
            return f"builtin {getattr(value, '__qualname__', repr(value))}"
        wrapped = _wrapped(value)
        if wrapped is not None:
            return f"{type(value).__qualname__}({self.reference(wrapped, path)})"
        if isinstance(value, enum.Enum) or not self.is_local(type(value)):
            return None
        # An instance of a project-local class: its class's code and its state.
        cls_token = self.klass(type(value))
        return f"{cls_token}{{{canonical(_state(value), path, self.reference)}}}"


_TARGETS: dict[str, bool] = {}


def _install_target(path: str) -> bool:
    """Whether an import path holds ``*.dist-info`` directories (read once per process)."""
    known = _TARGETS.get(path)
    if known is None:
        try:
            known = any(name.endswith(".dist-info") for name in os.listdir(path))
        except OSError:  # a zip, or gone
            known = False
        _TARGETS[path] = known
    return known


def import_root(file: str, module_name: str) -> str:
    """The directory a module is imported from: ``/a`` for ``/a/pkg/sub.py`` as ``pkg.sub``
    (and for ``/a/pkg/__init__.py`` as ``pkg``, or a namespace package ``/a/pkg/``)."""
    path = os.path.dirname(file.rstrip(os.sep))
    depth = module_name.count(".")
    if os.path.basename(file).startswith("__init__."):
        depth += 1
    for _ in range(depth):
        path = os.path.dirname(path)
    return path


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _hints(obj: Any) -> list[tuple[str, Any]]:
    """The resolved annotations of a function or class, by name (``return``: a function's
    return type); those that do not resolve (a name imported only under ``TYPE_CHECKING``)
    are left out, each on its own."""
    try:
        return list(typing.get_type_hints(obj, include_extras=True).items())
    except Exception:  # one name that does not resolve: take the others one by one
        pass
    raw = getattr(obj, "__annotations__", None)
    if not isinstance(raw, dict):
        return []
    glb = getattr(obj, "__globals__", None)
    if glb is None:
        module = sys.modules.get(getattr(obj, "__module__", None) or "")
        glb = vars(module) if module is not None else {}
    hints: list[tuple[str, Any]] = []
    for key, value in raw.items():
        if isinstance(value, str):
            try:
                value = eval(value, dict(glb), dict(vars(obj)) if inspect.isclass(obj) else {})
            except Exception:  # an annotation that does not resolve here: nothing to walk
                continue
        hints.append((str(key), value))
    return hints


def _classes_in(hint: Any, depth: int = 0) -> list[Any]:
    """The classes a type hint names: itself, and those in its arguments (``list[C]``,
    ``C | None``, ``Annotated[C, ...]``, ``dict[str, C]``); and the functions in an
    ``Annotated``'s metadata, bare or as a validator's ``func`` (pydantic's
    ``AfterValidator(f)``)."""
    if depth > 8:
        return []
    found: list[Any] = []
    origin = typing.get_origin(hint)
    if inspect.isclass(hint) and origin is None:
        found.append(hint)
    elif inspect.isfunction(hint) or inspect.isfunction(_func_of(hint)):
        found.append(hint if inspect.isfunction(hint) else _func_of(hint))
    for arg in typing.get_args(hint):
        found += _classes_in(arg, depth + 1)
    return found


def _func_of(obj: Any) -> Any:
    try:
        return getattr(obj, "func", None)
    except Exception:  # an object whose attributes misbehave: no validator to walk
        return None


def _class_member(cls: type, name: str) -> Any:
    """``name`` in the namespace of ``cls`` or of a class it derives from, never computed
    (no descriptor or ``__getattr__`` runs); MISSING when none holds it."""
    for base in cls.__mro__:
        try:
            found = vars(base).get(name, MISSING)
        except TypeError:  # a class without a namespace mapping
            continue
        if found is not MISSING:
            return found
    return MISSING


def _has_file(module: types.ModuleType) -> bool:
    return bool(getattr(module, "__file__", None))


def _dispatched(value: Any) -> list[tuple[str, Any]] | None:
    """A ``functools.singledispatch`` function's implementations, by the name of the type
    each is registered for (``object``: the base function); None for anything else."""
    if not (callable(value) and callable(getattr(value, "dispatch", None))):
        return None
    registry: Any = getattr(value, "registry", None)
    if registry is None or not hasattr(registry, "items"):
        return None
    impls: list[tuple[str, Any]] = []
    for cls, impl in registry.items():
        if isinstance(impl, (staticmethod, classmethod)):
            impl = impl.__func__
        name = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"
        impls.append((name, impl))
    return sorted(impls, key=lambda pair: pair[0])


def _functions_of(member: Any) -> list[Any]:
    """The functions of a class body's member, each with the functions it wraps: a
    library decorator on a method (``functools.cache``, ``contextlib.contextmanager``)
    leaves the library's wrapper in the class, and the method's own code behind
    ``__wrapped__`` (the class's normalised text keeps no method body)."""
    if isinstance(member, functools.singledispatchmethod):
        impls = _dispatched(member.dispatcher) or []
        return [f for f in dict.fromkeys(f for _t, f in impls) if inspect.isfunction(f)]
    if isinstance(member, functools.partialmethod):  # triple = partialmethod(scale, k=3)
        member = member.func
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, property):
        outer = [f for f in (member.fget, member.fset, member.fdel) if f is not None]
    elif isinstance(member, functools.cached_property):
        outer = [member.func]
    else:
        outer = [member]
    found: list[Any] = []
    for fn in outer:
        for _ in range(32):  # a chain of wrappers, never a cycle
            if inspect.isfunction(fn) and fn not in found:
                found.append(fn)
            fn = _wrapped(fn)
            if fn is None:
                break
    return found


def _field_defaults(cls: type) -> list[tuple[str, Any]]:
    """A class's field defaults that its source and class attributes do not hold: a
    dataclass's ``default_factory``, a pydantic model's defaults and factories (pydantic
    takes them off the class), an attrs class's defaults, factories, converters and
    validators. An instance built gets them without the code reading any name."""
    found: list[tuple[str, Any]] = []
    for f in (getattr(cls, "__dataclass_fields__", None) or {}).values():
        if callable(getattr(f, "default_factory", None)):
            found.append((f"{f.name} default_factory", f.default_factory))
        default = getattr(f, "default", dataclasses.MISSING)
        if default is not dataclasses.MISSING and _class_member(cls, f.name) is not default:
            # no class attribute holds it (slots=True): ``k: int = consts.K``'s value
            found.append((f"{f.name} default", default))
    pydantic_fields = getattr(cls, "__pydantic_fields__", None)
    for name, info in (pydantic_fields if isinstance(pydantic_fields, dict) else {}).items():
        default = getattr(info, "default", None)  # PydanticUndefined when there is none
        if type(default).__name__ != "PydanticUndefinedType":
            found.append((f"{name} default", default))
        if callable(getattr(info, "default_factory", None)):
            found.append((f"{name} default_factory", info.default_factory))
    for attribute in getattr(cls, "__attrs_attrs__", None) or ():
        given: Any = getattr(attribute, "default", None)  # NOTHING, a Factory or a value
        if type(given).__name__ == "Factory":
            found.append((f"{attribute.name} default_factory", given.factory))
        elif type(given).__name__ != "_Nothing":
            found.append((f"{attribute.name} default", given))
        for hook in ("converter", "validator"):  # functions only: attrs' own are objects
            if inspect.isfunction(getattr(attribute, hook, None)):
                found.append((f"{attribute.name} {hook}", getattr(attribute, hook)))
    return found


def _wrapped(value: Any) -> Any:
    try:
        wrapped = vars(value).get("__wrapped__")
    except TypeError:  # no __dict__
        return None
    return wrapped if callable(wrapped) else None


def _airfoil_fn(value: Any) -> Any:
    """The function of a task or workflow (held in its ``__dict__``), else None; read without
    ``getattr``, which would run a config object's ``__getattr__`` (one that answers every
    name, as attribute-access dicts do, and may store what it answered in the object)."""
    try:
        return vars(value).get("__airfoil_fn__")
    except TypeError:  # no __dict__
        return None


def _is_code(value: Any) -> bool:
    return inspect.isfunction(value) or inspect.isclass(value) or _airfoil_fn(value) is not None


def _unwrap_code(value: Any) -> Any:
    inner = _airfoil_fn(value)
    return value if inner is None else inner


def _lib(obj: Any) -> str:
    return f"lib {getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _is_airfoil(obj: Any) -> bool:
    if obj is MISSING:
        return False
    module = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", "")
    return isinstance(module, str) and (module == "airfoil" or module.startswith("airfoil."))


def _harmless(value: Any) -> bool:
    module = type(value).__module__ or ""
    if type(value) is object:  # a sentinel
        return True
    root = module.split(".", 1)[0]
    return root in _HARMLESS_MODULES or root == "airfoil"


def _state(obj: Any) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()) or ():
            if (
                isinstance(slot, str)
                and hasattr(obj, slot)
                and slot not in ("__dict__", "__weakref__")
            ):
                state[slot] = getattr(obj, slot)
    state.update(getattr(obj, "__dict__", {}))
    # A project subclass of a value type (``class Meters(float)``, ``class Tag(str)``, of
    # ``date``): its value is in neither slots nor __dict__; ``Meters(3.0)`` to ``Meters(4.0)``
    # kept the version before 2026-12-07.
    for base in type(obj).__mro__:
        if base in VALUE_TYPES:
            state["<value>"] = base.__repr__(obj)  # type: ignore[call-arg]
            break
    # A project subclass of a builtin container (a ``dict`` with attribute access, as
    # config objects are): its items are its state too, though neither slots nor __dict__.
    if isinstance(obj, dict):
        state["<items>"] = dict.copy(obj)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        state["<items>"] = list(obj) if isinstance(obj, (list, tuple)) else frozenset(obj)
    return state
