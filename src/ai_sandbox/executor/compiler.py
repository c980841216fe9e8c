"""Compile AI code under our RestrictedPython policy, and cache it.

``compile_ai_code`` returns a code object or a :class:`CompileRefusal` (restricted syntax is
``rejected``, a Python syntax error is an ``error``); :class:`CompileCache` keeps compiled code by
source hash so repeated calls pay compile once.
"""

from __future__ import annotations

import ast
import gc
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from types import CodeType

from ai_sandbox.executor.context import AI_FILENAME
from ai_sandbox.executor.display import display_last_expression
from ai_sandbox.executor.fast_transformer import FastAgentPolicy

__all__ = ["CompileCache", "CompileRefusal", "compile_ai_code"]


@dataclass(frozen=True, slots=True)
class CompileRefusal:
    """Why source did not compile: restricted syntax (``rejected``) or a Python syntax error."""

    status: str
    type: str
    message: str
    line: int | None
    rule: str | None


def compile_ai_code(source: str) -> CodeType | CompileRefusal:
    """Parse, check and transform ``source``; a code object or the reason it was refused.

    The cyclic garbage collector is paused meanwhile (and restored as it was): the thousands of
    short-lived AST objects would otherwise trigger collections that cost a third of the time.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _compile(source)
    finally:
        if paused:
            gc.enable()


def _compile(source: str) -> CodeType | CompileRefusal:
    try:
        tree = ast.parse(source, AI_FILENAME, "exec")
    except SyntaxError as exc:
        kind = type(exc).__name__
        return CompileRefusal("error", kind, str(exc.msg), exc.lineno, None)
    except (MemoryError, RecursionError):
        message = "the code is nested too deeply (or is too large) to parse; simplify it"
        return CompileRefusal("error", "SyntaxError", message, None, None)
    except ValueError as exc:  # e.g. a null byte in the source
        return CompileRefusal("error", "SyntaxError", f"cannot parse the code: {exc}", None, None)
    tree = display_last_expression(tree)  # a final bare expression is the result (notebook)
    errors: list[str] = []
    policy = FastAgentPolicy(errors, [], {})
    try:
        policy.visit(tree)
    except RecursionError:
        return CompileRefusal(
            "rejected", "SecurityError", "the code is nested too deeply", None, "syntax"
        )
    if errors:
        message = "restricted syntax refused:\n" + "\n".join(errors[:10])
        if len(errors) > 10:
            message += f"\n... and {len(errors) - 10} more"
        return CompileRefusal(
            "rejected", "SecurityError", message, policy.first_error_line, "syntax"
        )
    try:
        return compile(tree, AI_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError) as exc:  # e.g. 'return' outside function
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        return CompileRefusal("error", "SyntaxError", str(msg), line, None)


class CompileCache:
    """A bounded LRU of compiled code keyed by the SHA-256 of the source.

    Code objects (and refusals) are immutable, so sharing them between runs is safe. Thread-safe.
    """

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[bytes, CodeType | CompileRefusal] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, source: str) -> CodeType | CompileRefusal:
        """The compiled form of ``source``, compiling it on a miss."""
        key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        compiled = compile_ai_code(source)
        with self._lock:
            self._entries[key] = compiled
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0
