"""Running AI code: one namespace, the guards, and a JSON payload that never raises.

This module runs inside the isolated worker, so it imports nothing heavy (no pydantic): the
policy object is accepted, not imported. ``execute_payload`` and ``RestrictedSession.run`` catch
every ``BaseException`` the AI's code raises (``SystemExit``, ``KeyboardInterrupt``,
``GeneratorExit``, ``RecursionError``, ``MemoryError``...) and describe it as JSON data::

    {"status": "ok" | "error" | "rejected" | "limit", "result": <JSON>, "stdout": str,
     "error": None | {"type", "message", "line", "rule"}, "duration_ms": float}

``language_guard=False`` is a test-only switch for the OS-isolation tests (never reachable from a
policy): the code is then compiled with plain ``compile`` and runs with the real builtins, so
only the operating system's layers stand in its way.
"""

from __future__ import annotations

import builtins
import contextlib
import decimal
import time
from collections.abc import Mapping
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

from ai_sandbox.exceptions import ConfigurationError, ResourceLimitExceeded, SecurityError
from ai_sandbox.executor.compiler import CompileCache, CompileRefusal
from ai_sandbox.executor.context import AI_FILENAME, FileAccess, RunContext, ai_line
from ai_sandbox.executor.display import is_displayed
from ai_sandbox.executor.files import make_open
from ai_sandbox.executor.guards import make_guards
from ai_sandbox.executor.inputs import (
    ResultError,
    copy_inputs,
    replace_lone_surrogates,
    to_json_result,
)
from ai_sandbox.executor.modules import make_import
from ai_sandbox.executor.payload import error_payload, message_of
from ai_sandbox.executor.replacements import running
from ai_sandbox.executor.safe_builtins import make_builtins

if TYPE_CHECKING:
    from ai_sandbox.policy import SandboxPolicy
    from ai_sandbox.results import ExecutionResult

__all__ = [
    "COMPILE_CACHE",
    "InProcessSession",
    "RestrictedSession",
    "execute_payload",
    "run_to_result",
]

#: Compiled code by source hash, shared by every run in this process. A bounded cache of
#: immutable code objects (not configuration): repeated calls pay compile once.
COMPILE_CACHE = CompileCache(maxsize=256)


def _refused(exc: SecurityError, line: int | None) -> dict[str, Any]:
    return error_payload("rejected", "SecurityError", message_of(exc), line, exc.rule)


def _describe_failure(exc: BaseException, ctx: RunContext) -> dict[str, Any]:
    """The payload for an exception that ended the run (the first refusal wins)."""
    if ctx.violation is not None:
        refused, line = ctx.violation
        return _refused(refused, line)
    line = ai_line(exc.__traceback__)
    if isinstance(exc, SecurityError):
        return _refused(exc, line)
    if isinstance(exc, ResourceLimitExceeded):
        return error_payload("limit", "ResourceLimitExceeded", message_of(exc), line, exc.limit)
    if isinstance(exc, MemoryError):
        return error_payload("limit", "MemoryError", "the code ran out of memory", line, "memory")
    if isinstance(exc, ResultError):
        return error_payload("error", "TypeError", message_of(exc), None, None)
    return error_payload("error", type(exc).__name__, message_of(exc), line, None)


