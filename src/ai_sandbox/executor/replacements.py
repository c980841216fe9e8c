"""Module functions the code gets in a checked form, built once per namespace.

Some functions of allowed modules act on the whole process rather than on the values passed:

* ``decimal.setcontext``/``getcontext``/``localcontext`` act on the *thread's* current context.
  While the code runs, that is the run's own context (``runtime`` runs it inside
  ``decimal.localcontext``); but code the run leaves behind can run later, outside it: a
  generator's ``finally`` when the garbage collector frees it, a suspended ``with
  localcontext()`` whose exit restores a context, a method the host's ``str()`` of an exception
  calls. The checked versions act only while *their own* namespace runs (:data:`CODE_RUNNING`
  names it); otherwise they touch a detached context, never the host's or another run's.
* class decorators change the class they are given, and a host class is shared by the whole
  process: ``dataclasses.dataclass(frozen=True)(json.JSONEncoder)`` broke every later
  ``json.dumps``; ``functools.total_ordering`` adds methods. They take the code's own classes only.
* ``dataclasses.make_dataclass(namespace=...)`` would define the special methods (``__eq__``,
  ``__hash__``, ``__del__``...) that the compiler refuses in a class body.
* ``re.DEBUG`` makes ``re`` print the compiled pattern to the interpreter's real standard
  output (in-process: the host's), past the sandbox's captured output.
* ``copy.deepcopy(x, memo)`` calls ``memo.get(..., <a default list of the host function>)``: a
  ``dict`` subclass of the code's would be handed that shared list.
* functions that look attributes or items up by a string or act on a container
  (``operator.attrgetter``/``methodcaller``/``getitem``/``setitem``/``delitem``) go through the
  namespace's guards, as ``getattr(x, name)`` and ``x[k] = v`` do (``attrgetter("__class__")``,
  ``methodcaller("format", ...)`` on a template would otherwise skip them).
* functions that set attributes on what they are given (``functools.update_wrapper``/``wraps``,
  ``abc.abstractmethod``, ``typing.final``/``no_type_check``/``runtime_checkable``...) take the
  code's own functions and classes only; ``typing.overload`` does not register in the
  process-wide registry.
* ``typing.get_type_hints`` never evaluates a string annotation with ``eval`` (whose builtins
  would be unguarded): a string is read as a dotted name with subscripts and ``|``, each step
  through the guards.
* ``time.sleep`` cannot outlast the run's time limit; ``pprint.pprint`` and the module-level
  ``calendar`` functions print into the run's output and use the namespace's own calendar (the
  real ones write to the interpreter's standard output and share one calendar per process).
* ``dataclasses.make_dataclass`` field names follow the class-body rules (a field named
  ``__reduce_ex__`` with a default would define that hook).

A refusal goes through the namespace's ``refuse`` (the run is rejected, even if the code
catches it).
"""

from __future__ import annotations

import abc
import ast
import calendar
import contextlib
import contextvars
import copy
import dataclasses
import decimal
import enum
import functools
import inspect
import pprint
import re
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from ai_sandbox.exceptions import ResourceLimitExceeded
from ai_sandbox.executor.context import AI_FILENAME, SANDBOX_CLASS_MARKER, OutputStream
from ai_sandbox.executor.files import SandboxFile
from ai_sandbox.executor.names import CLASS_BODY_DUNDERS, SPECIAL_METHODS, is_private_name

__all__ = ["CODE_RUNNING", "REPLACED_MODULES", "replacements", "running"]

Refuse = Callable[[str, str], NoReturn]

#: The namespace whose code runs now (see :func:`running`), or ``None`` outside any run.
CODE_RUNNING: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "ai_sandbox_code_running", default=None
)


@contextlib.contextmanager
def running(owner: object) -> Iterator[None]:
    """Mark the current context as running the code of namespace ``owner``."""
    token = CODE_RUNNING.set(owner)
    try:
        yield
    finally:
        CODE_RUNNING.reset(token)


def _own_class(cls: Any) -> bool:
    return isinstance(cls, type) and SANDBOX_CLASS_MARKER in vars(cls)


def _own_function(value: Any) -> bool:
    return isinstance(value, types.FunctionType) and value.__code__.co_filename == AI_FILENAME


def _own_definition(value: Any) -> bool:
    """A function or class the code defined (or a classmethod/staticmethod/property around
    one, which the code made: modules expose no such objects)."""
    if isinstance(value, classmethod | staticmethod):
        return _own_function(value.__func__)
    if isinstance(value, property):
        return value.fget is None or _own_function(value.fget)
    return _own_function(value) or _own_class(value)


