"""``Session``: one conversation's Python state, kept between runs and tool calls.

``Sandbox.session()`` returns one. Its :meth:`Session.run` keeps variables, imports, functions
and classes from one run to the next, and :meth:`Session.call` is ``Sandbox.call`` with
``run_python`` routed to this session (the other tools behave as on the sandbox). Every adapter
holds one per conversation: the OpenAI loop per loop, LangChain per toolkit, MCP per client.

A session's worker starts on its first run. It is never left unusable: a run the wall clock
had to kill, an idle time or lifetime past the policy's (``session_idle_s``,
``session_lifetime_s``) or a crash ends its state, and the next run starts clean with a
``notice`` that says so. ``close()`` (or ``Sandbox.close()``) ends it for good. Runs are
audited with the session's ``id`` (``python_session`` in the record).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.results import ErrorInfo, ExecutionResult, ToolResult

if TYPE_CHECKING:
    from ai_sandbox.backend_protocol import ExecutionSession
    from ai_sandbox.sandbox import Sandbox

__all__ = ["Session"]


class Session:
    """A conversation with the sandbox whose Python state persists. Thread-safe (one run at
    a time); close it, or use it as a context manager, to stop its worker."""

    def __init__(self, sandbox: Sandbox) -> None:
        #: Names this session in the audit log (``python_session``).
        self.id: str = secrets.token_hex(8)
        self._sandbox = sandbox
        self._lock = threading.Lock()
        self._holder = _Holder()
        # A session dropped without close() (a toolkit garbage-collected) stops its worker.
        weakref.finalize(self, self._holder.close)
        self._born = 0.0
        self._last = 0.0
        self._closed = False
        self._expired: str | None = None  # why a sweep ended the state, for the next run

    @property
    def _inner(self) -> ExecutionSession | None:
        return self._holder.inner

    @_inner.setter
    def _inner(self, inner: ExecutionSession | None) -> None:
        self._holder.inner = inner

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or ``Sandbox.close()``) ended this session."""
        return self._closed

    def run(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecutionResult:
        """Run ``code`` in this session (``Sandbox.run`` with state); never raises for the AI's
        mistakes. ``timeout_s`` may only shorten the policy's limit (else ``ConfigurationError``);
        ``inputs`` that are not JSON data raise ``InvalidInputs`` (the host's mistake).
        ``on_output`` gets printed output in chunks while the code runs (capped like
        ``stdout``; the result still holds all of it)."""
        self._sandbox._check_timeout(timeout_s)
        self._sandbox._check_inputs(inputs)
        with self._sandbox._action(
            "run_python", {"code": code, "inputs": inputs}, "session", python_session=self.id
        ) as act:
            res = self._run(code, inputs, timeout_s, on_output)
            self._sandbox._finish_run(act, res)
            return res

    def call(
        self,
        tool_name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        on_output: Callable[[str], None] | None = None,
    ) -> ToolResult:
        """``Sandbox.call`` in this conversation: ``run_python`` runs in this session."""
        return self._sandbox.call(tool_name, arguments, session=self, on_output=on_output)

    async def arun(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecutionResult:
        """:meth:`run` for asyncio: the event loop waits on the session's worker (no thread is
        parked; in-process sessions run in a thread)."""
        self._sandbox._check_timeout(timeout_s)
        self._sandbox._check_inputs(inputs)
        with self._sandbox._action(
            "run_python", {"code": code, "inputs": inputs}, "session", python_session=self.id
        ) as act:
            res = await self._arun(code, inputs, timeout_s, on_output)
            self._sandbox._finish_run(act, res)
            return res

    async def acall(
        self,
        tool_name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        on_output: Callable[[str], None] | None = None,
    ) -> ToolResult:
        """``Sandbox.acall`` in this conversation."""
        return await self._sandbox.acall(tool_name, arguments, session=self, on_output=on_output)

    def reset(self) -> None:
        """Forget the Python state now; the next run starts clean (without a notice: asked)."""
        with self._lock:
            self._end_inner()

    def close(self) -> None:
        """End the session and its worker. Idempotent."""
        with self._lock:
            self._closed = True
            self._end_inner()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals (Sandbox.call runs through _run; its own action records the call) ---------
    def _run(
        self,
        code: str,
        inputs: Mapping[str, Any] | None,
        timeout_s: float | None,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecutionResult:
        with self._lock:
            if self._closed:
                return self._closed_result("the session was closed")
            expired, self._expired = self._expired or self._expiry(time.monotonic()), None
            if expired is not None:
                self._end_inner()
            try:
                inner = self._live()
            except ConfigurationError as exc:  # the Sandbox was closed
                self._closed = True
                return self._closed_result(str(exc))
            res = _run_inner(inner, code, inputs, timeout_s, on_output)
            self._last = time.monotonic()
        return _with_expiry(res, expired)

    async def _arun(
        self,
        code: str,
        inputs: Mapping[str, Any] | None,
        timeout_s: float | None,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecutionResult:
        """:meth:`_run` for asyncio (the lock is taken without blocking the loop)."""
        from ai_sandbox.isolation.worker_backend import WorkerSession

        while not self._lock.acquire(blocking=False):
            await asyncio.sleep(0.002)
        try:
            if self._closed:
                return self._closed_result("the session was closed")
            expired, self._expired = self._expired or self._expiry(time.monotonic()), None
            if expired is not None:
                self._end_inner()
            try:
                inner = self._live()
            except ConfigurationError as exc:
                self._closed = True
                return self._closed_result(str(exc))
            if isinstance(inner, WorkerSession):
                res = await inner.arun(code, inputs, timeout_s=timeout_s, on_output=on_output)
            else:
                res = await asyncio.to_thread(_run_inner, inner, code, inputs, timeout_s, on_output)
            self._last = time.monotonic()
        finally:
            self._lock.release()
        return _with_expiry(res, expired)

    def _live(self) -> ExecutionSession:
        if self._inner is None:
            self._inner = self._sandbox._get_backend().session()
            self._born = self._last = time.monotonic()
        return self._inner

    def _expiry(self, now: float) -> str | None:
        """Why the live state has expired under the policy, if it has."""
        if self._inner is None:
            return None
        policy = self._sandbox.policy
        if now - self._last > policy.session_idle_s:
            return f"the session was idle for more than {policy.session_idle_s:g} s"
        if now - self._born > policy.session_lifetime_s:
            return f"the session reached its lifetime of {policy.session_lifetime_s:g} s"
        return None

    def _sweep(self, now: float) -> None:
        """End the state now if it has expired (so an idle worker does not wait for the next
        run); skipped while a run holds the session."""
        if not self._lock.acquire(blocking=False):
            return
        try:
            reason = self._expiry(now)
            if reason is not None:
                self._expired = reason  # the next run says so
                self._end_inner()
        finally:
            self._lock.release()

    def _end_inner(self) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            inner.close()

    def _closed_result(self, why: str) -> ExecutionResult:
        error = ErrorInfo(type="SessionClosed", message=f"{why}; start a new session")
        return ExecutionResult(
            status="error",
            error=error,
            isolation=self._sandbox.policy.isolation,
        )


def _with_expiry(res: ExecutionResult, expired: str | None) -> ExecutionResult:
    """``res`` with a notice that the state expired before it ran, if it did."""
    if expired is None:
        return res
    notice = (
        f"the Python state was reset because {expired}; variables, imports and functions "
        "defined before are gone"
    )
    joined = notice if res.notice is None else f"{notice}; {res.notice}"
    return res.model_copy(update={"notice": joined})


class _Holder:
    """The backend session of a :class:`Session`, apart from it so a finalizer can close it."""

    __slots__ = ("inner",)

    def __init__(self) -> None:
        self.inner: ExecutionSession | None = None

    def close(self) -> None:
        inner, self.inner = self.inner, None
        if inner is not None:
            inner.close()


def _run_inner(
    inner: ExecutionSession,
    code: str,
    inputs: Mapping[str, Any] | None,
    timeout_s: float | None,
    on_output: Callable[[str], None] | None,
) -> ExecutionResult:
    """Run on the backend's session; a worker session takes the per-call limit and streams
    output as it happens (in-process runs have no time limit at all, and hand their output
    over when they end)."""
    from ai_sandbox.isolation.worker_backend import WorkerSession

    if isinstance(inner, WorkerSession):
        return inner.run(code, inputs, timeout_s=timeout_s, on_output=on_output)
    result = inner.run(code, inputs)
    if on_output is not None and result.stdout:
        on_output(result.stdout)
    return result