class RestrictedSession:
    """One namespace kept between runs (what ``Sandbox.session()`` builds on)."""

    def __init__(
        self, *, policy: SandboxPolicy, fs: FileAccess, language_guard: bool = True
    ) -> None:
        self._ctx = RunContext(policy, fs)
        self._guarded = language_guard
        self._namespace = self._build_namespace()

    def _build_namespace(self) -> dict[str, Any]:
        ctx = self._ctx
        if not self._guarded:
            return {"__builtins__": builtins, "__name__": "__main__"}
        guards = make_guards(ctx)
        namespace = dict(guards.namespace)
        namespace["__builtins__"] = make_builtins(
            ctx,
            guards,
            import_hook=make_import(ctx.policy.allowed_imports, ctx.refuse, ctx, guards),
            open_file=make_open(ctx),
        )
        guards.namespace_globals = namespace  # what typing.get_type_hints resolves names in
        return namespace

    def attach(self, fs: FileAccess) -> None:
        """Give the namespace its file access: a worker's channel, for a session the zygote
        built before the worker existed (nothing has run in it yet)."""
        self._ctx.fs = fs
        self._ctx.reset()

    def warm_up(self, code: str, inputs: Mapping[str, Any] | None = None) -> None:
        """Run our own ``code`` (never the AI's) and remove every name it left behind: the
        pages its run touches are warm, and the namespace is as if it never ran."""
        before = set(self._namespace)
        self.run(code, inputs)
        for name in [name for name in self._namespace if name not in before]:
            del self._namespace[name]
        self._ctx.reset()

    def _compile(self, code: str) -> CodeType | CompileRefusal:
        if self._guarded:
            return COMPILE_CACHE.get(code)
        try:
            return compile(code, AI_FILENAME, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            return CompileRefusal("error", type(exc).__name__, message_of(exc), line, None)

    def run(self, code: str, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run ``code`` in this session's namespace; never raises."""
        started = time.perf_counter()
        ctx = self._ctx
        ctx.reset()
        try:
            payload = self._run(code, inputs)
        except BaseException as exc:
            payload = _describe_failure(exc, ctx)
        payload["stdout"] = replace_lone_surrogates(ctx.output.text())
        payload["duration_ms"] = (time.perf_counter() - started) * 1000.0
        payload.setdefault("error", None)
        return payload

    def _run(self, code: str, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
        ctx = self._ctx
        if not isinstance(code, str):
            return error_payload("error", "TypeError", "code must be a string of Python source")
        try:
            copied = copy_inputs(inputs)
        except SecurityError as exc:
            return _refused(exc, None)
        compiled = self._compile(code)
        if isinstance(compiled, CompileRefusal):
            return error_payload(
                compiled.status, compiled.type, compiled.message, compiled.line, compiled.rule
            )
        namespace = self._namespace
        namespace.pop("result", None)
        namespace.update(copied)
        # The one exec: restricted code in a guarded namespace, or (test-only switch, see the
        # module docstring) plain code that only the OS layers contain. The thread's decimal
        # context is the host's (in-process runs share the caller's thread): the code gets a
        # fresh one, and whatever it sets (decimal.setcontext) is undone. The failure is
        # described inside too: ``str(exc)`` can call the code's own methods.
        with decimal.localcontext(decimal.Context()), running(ctx):
            try:
                if self._guarded:
                    exec(compiled, namespace)  # noqa: S102  # nosec B102
                else:
                    with contextlib.redirect_stdout(ctx.output):
                        exec(compiled, namespace)  # noqa: S102  # nosec B102
                self._close_files()
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    self._close_files()
                return _describe_failure(exc, ctx)
        if ctx.violation is not None:
            refused, line = ctx.violation
            return _refused(refused, line)
        try:
            result = to_json_result(namespace.get("result"), ctx.policy.max_result_bytes)
        except ResourceLimitExceeded as exc:
            return error_payload("limit", "ResourceLimitExceeded", message_of(exc), None, exc.limit)
        except ResultError:
            if not is_displayed(code):  # a displayed value that is not JSON: shown as nothing
                raise
            result = None
        return {"status": "ok", "result": result, "error": None}

    def _close_files(self) -> None:
        """Save files the code left open (as the interpreter would at exit)."""
        files, self._ctx.open_files = self._ctx.open_files, []
        for handle in files:
            handle.close()


def execute_payload(
    code: str,
    inputs: Mapping[str, Any] | None,
    *,
    policy: SandboxPolicy,
    fs: FileAccess,
    language_guard: bool = True,
) -> dict[str, Any]:
    """Run ``code`` once in a fresh namespace and describe the outcome as JSON data."""
    return RestrictedSession(policy=policy, fs=fs, language_guard=language_guard).run(code, inputs)


def run_to_result(
    code: str,
    inputs: Mapping[str, Any] | None,
    *,
    fs: FileAccess,
    policy: SandboxPolicy,
    isolation: str,
    layers: tuple[str, ...],
) -> ExecutionResult:
    """In-process convenience for ``InProcessBackend``: one run as an ``ExecutionResult``.

    ``fs`` is the caller's long-lived file access (building a ``SafeFS`` per run would cost
    more than a small run itself)."""
    from ai_sandbox.results import ExecutionResult

    payload = execute_payload(code, inputs, policy=policy, fs=fs)
    return ExecutionResult(**payload, isolation=isolation, layers=layers)


class InProcessSession:
    """``ExecutionSession`` for ``isolation="none"``: a :class:`RestrictedSession` in this
    process."""

    def __init__(self, root: Path, policy: SandboxPolicy, *, layers: tuple[str, ...]) -> None:
        from ai_sandbox.security import SafeFS

        self._session: RestrictedSession | None = RestrictedSession(
            policy=policy, fs=SafeFS(root, policy)
        )
        self._layers = layers

    def run(self, code: str, inputs: Mapping[str, Any] | None = None) -> ExecutionResult:
        from ai_sandbox.results import ExecutionResult

        if self._session is None:
            raise ConfigurationError("this session is closed; start a new one")
        payload = self._session.run(code, inputs)
        return ExecutionResult(**payload, isolation="none", layers=self._layers)

    def close(self) -> None:
        self._session = None
