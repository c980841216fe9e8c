"""The restricted executor: RestrictedPython compile + guards, the only place with ``exec``.

``execute_ai_code`` is the one-call convenience: it runs the code through a
:class:`~ai_sandbox.Sandbox` and returns what the code assigned to ``result``, raising the
matching :class:`~ai_sandbox.SandboxError` otherwise. The pieces live in private-by-convention
modules: ``compiler`` (policy + compile cache; ``transformer``, ``fast_transformer`` and
``hoisting`` behind it), ``guards``, ``safe_builtins``, ``modules`` (read-only module proxies, the
import hook, ``PRELOAD_MODULES`` for workers), ``files`` (``open``), ``inputs`` (JSON in and out)
and ``runtime`` (running code; imported by the isolated worker).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ai_sandbox.exceptions import (
    ExecutionError,
    ExecutionTimeout,
    ResourceLimitExceeded,
    SandboxError,
    SecurityError,
)

if TYPE_CHECKING:
    from ai_sandbox.policy import SandboxPolicy

__all__ = ["execute_ai_code"]


def execute_ai_code(
    code: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    policy: SandboxPolicy | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Any:
    """Run ``code`` in the sandbox and return the value it assigned to ``result`` (or None).

    Raises ``SecurityError`` (refused by the policy), ``ExecutionError`` (the code raised;
    type, message and line), ``ExecutionTimeout`` or ``ResourceLimitExceeded``.
    """
    from ai_sandbox.sandbox import Sandbox

    with Sandbox(root, policy) as sandbox:
        outcome = sandbox.run(code, inputs)
        timeout_s = sandbox.policy.timeout_s
    if outcome.status == "ok":
        return outcome.result
    error = outcome.error
    message = error.message if error is not None else outcome.status
    if outcome.status == "rejected":
        rule = error.rule if error is not None and error.rule else "policy"
        raise SecurityError(message, rule=rule)
    if outcome.status == "timeout":
        raise ExecutionTimeout(timeout_s)
    if outcome.status == "limit":
        limit = error.rule if error is not None and error.rule else "limit"
        raise ResourceLimitExceeded(limit, message)
    if outcome.status == "error" and error is not None:
        raise ExecutionError(error.type, error.message, error.line)
    raise SandboxError(f"execution failed: {message}")
