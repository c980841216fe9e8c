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

A refusal goes through the namespace's ``refuse`` (the run is rejected, even if the code
catches it).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import decimal
import functools
import inspect
import re
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

from ai_sandbox.executor.context import SANDBOX_CLASS_MARKER

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
            return dataclasses.dataclass(**options)(target)

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


_FACTORIES: Mapping[str, Callable[[object, Refuse], dict[str, Any]]] = types.MappingProxyType(
    {
        "decimal": _decimal,
        "dataclasses": _dataclasses,
        "functools": _functools,
        "copy": _copy,
        "re": _re,
    }
)

#: Modules some of whose functions are replaced (their proxies are built per namespace).
REPLACED_MODULES: frozenset[str] = frozenset(_FACTORIES)


def replacements(module: str, owner: object, refuse: Refuse) -> dict[str, Any]:
    """The checked functions of ``module`` for the namespace ``owner`` (empty for most)."""
    factory = _FACTORIES.get(module)
    return factory(owner, refuse) if factory is not None else {}
