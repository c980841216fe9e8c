"""OS isolation: choosing and building the execution backend for a policy.

(Stub until the worker backend lands: only ``isolation="none"`` is available.)
"""

from __future__ import annotations

from pathlib import Path

from ai_sandbox.backend import ExecutionBackend, InProcessBackend
from ai_sandbox.exceptions import IsolationUnavailable
from ai_sandbox.policy import SandboxPolicy

__all__ = ["create_backend"]


def create_backend(root: Path, policy: SandboxPolicy) -> ExecutionBackend:
    """The backend ``policy.isolation`` asks for, or ``IsolationUnavailable`` (fail closed)."""
    if policy.isolation == "none":
        return InProcessBackend(root, policy)
    raise IsolationUnavailable("worker_process", "the isolated worker is not built yet")
