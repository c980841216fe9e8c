"""Read-only module proxies and the import hook.

The AI's code never holds a real module. ``import math`` binds a :class:`ModuleProxy` that
exposes the module's public names only (its ``__all__`` when it has one) and filters every value:

* a submodule or another module becomes a proxy only if the policy allows that exact module
  name, otherwise it is hidden (``json.codecs``, ``statistics.sys``, ``re.functools``...);
* only an allow-list of values is shown (:func:`is_exposable`): functions and classes owned by
  an allowed module (or its C accelerator, :data:`C_ACCELERATORS`), builtins only as the
  sandbox itself hands them out, and immutable values; any other object a module holds is
  shared host state and is hidden (``open``/``eval`` re-exported, a C function of ``posix`` or
  ``sys``, a module-level ``deque``, a method of a process-wide instance...);
* functions that look attributes up by a string (``operator.attrgetter``/``methodcaller``) and
  the ``string.Formatter``/``Template`` machinery are hidden; ``string`` exposes its constants
  only;
* process-wide state is never shared: each namespace gets its own ``random`` generator and
  its own copies of the ``decimal`` contexts (:data:`PRIVATE_STATE_TYPES`).

Modules that reach the file system, processes, the interpreter or that evaluate source text are
refused even when a policy lists them (:data:`NEVER_IMPORTABLE`): fail closed.

C code imports lazily too: ``datetime.date.today()`` imports ``time`` through CPython's
``PyImport_Import``, which calls the ``__import__`` of the *current frame's* builtins (ours)
as ``__import__(name, globals, globals, [], 0)``, discards the result and reads the module from
``sys.modules``. The hook serves exactly that call shape (an empty ``list`` fromlist, which the
import statement never produces: it passes ``None`` or a tuple of constants, and the code cannot
name ``__import__``) for the few modules of :data:`C_LEVEL_IMPORTS`, and returns ``None``: the
module is imported, nothing is handed out. :data:`PRELOAD_MODULES` lists what a worker must
import before its lockdown, when it can no longer read the interpreter's files.
"""

from __future__ import annotations

import builtins
import calendar
import datetime
import decimal
import enum
import functools
import importlib
import random
import sys
import types
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from ai_sandbox.exceptions import SecurityError
from ai_sandbox.executor.builtin_names import STATIC_BUILTINS
from ai_sandbox.executor.context import OutputStream
from ai_sandbox.executor.importable import NEVER_IMPORTABLE, never_importable_reason
from ai_sandbox.executor.replacements import replacements

__all__ = [
    "C_ACCELERATORS",
    "C_LEVEL_IMPORTS",
    "NEVER_IMPORTABLE",
    "PRELOAD_MODULES",
    "PRIVATE_STATE_TYPES",
    "ModuleProxy",
    "is_dangerous_callable",
    "is_exposable",
    "make_import",
    "owner_allowed",
    "private_proxy",
    "proxy_for",
]

#: Modules that C code of the allowed modules imports through ``PyImport_Import`` while the AI's
#: code is the calling frame (found by calling every public function and method of each default
#: module with typical arguments and recording the hook's calls; CPython 3.11):
#: ``_datetime`` -> ``time`` (strftime, today, ``format()``) and ``_strptime`` (strptime);
#: ``_sre`` -> ``re`` (templates in ``sub``/``expand``, also for patterns ``textwrap`` hands
#: out); the ``unicodedata`` capsule (the ``namereplace`` error handler, ``\N{...}`` escapes).
C_LEVEL_IMPORTS: frozenset[str] = frozenset({"_strptime", "re", "time", "unicodedata"})