def _refuse_host_definition(refuse: Refuse, function: str, value: Any) -> None:
    if not _own_definition(value):
        refuse(
            f"{function} only takes functions and classes defined in your code: it changes "
            "the object it is given, and one from a module is shared by the whole process",
            "class",
        )


def _class_attribute_allowed(name: Any) -> bool:
    """A name a class body may define (the compiler's rule, for names given as data)."""
    if type(name) is not str:
        return False
    if not name.startswith("_") or name == "_" or is_private_name(name):
        return True
    return name in SPECIAL_METHODS or name in CLASS_BODY_DUNDERS


def _refuse_host_class(refuse: Refuse, function: str, cls: Any) -> None:
    if not _own_class(cls):
        refuse(
            f"{function} only takes classes defined in your code: it changes the class it is "
            "given, and a class from a module is shared by the whole process",
            "class",
        )


class _RunLocalContext:
    """``decimal.localcontext`` whose entry and exit act only while its namespace runs."""

    __slots__ = ("_args", "_manager", "_ours")

    def __init__(self, ours: Callable[[], bool], args: tuple[Any, dict[str, Any]]) -> None:
        self._ours = ours
        self._args = args
        self._manager: Any = None

    def __enter__(self) -> decimal.Context:
        ctx, kwargs = self._args
        if not self._ours():
            return decimal.Context()  # detached: the thread's context is not the code's now
        self._manager = decimal.localcontext(ctx, **kwargs)
        entered: decimal.Context = self._manager.__enter__()
        return entered

    def __exit__(self, *exc_info: object) -> None:
        manager, self._manager = self._manager, None
        if manager is not None and self._ours():
            manager.__exit__(*exc_info)  # restoring is only ours to do while we run


def _decimal(owner: object, _refuse: Refuse) -> dict[str, Any]:
    def ours() -> bool:
        return CODE_RUNNING.get() is owner

    def setcontext(context: decimal.Context) -> None:
        """Set the run's decimal context (undone when the run ends)."""
        if ours():
            decimal.setcontext(context)

    def getcontext() -> decimal.Context:
        """The run's decimal context."""
        return decimal.getcontext() if ours() else decimal.Context()

    def localcontext(ctx: decimal.Context | None = None, **kwargs: Any) -> _RunLocalContext:
        """A context manager for a temporary decimal context, as ``decimal.localcontext``."""
        return _RunLocalContext(ours, (ctx, kwargs))

    return {"setcontext": setcontext, "getcontext": getcontext, "localcontext": localcontext}


def _dataclasses(_owner: object, refuse: Refuse) -> dict[str, Any]:
    def dataclass(cls: Any = None, /, **options: Any) -> Any:
        """``dataclasses.dataclass`` for classes defined in the code."""

        def decorate(target: Any) -> Any:
            _refuse_host_class(refuse, "dataclasses.dataclass", target)
            # dataclasses compiles the generated methods in the globals of the class's module
            # (``sys.modules[cls.__module__]``); the code's classes say "__main__", which is the
            # host's: they are processed under this module's name instead
            module = target.__module__
            target.__module__ = __name__
            try:
                return dataclasses.dataclass(**options)(target)
            finally:
                target.__module__ = module

        return decorate if cls is None else decorate(cls)

    def make_dataclass(cls_name: str, fields: Any, **options: Any) -> type:
        """``dataclasses.make_dataclass``; ``namespace`` may not define special names."""
        namespace = options.get("namespace")
        public = type(namespace) is dict and all(
            type(key) is str and not key.startswith("_") for key in namespace
        )
        if namespace is not None and not public:
            refuse(
                "make_dataclass(namespace=...) takes a dict of public names only: special "
                "methods cannot be defined in the sandbox",
                "class",
            )
        fields = list(fields)
        for spec in fields:
            name = spec if isinstance(spec, str) else spec[0] if isinstance(spec, tuple) else None
            if not _class_attribute_allowed(name):
                refuse(
                    f"make_dataclass field {name!r} is not allowed: fields follow the names "
                    "of a class body (no hooks such as __reduce_ex__, no reserved names)",
                    "class",
                )
        cls = dataclasses.make_dataclass(cls_name, fields, **options)
        setattr(cls, SANDBOX_CLASS_MARKER, True)  # the code's own class, like a class statement
        return cls

    return {"dataclass": dataclass, "make_dataclass": make_dataclass}


