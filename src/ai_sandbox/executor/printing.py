"""``print`` inside the sandbox: one collector for the whole run.

RestrictedPython compiles ``print(...)`` to ``_print._call_print(...)`` after binding
``_print = _print_(_getattr_)`` at the top of every function; our ``_print_`` hands every
function the same :class:`Printer`, so output from functions, methods, lambdas and class bodies
lands, in order, in the run's capped :class:`~ai_sandbox.executor.context.OutputCollector`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ai_sandbox.executor.context import OutputStream, RunContext
from ai_sandbox.executor.files import SandboxFile

__all__ = ["Printer"]


class Printer:
    """What ``print`` compiles to: every call, in every function, writes to the run's output."""

    __slots__ = ("_ai_ctx",)

    def __init__(self, ctx: RunContext) -> None:
        self._ai_ctx = ctx

    @classmethod
    def factory(cls, ctx: RunContext) -> Callable[..., Printer]:
        printer = cls(ctx)

        def print_factory(_getattr: Any = None) -> Printer:
            return printer

        return print_factory

    def __copy__(self) -> Printer:
        return self  # a handle on the run's output: a deep copy would copy the run's context

    def __deepcopy__(self, memo: Any) -> Printer:
        return self

    def __call__(self) -> str:
        """The ``printed`` variable: everything printed so far."""
        return self._ai_ctx.output.text()

    def _call_print(
        self, *objects: Any, sep: Any = " ", end: Any = "\n", file: Any = None, flush: Any = False
    ) -> None:
        if sep is None:
            sep = " "
        if end is None:
            end = "\n"
        if not isinstance(sep, str) or not isinstance(end, str):
            raise TypeError("print(): sep and end must be None or a string")
        text = sep.join([str(o) for o in objects]) + end
        if file is None:
            self._ai_ctx.output.write(text)
        elif type(file) is SandboxFile or type(file) is OutputStream:
            file.write(text)
        else:
            self._ai_ctx.refuse(
                "print(file=...) can only write to a file returned by open() or to "
                "sys.stdout/sys.stderr",
                "print",
            )