#: Every module a worker must have imported before its lockdown for the default allow-list to
#: work fully (on top of the policy's ``allowed_imports``): the default modules, what their C
#: parts import (:data:`C_LEVEL_IMPORTS`), what their Python code imports inside functions
#: (``collections`` -> ``heapq``, ``copy``; ``re``/``locale`` -> ``warnings``; ``re`` ->
#: ``unicodedata``; ``fractions`` -> ``decimal``) and the codecs ``str.encode`` and
#: ``bytes.decode`` look up lazily (``encodings.idna`` needs ``stringprep``).
PRELOAD_MODULES: tuple[str, ...] = (
    # the default allow-list (ai_sandbox.policy.DEFAULT_ALLOWED_IMPORTS; a test pins it)
    "abc", "array", "base64", "bisect", "calendar", "cmath", "collections",
    "collections.abc", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal",
    "difflib", "enum", "fractions", "functools", "hashlib", "heapq", "itertools", "json",
    "math", "numbers", "operator", "pprint", "queue", "random", "re", "statistics", "string",
    "textwrap", "time", "typing", "unicodedata", "uuid", "zlib",
    # imported lazily by C code (C_LEVEL_IMPORTS) and by Python code inside functions
    "_strptime", "warnings",
    # codecs
    "encodings.ascii", "encodings.latin_1", "encodings.iso8859_2", "encodings.iso8859_15",
    "encodings.cp1251", "encodings.cp1252", "encodings.cp437", "encodings.cp850",
    "encodings.mac_roman", "encodings.koi8_r",
    "encodings.utf_8", "encodings.utf_8_sig", "encodings.utf_7",
    "encodings.utf_16", "encodings.utf_16_le", "encodings.utf_16_be",
    "encodings.utf_32", "encodings.utf_32_le", "encodings.utf_32_be",
    "encodings.unicode_escape", "encodings.raw_unicode_escape",
    "stringprep", "encodings.idna", "encodings.punycode",
    "encodings.shift_jis", "encodings.cp932", "encodings.euc_jp", "encodings.gbk",
    "encodings.gb2312", "encodings.gb18030", "encodings.big5", "encodings.euc_kr",
)  # fmt: skip

#: Names hidden from a module proxy even when public: string lookups and code generation.
_HIDDEN_NAMES: Mapping[str, frozenset[str]] = types.MappingProxyType(
    {
        "operator": frozenset({"attrgetter", "methodcaller", "getitem", "setitem", "delitem"}),
        # update_wrapper/wraps copy (and `.update`) attributes named by the caller with the
        # real getattr: `updated=("__globals__",)` copied a host module's builtins
        "functools": frozenset(
            {"singledispatch", "singledispatchmethod", "update_wrapper", "wraps"}
        ),
        "string": frozenset({"Formatter", "Template"}),
        # global_enum writes an enum's members into sys.modules[cls.__module__], and the
        # functional API lets the code choose that module (any loaded module, ours included)
        # (ReprEnum: a member-less base whose functional API is not checked; replacements)
        "enum": frozenset(
            {"global_enum", "global_enum_repr", "global_flag_repr", "global_str", "ReprEnum"}
        ),
        # a file's digest reads a file object's buffer directly
        "hashlib": frozenset({"file_digest"}),
        # the process's time zone and clocks are process-wide state
        "time": frozenset({"tzset", "clock_settime", "clock_settime_ns", "pthread_getcpuclockid"}),
        # node lookups run subprocesses or read /sys
        "uuid": frozenset({"uuid1", "getnode"}),
        # dialects and the field size limit are process-wide settings
        "csv": frozenset({"register_dialect", "unregister_dialect", "field_size_limit"}),
        # reveal_type prints to the real stderr; the overload registry is process-wide
        "typing": frozenset({"reveal_type", "get_overloads", "clear_overloads"}),
        # print to the interpreter's real stdout, or read the command line
        "calendar": frozenset(
            {
                "prcal",
                "prmonth",
                "prweek",
                "main",
                "LocaleTextCalendar",
                "LocaleHTMLCalendar",
                "different_locale",
            }
        ),
        "pprint": frozenset({"PrettyPrinter"}),
        # redirect_* swap the process's sys.stdout/stderr; chdir changes its directory
        "contextlib": frozenset({"redirect_stdout", "redirect_stderr", "chdir"}),
    }
)

#: C accelerator modules and the public module whose implementation they are: a C function or
#: class owned by one of them belongs to that module (``heapq.heappush`` is ``_heapq``'s).
C_ACCELERATORS: Mapping[str, str] = types.MappingProxyType(
    {
        "_bisect": "bisect", "_heapq": "heapq", "_json": "json", "_random": "random",
        "_sre": "re", "_collections": "collections", "_functools": "functools",
        "_operator": "operator", "_statistics": "statistics", "_datetime": "datetime",
        "_decimal": "decimal", "_struct": "struct", "_csv": "csv", "_hashlib": "hashlib",
        "_md5": "hashlib", "_sha1": "hashlib", "_sha256": "hashlib", "_sha512": "hashlib",
        "_sha3": "hashlib", "_blake2": "hashlib", "_locale": "locale", "_queue": "queue",
    }
)  # fmt: skip


