"""The builtins the AI's code sees.

Types and pure functions are the real ones (so ``isinstance(x, list)`` and subclassing work).
Functions that iterate an argument (``sorted``, ``sum``, ``min``, ``zip``...) route it through
``_getiter_``. ``getattr``/``hasattr``/``setattr``/``delattr``, ``type``, ``open`` and
``__import__`` are guarded versions, and introspection or code-execution builtins (``eval``,
``exec``, ``compile``, ``globals``, ``vars``, ``dir``, ``help``, ``input``...) are stubs that refuse
with an explanation instead of failing with a bare ``NameError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ai_sandbox.executor.builtin_names import SAFE_BUILTIN_NAMES, STATIC_BUILTINS
from ai_sandbox.executor.context import RunContext
from ai_sandbox.executor.guards import Guards

__all__ = ["SAFE_BUILTIN_NAMES", "make_builtins"]

#: Builtins replaced by a stub that refuses, with the advice the model gets.
_REFUSED: dict[str, str] = {
    "eval": "write the expression directly instead of building it as a string",
    "exec": "write the code directly instead of building it as a string",
    "compile": "write the code directly instead of building it as a string",
    "globals": "keep shared values in a dict you create",
    "locals": "keep values in a dict you create",
    "dir": "use isinstance() or hasattr() with a public name",
    "help": "documentation lookup is not available",
    "input": "there is no interactive input; take values from your inputs",
    "breakpoint": "debugging is not available",
    "memoryview": "use bytes or bytearray",
    "exit": "let the code finish, or raise an exception",
    "quit": "let the code finish, or raise an exception",
    "aiter": "async code is not available",
    "anext": "async code is not available",
}


def _refusing(ctx: RunContext, name: str, advice: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        ctx.refuse(f"{name}() is not available in the sandbox; {advice}", "builtin")

    refused.__name__ = name
    return refused


def make_builtins(
    ctx: RunContext,
    guards: Guards,
    *,
    import_hook: Callable[..., Any],
    open_file: Callable[..., Any],
) -> dict[str, Any]:
    """The ``__builtins__`` dict of one namespace."""
    getiter = guards.getiter
    table: dict[str, Any] = dict(STATIC_BUILTINS)
    check_value = guards.check_value

    def sandbox_sorted(iterable: Any, /, *, key: Any = None, reverse: bool = False) -> list[Any]:
        return sorted(getiter(iterable), key=key, reverse=reverse)

    def sandbox_sum(iterable: Any, /, start: Any = 0) -> Any:
        return sum(getiter(iterable), start)

    def sandbox_min(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            return min(getiter(args[0]), **kwargs)
        return min(*args, **kwargs)

    def sandbox_max(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            return max(getiter(args[0]), **kwargs)
        return max(*args, **kwargs)

    def sandbox_any(iterable: Any, /) -> bool:
        return any(getiter(iterable))

    def sandbox_all(iterable: Any, /) -> bool:
        return all(getiter(iterable))

    def sandbox_enumerate(iterable: Any, start: int = 0) -> enumerate[Any]:
        return enumerate(getiter(iterable), start)

    def sandbox_zip(*iterables: Any, strict: bool = False) -> zip[Any]:
        return zip(*[getiter(it) for it in iterables], strict=strict)

    def sandbox_map(function: Any, iterable: Any, /, *iterables: Any) -> map[Any]:
        return map(function, getiter(iterable), *[getiter(it) for it in iterables])

    def sandbox_filter(function: Any, iterable: Any, /) -> filter[Any]:
        return filter(function, getiter(iterable))

    def sandbox_reversed(sequence: Any, /) -> Any:
        return getiter(reversed(guards.check_iterable(sequence)))

    def sandbox_next(iterator: Any, *default: Any) -> Any:
        return check_value(next(iterator, *default))

    def sandbox_iter(obj: Any, *sentinel: Any) -> Any:
        if sentinel:
            return iter(obj, *sentinel)
        return iter(getiter(obj))

    replaced: dict[str, Any] = {
        "sorted": sandbox_sorted,
        "sum": sandbox_sum,
        "min": sandbox_min,
        "max": sandbox_max,
        "any": sandbox_any,
        "all": sandbox_all,
        "enumerate": sandbox_enumerate,
        "zip": sandbox_zip,
        "map": sandbox_map,
        "filter": sandbox_filter,
        "reversed": sandbox_reversed,
        "iter": sandbox_iter,
        "next": sandbox_next,
        "type": guards.sandbox_type,
        "super": guards.super,
        "vars": guards.vars,
        "getattr": guards.safe_getattr,
        "hasattr": guards.safe_hasattr,
        "setattr": guards.safe_setattr,
        "delattr": guards.safe_delattr,
        "open": open_file,
        "__import__": import_hook,
    }
    for name, advice in _REFUSED.items():
        replaced[name] = _refusing(ctx, name, advice)
    for name, function in replaced.items():
        # Error messages name the function as the code knows it ("sorted() missing ..."),
        # never our internals ("make_builtins.<locals>.sandbox_sorted()").
        function.__name__ = function.__qualname__ = name
        table[name] = function
    return table