def _functools(_owner: object, refuse: Refuse) -> dict[str, Any]:
    def total_ordering(cls: Any) -> Any:
        """``functools.total_ordering`` for classes defined in the code."""
        _refuse_host_class(refuse, "functools.total_ordering", cls)
        return functools.total_ordering(cls)

    return {"total_ordering": total_ordering}


def _copy(_owner: object, refuse: Refuse) -> dict[str, Any]:
    def deepcopy(x: Any, memo: Any = None) -> Any:
        """``copy.deepcopy``; ``memo`` must be a plain dict."""
        if memo is not None and type(memo) is not dict:
            refuse("copy.deepcopy(memo=...) takes a plain dict", "attribute")
        return copy.deepcopy(x, memo)

    return {"deepcopy": deepcopy}


def _re_flag_positions() -> dict[str, int]:
    """Every public ``re`` function with a ``flags`` parameter, and where it stands (found
    from the signatures, so a function such as ``re.template`` is not missed)."""
    positions: dict[str, int] = {}
    for name in re.__all__:
        function = getattr(re, name, None)
        if not isinstance(function, types.FunctionType):
            continue
        parameters = list(inspect.signature(function).parameters)
        if "flags" in parameters:
            positions[name] = parameters.index("flags")
    return positions


#: Where the ``flags`` argument of each ``re`` function stands when passed by position.
_RE_FLAG_POSITIONS: Mapping[str, int] = types.MappingProxyType(_re_flag_positions())