def owner_allowed(module: Any, allowed: frozenset[str]) -> bool:
    """True when ``module`` (a module name) is an allowed module, a submodule of one, or the C
    accelerator of one (:data:`C_ACCELERATORS`), and never one of :data:`NEVER_IMPORTABLE`."""
    if type(module) is not str:
        return False
    name = C_ACCELERATORS.get(module, module)
    if _top(name) in NEVER_IMPORTABLE:
        return False
    while name:
        if name in allowed:
            return True
        name = name.rpartition(".")[0]
    return False


def is_dangerous_callable(value: Any, allowed: frozenset[str]) -> bool:
    """True for a C function the code may not hold: one owned by ``builtins`` that the sandbox
    does not hand out as this very object (:data:`STATIC_BUILTINS`), or one owned by a module
    that is not allowed (:func:`owner_allowed`: ``posix``, ``sys``, ``_io``, ``gc``...).

    An allow-list: the owner is the function's ``__self__`` (or its ``__module__`` when it has
    none). A C method bound to a type or an instance, or a static method of a type (no
    ``__self__``, no ``__module__``: ``str.maketrans``), is the API of an object the code
    already holds and is not judged here; module proxies expose no method of a host instance.
    """
    if type(value) is not types.BuiltinFunctionType:
        return False
    owner = value.__self__
    if owner is builtins:
        return STATIC_BUILTINS.get(value.__name__) is not value
    if isinstance(owner, types.ModuleType):
        return not owner_allowed(owner.__name__, allowed)
    module = getattr(value, "__module__", None)
    if owner is None and module is not None:
        return not owner_allowed(module, allowed)
    return False  # bound to a type or an instance, or a static method of a type


def _top(name: str) -> str:
    return name.partition(".")[0]


def is_importable(name: str, allowed: frozenset[str]) -> bool:
    """Exact allow-list match, never a module of :data:`NEVER_IMPORTABLE`, never private."""
    parts = name.split(".")
    if not name or any(not p.isidentifier() or p.startswith("_") for p in parts):
        return False
    return name in allowed and _top(name) not in NEVER_IMPORTABLE


