"""The one-method protocol every execution backend implements.

``Sandbox`` holds one backend, chosen from ``policy.isolation`` by
:func:`ai_sandbox.isolation.create_backend`: :class:`~ai_sandbox.isolation.worker_backend.
WorkerBackend` (``"strict"``, ``"process"``: a fresh worker process per run) or
:class:`~ai_sandbox.inprocess_backend.InProcessBackend` (``"none"``: the reference the isolated
ones must agree with).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from ai_sandbox.results import ExecutionResult

__all__ = ["ExecutionBackend", "ExecutionSession"]


@runtime_checkable
class ExecutionSession(Protocol):
    """A long-lived execution context that keeps variables between runs."""

    def run(self, code: str, inputs: Mapping[str, Any] | None = None) -> ExecutionResult: ...

    def close(self) -> None: ...


@runtime_checkable
class ExecutionBackend(Protocol):
    """Runs one snippet and reports what happened; never raises for the AI's mistakes."""

    #: Isolation layers this backend applies to every run (reported in every result).
    layers: tuple[str, ...]

    def execute(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecutionResult: ...

    def session(self) -> ExecutionSession: ...

    def close(self) -> None: ...