def _re(_owner: object, refuse: Refuse) -> dict[str, Any]:
    def checked(name: str, position: int) -> Callable[..., Any]:
        function = getattr(re, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            flags = kwargs.get("flags", args[position] if len(args) > position else 0)
            if isinstance(flags, int) and flags & re.DEBUG:
                refuse(
                    "re.DEBUG is not available in the sandbox: it prints the compiled pattern "
                    "to the interpreter's own output",
                    "attribute",
                )
            return function(*args, **kwargs)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = function.__doc__
        return call

    return {name: checked(name, position) for name, position in _RE_FLAG_POSITIONS.items()}


def _operator(_owner: object, refuse: Refuse, checks: Any) -> dict[str, Any]:
    if checks is None:
        return {}
    guarded_getattr = checks.safe_getattr

    def attrgetter(attr: str, /, *attrs: str) -> Callable[[Any], Any]:
        """``operator.attrgetter`` through the sandbox's attribute guard."""
        names = (attr, *attrs)
        if any(type(name) is not str for name in names):
            raise TypeError("attribute name must be a string")
        paths = [name.split(".") for name in names]

        def get(obj: Any) -> Any:
            found = []
            for path in paths:
                value = obj
                for part in path:
                    value = guarded_getattr(value, part)
                found.append(value)
            return found[0] if len(found) == 1 else tuple(found)

        return get

    def methodcaller(name: str, /, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        """``operator.methodcaller`` through the sandbox's attribute guard."""
        if type(name) is not str:
            raise TypeError("method name must be a string")

        def call(obj: Any) -> Any:
            return guarded_getattr(obj, name)(*args, **kwargs)

        return call

    def getitem(a: Any, b: Any, /) -> Any:
        """``a[b]``, guarded."""
        return checks.getitem(a, b)

    def setitem(a: Any, b: Any, c: Any, /) -> None:
        """``a[b] = c``, guarded."""
        checks.write(a)[b] = c

    def delitem(a: Any, b: Any, /) -> None:
        """``del a[b]``, guarded."""
        del checks.write(a)[b]

    return {
        "attrgetter": attrgetter,
        "methodcaller": methodcaller,
        "getitem": getitem,
        "setitem": setitem,
        "delitem": delitem,
    }


def _functools_wrappers(refuse: Refuse) -> dict[str, Any]:
    def update_wrapper(
        wrapper: Any,
        wrapped: Any,
        assigned: Any = functools.WRAPPER_ASSIGNMENTS,
        updated: Any = functools.WRAPPER_UPDATES,
    ) -> Any:
        """``functools.update_wrapper`` onto a function of the code, default names only."""
        if assigned != functools.WRAPPER_ASSIGNMENTS or updated != functools.WRAPPER_UPDATES:
            refuse("functools.update_wrapper copies its default attributes only", "attribute")
        if not (_own_function(wrapper) or _own_class(type(wrapper))):
            refuse(
                "functools.update_wrapper/wraps only change functions defined in your code",
                "attribute",
            )
        return functools.update_wrapper(wrapper, wrapped)

    def wraps(
        wrapped: Any,
        assigned: Any = functools.WRAPPER_ASSIGNMENTS,
        updated: Any = functools.WRAPPER_UPDATES,
    ) -> Callable[[Any], Any]:
        """``functools.wraps`` for decorators written in the code."""

        def decorate(wrapper: Any) -> Any:
            return update_wrapper(wrapper, wrapped, assigned, updated)

        return decorate

    return {"update_wrapper": update_wrapper, "wraps": wraps}


def _definition_decorators(module: Any, names: tuple[str, ...], refuse: Refuse) -> dict[str, Any]:
    def checked(name: str) -> Callable[..., Any]:
        real = getattr(module, name)

        def decorator(value: Any) -> Any:
            _refuse_host_definition(refuse, f"{module.__name__}.{name}", value)
            return real(value)

        decorator.__name__ = decorator.__qualname__ = name
        decorator.__doc__ = real.__doc__
        return decorator

    return {name: checked(name) for name in names}


#: The nodes a string annotation may use: a dotted name, subscripts, tuples, lists, ``|`` and
#: constants (what ``typing.get_type_hints`` would evaluate in practice).
_ANNOTATION_NODES = (
    ast.Expression, ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Constant,
    ast.BinOp, ast.BitOr, ast.Load,
)  # fmt: skip


def _typing(_owner: object, refuse: Refuse, checks: Any) -> dict[str, Any]:
    def resolve(text: str, namespace: Mapping[str, Any], depth: int = 0) -> Any:
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError:
            raise SyntaxError(f"annotation {text!r} is not a type expression") from None
        for node in ast.walk(tree):
            if not isinstance(node, _ANNOTATION_NODES) or (
                isinstance(node, ast.BinOp) and not isinstance(node.op, ast.BitOr)
            ):
                refuse(
                    f"annotation {text!r} is not a type expression (names, dots, [], |)",
                    "syntax",
                )

        def value(node: ast.expr) -> Any:
            if isinstance(node, ast.Name):
                if node.id.startswith("_") and not is_private_name(node.id):
                    refuse(f"annotation name {node.id!r} is reserved", "syntax")
                if node.id in namespace:
                    return namespace[node.id]
                builtins_table = namespace.get("__builtins__", {})
                if node.id in builtins_table:
                    return builtins_table[node.id]
                raise NameError(f"name {node.id!r} is not defined")
            if isinstance(node, ast.Attribute):
                return checks.safe_getattr(value(node.value), node.attr)
            if isinstance(node, ast.Subscript):
                return checks.getitem(value(node.value), value(node.slice))
            if isinstance(node, ast.Tuple):
                return tuple(value(item) for item in node.elts)
            if isinstance(node, ast.List):
                return [value(item) for item in node.elts]
            if isinstance(node, ast.BinOp):
                return value(node.left) | value(node.right)
            if isinstance(node, ast.Constant):
                if isinstance(node.value, str) and depth < 8:
                    return resolve(node.value, namespace, depth + 1)
                return node.value
            raise SyntaxError("unsupported annotation")  # pragma: no cover - walked above

        return value(tree.body)

    def get_type_hints(
        obj: Any, globalns: Any = None, localns: Any = None, include_extras: bool = False
    ) -> dict[str, Any]:
        """``typing.get_type_hints`` for the code's own classes and functions."""
        if checks is None or globalns is not None or localns is not None:
            refuse("typing.get_type_hints takes the object only in the sandbox", "attribute")
        if _own_function(obj):
            layers = [obj.__annotations__]
        elif isinstance(obj, type) and getattr(obj, SANDBOX_CLASS_MARKER, False) is True:
            layers = [
                vars(klass).get("__annotations__", {})
                for klass in reversed(obj.__mro__)
                if _own_class(klass)
            ]
        else:
            refuse(
                "typing.get_type_hints only reads classes and functions defined in your code",
                "attribute",
            )
        namespace = checks.namespace_globals
        hints: dict[str, Any] = {}
        for layer in layers:
            for name, annotation in dict(layer).items():
                if isinstance(annotation, str):
                    annotation = resolve(annotation, namespace)
                hints[name] = type(None) if annotation is None else annotation
        if not include_extras:
            hints = {
                name: hint.__origin__ if typing.get_origin(hint) is typing.Annotated else hint
                for name, hint in hints.items()
            }
        return hints

    def overload(func: Any) -> Any:
        """``typing.overload``: marks a signature; not registered process-wide here."""
        _refuse_host_definition(refuse, "typing.overload", func)

        def overloaded(*args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError(
                "You should not call an overloaded function. A series of @overload-decorated "
                "functions outside a stub module should always be followed by an "
                "implementation that is not @overload-ed."
            )

        return overloaded

    checked = _definition_decorators(
        typing, ("final", "no_type_check", "runtime_checkable"), refuse
    )
    return {"get_type_hints": get_type_hints, "overload": overload, **checked}


def _abc(_owner: object, refuse: Refuse, _checks: Any) -> dict[str, Any]:
    return _definition_decorators(abc, ("abstractmethod", "update_abstractmethods"), refuse)


def _time(_owner: object, _refuse: Refuse, checks: Any) -> dict[str, Any]:
    if checks is None:
        return {}
    ctx = checks.ctx

    def sleep(secs: float, /) -> None:
        """``time.sleep``, within the run's time limit."""
        # the plain number, read past the class's own operators (a subclass of int whose
        # __gt__ answers False would otherwise pass the check and sleep for its real value)
        seconds: float
        if isinstance(secs, float):
            seconds = float.__float__(secs)
        elif isinstance(secs, int):
            seconds = int.__index__(secs)
        else:
            raise TypeError(f"'{type(secs).__name__}' object cannot be interpreted as a number")
        limit = ctx.policy.timeout_s
        if not seconds <= limit - (time.monotonic() - ctx.started):
            raise ResourceLimitExceeded(
                "timeout",
                f"time.sleep({seconds}) would outlast the run's time limit of {limit} s",
            )
        time.sleep(seconds)

    return {"sleep": sleep}


def _pprint(_owner: object, refuse: Refuse, checks: Any) -> dict[str, Any]:
    if checks is None:
        return {}

    def stream_of(stream: Any) -> Any:
        if stream is None:
            return checks.ctx.output
        if type(stream) in (SandboxFile, OutputStream) or (
            getattr(type(stream), SANDBOX_CLASS_MARKER, False) is True
        ):
            return stream
        refuse("pprint writes to the output, a file from open() or your own object", "print")

    def pprint_(obj: Any, stream: Any = None, **options: Any) -> None:
        """``pprint.pprint`` into the run's output (or ``stream``)."""
        pprint.pprint(obj, stream_of(stream), **options)

    def pp(obj: Any, *args: Any, sort_dicts: bool = False, **options: Any) -> None:
        """``pprint.pp`` into the run's output."""
        stream = args[0] if args else options.pop("stream", None)
        pprint.pprint(obj, stream_of(stream), *args[1:], sort_dicts=sort_dicts, **options)

    pprint_.__name__ = pprint_.__qualname__ = "pprint"
    return {"pprint": pprint_, "pp": pp}


def _calendar(_owner: object, _refuse: Refuse, _checks: Any) -> dict[str, Any]:
    # the module-level functions are methods of one TextCalendar per process: the namespace
    # gets its own (setfirstweekday changes only it)
    own = calendar.TextCalendar()

    def setfirstweekday(firstweekday: int) -> None:
        """Set the first weekday of this run's calendar functions."""
        if not calendar.MONDAY <= firstweekday <= calendar.SUNDAY:
            raise calendar.IllegalWeekdayError(firstweekday)
        own.firstweekday = firstweekday

    def firstweekday() -> int:
        """The first weekday of this run's calendar functions."""
        return own.getfirstweekday()

    def monthcalendar(year: int, month: int) -> list[list[int]]:
        """A month's weeks as lists of day numbers (0 outside the month)."""
        return own.monthdayscalendar(year, month)

    def week(theweek: Any, width: int) -> str:
        """One week as text."""
        return own.formatweek(theweek, width)

    def weekheader(width: int) -> str:
        """The weekday names as a header."""
        return own.formatweekheader(width)

    def month(theyear: int, themonth: int, w: int = 0, l: int = 0) -> str:  # noqa: E741
        """A month's calendar as text."""
        return own.formatmonth(theyear, themonth, w, l)

    def calendar_(
        theyear: int, w: int = 2, l: int = 1, c: int = 6, m: int = 3  # noqa: E741
    ) -> str:
        """A year's calendar as text."""
        return own.formatyear(theyear, w, l, c, m)

    calendar_.__name__ = calendar_.__qualname__ = "calendar"
    return {
        "setfirstweekday": setfirstweekday,
        "firstweekday": firstweekday,
        "monthcalendar": monthcalendar,
        "week": week,
        "weekheader": weekheader,
        "month": month,
        "calendar": calendar_,
    }


#: The Enum base classes the code gets (subclasses with a checked functional API).
_ENUM_BASES = ("Enum", "IntEnum", "StrEnum", "Flag", "IntFlag")


def _enum(_owner: object, refuse: Refuse, _checks: Any) -> dict[str, Any]:
    # ``Enum("Color", names)`` builds a class from names given as data: a name such as
    # "__new__" or "__reduce_ex__" would define that hook with a function of the code's (a
    # "__new__" returning a class from a module made enum write _name_/_value_ onto it). The
    # namespace's Enum classes are member-less subclasses whose functional API takes member
    # names only (the class statement is checked by the compiler).
    def create(cls: Any, class_name: str, names: Any, /, **options: Any) -> Any:
        listed: list[Any]
        if isinstance(names, str):
            listed = names.replace(",", " ").split()
        elif isinstance(names, dict):
            listed = list(names)
        else:
            names = list(names)
            listed = [item if isinstance(item, str) else item[0] for item in names]
        for name in listed:
            if type(name) is not str or name.startswith("_"):
                refuse(
                    f"Enum member name {name!r} is not allowed: the functional API takes "
                    "member names only (no names starting with '_')",
                    "class",
                )
        if options.get("module") is None:
            options["module"] = "__main__"
        return enum.EnumType._create_(cls, class_name, names, **options)  # type: ignore[attr-defined]

    made: dict[str, Any] = {}
    for base_name in _ENUM_BASES:
        base = getattr(enum, base_name)
        namespace = enum.EnumType.__prepare__(base_name, (base,))
        namespace["__module__"] = "enum"
        namespace["__qualname__"] = base_name
        checked = enum.EnumType(base_name, (base,), namespace)
        type.__setattr__(checked, "_create_", classmethod(create))
        made[base_name] = checked
    return made


class ExitStack(contextlib.ExitStack):
    """``contextlib.ExitStack`` whose plain exit callbacks (``push(callback)``) get ``None``
    for the traceback, as the code's own ``__exit__`` methods do (``guards.without_traceback``);
    a context manager pushed or entered is exited through its class's ``__exit__``."""

    def push(self, exit: Any) -> Any:
        """Register an exit callback or a context manager's exit."""
        if hasattr(type(exit), "__exit__"):
            return super().push(exit)

        def callback(exc_type: Any, exc: Any, tb: Any, /) -> Any:
            return exit(exc_type, exc, None)

        super().push(callback)
        return exit


ExitStack.__module__ = "contextlib"


def _contextlib(_owner: object, _refuse: Refuse, _checks: Any) -> dict[str, Any]:
    return {"ExitStack": ExitStack}


def _legacy(
    factory: Callable[[object, Refuse], dict[str, Any]],
) -> Callable[[object, Refuse, Any], dict[str, Any]]:
    return lambda owner, refuse, _checks: factory(owner, refuse)


def _functools_all(owner: object, refuse: Refuse, _checks: Any) -> dict[str, Any]:
    return {**_functools(owner, refuse), **_functools_wrappers(refuse)}


_FACTORIES: Mapping[str, Callable[[object, Refuse, Any], dict[str, Any]]] = types.MappingProxyType(
    {
        "decimal": _legacy(_decimal),
        "dataclasses": _legacy(_dataclasses),
        "functools": _functools_all,
        "copy": _legacy(_copy),
        "re": _legacy(_re),
        "operator": _operator,
        "typing": _typing,
        "abc": _abc,
        "time": _time,
        "pprint": _pprint,
        "calendar": _calendar,
        "enum": _enum,
        "contextlib": _contextlib,
    }
)

#: Modules some of whose functions are replaced (their proxies are built per namespace).
REPLACED_MODULES: frozenset[str] = frozenset(_FACTORIES)


def replacements(module: str, owner: object, refuse: Refuse, checks: Any = None) -> dict[str, Any]:
    """The checked functions of ``module`` for the namespace ``owner`` (empty for most);
    ``checks`` is the namespace's guards (``None``: the functions that need them stay
    hidden)."""
    factory = _FACTORIES.get(module)
    return factory(owner, refuse, checks) if factory is not None else {}