class ModuleProxy:
    """A read-only view of a module's public names; never hands out a real module."""

    __slots__ = ("_ai_hidden", "_ai_label", "_ai_names")

    _ai_hidden: frozenset[str]
    _ai_label: str
    _ai_names: Mapping[str, Any]

    def __init__(
        self, label: str, names: Mapping[str, Any], hidden: frozenset[str] = frozenset()
    ) -> None:
        object.__setattr__(self, "_ai_label", label)
        object.__setattr__(self, "_ai_names", types.MappingProxyType(dict(names)))
        object.__setattr__(self, "_ai_hidden", hidden)

    def __getattr__(self, name: str) -> Any:
        # Reached only for names the class does not define. No ``__name__`` is answered: the
        # ``from m import x`` fallback would otherwise look a real module up in sys.modules.
        try:
            return self._ai_names[name]
        except KeyError:
            pass
        if name in self._ai_hidden:
            raise SecurityError(
                f"{self._ai_label}.{name} is not available in the sandbox: only the module's "
                "functions, classes and constants are exposed (no other modules, shared "
                "objects, system access or lookups by name)",
                rule="import",
            )
        raise AttributeError(f"module {self._ai_label!r} has no public attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"module {self._ai_label!r} is read-only in the sandbox")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"module {self._ai_label!r} is read-only in the sandbox")

    def __repr__(self) -> str:
        return f"<module {self._ai_label!r} (sandboxed)>"

    def __dir__(self) -> list[str]:
        return sorted(self._ai_names)

    def __copy__(self) -> ModuleProxy:
        return self  # immutable

    def __deepcopy__(self, memo: Any) -> ModuleProxy:
        return self


def _public_names(module: types.ModuleType) -> list[str]:
    exported = getattr(module, "__all__", None)
    if isinstance(exported, list | tuple):
        names = [n for n in exported if isinstance(n, str)]
    else:
        names = list(vars(module))
    return [n for n in names if n.isidentifier() and not n.startswith("_")]


#: Types of module-level objects that carry process-wide mutable state, and how a namespace
#: gets its own: ``random``'s functions are methods of one hidden ``Random`` shared by the whole
#: process (``random.seed(1)`` would make the host's random numbers predictable), and
#: ``decimal.DefaultContext`` is the template of every new thread's context. A namespace sees
#: its own fresh ``Random`` (seeded from the OS) and its own copies of the contexts; the
#: thread's current decimal context is isolated per run by ``runtime``. A test checks that no
#: other exposed value of an allowed module is bound to a host instance.
PRIVATE_STATE_TYPES: Mapping[type, Callable[[Any], Any]] = types.MappingProxyType(
    {
        # the code's own `random` (not a secret): a fresh generator seeded from the OS
        random.Random: lambda _shared: random.Random(),  # noqa: S311  # nosec B311
        random.SystemRandom: lambda _shared: random.SystemRandom(),
        decimal.Context: lambda shared: shared.copy(),
    }
)


def _private_state_owner(value: Any) -> Any:
    """The object carrying shared state that ``value`` is (or is a bound method of), or None."""
    if type(value) in PRIVATE_STATE_TYPES:
        return value
    owner = getattr(value, "__self__", None)
    if type(owner) in PRIVATE_STATE_TYPES:
        return owner
    return None


#: Exact types of immutable values a module may expose as attributes (``math.pi``,
#: ``datetime.MINYEAR``, ``datetime.UTC``, ``decimal.ROUND_UP``...).
_IMMUTABLE_TYPES: frozenset[type] = frozenset(
    {
        int, float, complex, str, bytes, bool, type(None),
        datetime.date, datetime.datetime, datetime.time, datetime.timedelta, datetime.timezone,
        decimal.Decimal, uuid.UUID,
        # calendar.day_name, month_name...: sequences of names computed on indexing
        type(calendar.day_name), type(calendar.month_name),
    }
)  # fmt: skip


def _immutable(value: Any, depth: int = 0) -> bool:
    """Immutable scalars, enum members with such a value (``re.IGNORECASE``), and tuples and
    frozensets of those."""
    kind = type(value)
    if kind in _IMMUTABLE_TYPES:
        return True
    if isinstance(value, enum.Enum):
        return depth < 4 and _immutable(value.value, depth + 1)
    if kind is tuple or kind is frozenset:
        return depth < 4 and all(_immutable(item, depth + 1) for item in value)
    return False


#: Modules whose own instances describe types or mark defaults and change nothing (``List``,
#: ``Optional``, ``TypeVar``, ``dataclasses.MISSING``/``KW_ONLY``); a write to one is refused by
#: ``_write_``.
_DESCRIPTOR_MODULES = frozenset({"typing", "dataclasses"})


def _typing_form(value: Any, allowed: frozenset[str]) -> bool:
    module = getattr(type(value), "__module__", None)
    return module in _DESCRIPTOR_MODULES and owner_allowed(module, allowed)


def _class_allowed(cls: type, allowed: frozenset[str]) -> bool:
    """A class of an allowed module, or a builtin type the sandbox hands out as is."""
    module = getattr(cls, "__module__", None)
    if module == "builtins":
        return STATIC_BUILTINS.get(cls.__name__) is cls
    return owner_allowed(module, allowed)


def is_exposable(value: Any, allowed: frozenset[str]) -> bool:
    """True when a module attribute may be shown to the code (modules are handled apart).

    An allow-list: functions and classes whose owner module is allowed (:func:`owner_allowed`,
    builtins only as :data:`STATIC_BUILTINS` hands them out), class methods of such classes,
    immutable values (:func:`_immutable`) and the objects of :data:`PRIVATE_STATE_TYPES` (and
    their methods), which every namespace gets a private copy of. Everything else a module holds
    (a ``deque``, a ``SimpleNamespace``, a method of a process-wide instance, any other
    instance) is shared, mutable host state and is withheld.
    """
    if _private_state_owner(value) is not None:
        return True
    if isinstance(value, type):
        # a metaclass would create classes past the sandbox's class statement (ABCMeta(...))
        return not issubclass(value, type) and _class_allowed(value, allowed)
    if _typing_form(value, allowed):
        return True
    if isinstance(value, types.FunctionType):
        return owner_allowed(value.__module__, allowed)
    if isinstance(value, types.BuiltinFunctionType | types.MethodType):
        owner = value.__self__
        if isinstance(owner, type):
            return _class_allowed(owner, allowed)  # a class method, e.g. dict.fromkeys
        if owner is builtins or owner is None or isinstance(owner, types.ModuleType):
            return type(value) is types.BuiltinFunctionType and not is_dangerous_callable(
                value, allowed
            )
        # a method of an immutable value (``keyword.iskeyword`` is ``frozenset.__contains__``)
        # is a pure function; one of any other process-wide instance reaches shared state
        return _immutable(owner)
    return _immutable(value)


@functools.lru_cache(maxsize=128)
def proxy_for(name: str, allowed: frozenset[str]) -> ModuleProxy:
    """The proxy of allowed module ``name`` (cached: proxies are immutable)."""
    module = importlib.import_module(name)
    hidden = _HIDDEN_NAMES.get(name, frozenset())
    exposed: dict[str, Any] = {}
    for attr in _public_names(module):
        if attr in hidden:
            continue
        try:
            value = getattr(module, attr)
        except AttributeError:
            continue
        if name == "string" and not isinstance(value, str):
            continue  # `string` exposes constants only
        if isinstance(value, types.ModuleType):
            sub = value.__name__
            if sub == f"{name}.{attr}" and is_importable(sub, allowed):
                exposed[attr] = proxy_for(sub, allowed)
            continue
        if is_exposable(value, allowed):
            exposed[attr] = value
    withheld = frozenset(n for n in dir(module) if not n.startswith("_")) - exposed.keys()
    return ModuleProxy(name, exposed, withheld)


@functools.lru_cache(maxsize=128)
def _stateful_names(name: str, allowed: frozenset[str]) -> tuple[str, ...]:
    """The exposed names of module ``name`` that carry process-wide state (found once)."""
    exposed = proxy_for(name, allowed)._ai_names
    return tuple(attr for attr, value in exposed.items() if _private_state_owner(value) is not None)


def private_proxy(
    name: str,
    allowed: frozenset[str],
    owner: object,
    refuse: Callable[[str, str], NoReturn],
    checks: Any = None,
) -> ModuleProxy:
    """The proxy of ``name`` for the namespace ``owner``: every piece of process-wide state
    replaced by a private one, and the functions of :mod:`.replacements` by their checked
    versions (the same proxy as :func:`proxy_for` when the module has neither). Not cached:
    call it once per namespace."""
    shared = proxy_for(name, allowed)
    stateful = _stateful_names(name, allowed)
    checked = replacements(name, owner, refuse, checks)
    if not stateful and not checked:
        return shared
    names: dict[str, Any] = dict(shared._ai_names)
    replaced: dict[int, Any] = {}
    for attr in stateful:
        value = names[attr]
        state = _private_state_owner(value)
        own = replaced.get(id(state))
        if own is None:
            own = replaced[id(state)] = PRIVATE_STATE_TYPES[type(state)](state)
        names[attr] = own if state is value else getattr(own, value.__name__)
    names.update(
        (attr, function)
        for attr, function in checked.items()
        if attr in names or attr in shared._ai_hidden
    )
    return ModuleProxy(name, names, shared._ai_hidden - checked.keys())


#: What ``import sys`` gives: constants, and functions that only read a number.
_SYS_CONSTANTS: tuple[str, ...] = (
    "maxsize", "maxunicode", "float_info", "int_info", "hash_info", "version_info", "version",
    "hexversion", "byteorder", "platform", "float_repr_style", "api_version",
)  # fmt: skip


def _sys_proxy(checks: Any) -> ModuleProxy:
    """A read-only ``sys`` with constants only (the real module is never importable), and
    ``stdout``/``stderr`` writing to the run's output."""
    limit = sys.getrecursionlimit()
    encoding = sys.getdefaultencoding()

    def getrecursionlimit() -> int:
        """The recursion limit (read-only in the sandbox)."""
        return limit

    def getdefaultencoding() -> str:
        """The default string encoding."""
        return encoding

    def getsizeof(obj: Any, default: Any = None) -> Any:
        """The size of ``obj`` in bytes."""
        return sys.getsizeof(obj) if default is None else sys.getsizeof(obj, default)

    names: dict[str, Any] = {attr: getattr(sys, attr) for attr in _SYS_CONSTANTS}

    def exit(status: Any = None) -> NoReturn:
        """End the program (raises SystemExit, as the real sys.exit does)."""
        raise SystemExit(status)

    names.update(
        exit=exit,
        getrecursionlimit=getrecursionlimit,
        getdefaultencoding=getdefaultencoding,
        getsizeof=getsizeof,
    )
    if checks is not None:
        stream = OutputStream(checks.ctx)
        names.update(stdout=stream, stderr=stream)
    withheld = frozenset(n for n in dir(sys) if not n.startswith("_")) - names.keys()
    return ModuleProxy("sys", names, withheld)


def _future_proxy() -> ModuleProxy:
    """``from __future__ import annotations``: the compiler acts on the statement; the names
    it binds are plain flags here."""
    import __future__

    return ModuleProxy("__future__", dict.fromkeys(__future__.all_feature_names, True))


def make_import(
    allowed: frozenset[str],
    refuse: Callable[[str, str], NoReturn],
    owner: object = None,
    checks: Any = None,
) -> Callable[..., ModuleProxy | None]:
    """The sandbox's ``__import__``: allow-listed modules only, as proxies; and the C-level
    call shape of ``PyImport_Import`` for :data:`C_LEVEL_IMPORTS`, which gets ``None``.
    ``import sys`` gives a read-only ``sys`` of constants (:func:`_sys_proxy`).

    ``owner`` names the namespace (what ``replacements.running`` is given while it runs);
    ``checks`` is the namespace's guards, which some checked functions use."""
    if owner is None:
        owner = object()

    private: dict[str, ModuleProxy] = {}

    def listing() -> str:
        return ", ".join(sorted(n for n in allowed if _top(n) not in NEVER_IMPORTABLE))

    def module(name: str) -> ModuleProxy:
        found = private.get(name)
        if found is None:
            if name == "sys":
                found = _sys_proxy(checks)
            elif name == "__future__":
                found = _future_proxy()
            else:
                found = private_proxy(name, allowed, owner, refuse, checks)
            private[name] = found
        return found

    def not_allowed(name: Any) -> NoReturn:
        reason = never_importable_reason(name) if type(name) is str else None
        if reason is not None:
            refuse(
                f"import of module {name!r} is refused: it is never importable in the sandbox "
                f"({reason}), whatever the policy says; allowed modules: {listing() or '(none)'}",
                "import",
            )
        refuse(
            f"import of module {name!r} is refused: it is not in allowed_imports; "
            f"allowed modules: {listing() or '(none)'}",
            "import",
        )

    def c_level_import(name: Any, globals: Any, locals: Any, fromlist: Any, level: Any) -> None:
        # Only ``PyImport_Import`` calls the hook with a list: it wants the import's side
        # effect (the module in sys.modules) and ignores what the hook returns.
        if (
            fromlist
            or level != 0
            or globals is not locals
            or type(name) is not str
            or not (name in C_LEVEL_IMPORTS or is_importable(name, allowed))
        ):
            not_allowed(name)
        importlib.import_module(name)

    def guarded_import(
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> ModuleProxy | None:
        if type(fromlist) is list:
            c_level_import(name, globals, locals, fromlist, level)
            return None
        if level != 0:
            refuse("relative imports are not available in the sandbox", "import")
        if name in ("sys", "__future__") and (fromlist or name == "sys"):
            return module(name)
        if type(name) is not str or not is_importable(name, allowed):
            not_allowed(name)
        if fromlist:
            found = module(name)
            for item in fromlist:
                # `from m import x` reads x with the interpreter's own getattr, outside our
                # guards: refuse (and record) a withheld name here, as `m.x` would be.
                if type(item) is str and item in found._ai_hidden:
                    try:
                        getattr(found, item)
                    except SecurityError as exc:
                        refuse(str(exc), exc.rule)
            return found
        top = _top(name)
        if top != name and not is_importable(top, allowed):
            refuse(
                f"import of module {name!r} binds {top!r}, which is not allowed; "
                f"write `from {name} import ...` instead",
                "import",
            )
        return module(top)

    return guarded_import
