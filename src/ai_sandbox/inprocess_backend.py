"""``isolation="none"``: the in-process backend, RestrictedPython only.

It is the reference the isolated backends (:mod:`ai_sandbox.isolation.worker_backend`) must
agree with, and implements the same protocol (:mod:`ai_sandbox.backend_protocol`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ai_sandbox.backend_protocol import ExecutionSession
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import ExecutionResult

__all__ = ["InProcessBackend"]


class InProcessBackend:
    """``isolation="none"``: RestrictedPython only, in the host process.

    There is no hard timeout, memory limit or OS boundary here: use it for tests and trusted
    code only. Constructing it warns, so the choice is never silent.
    """

    layers: tuple[str, ...] = ("restricted_python",)

    def __init__(self, root: Path, policy: SandboxPolicy, *, warn: bool = True) -> None:
        from ai_sandbox.security import SafeFS

        self._root = root
        self._policy = policy
        self._fs = SafeFS(root, policy)
        if warn:
            warnings.warn(
                'isolation="none": AI code runs in this process with RestrictedPython only '
                "(no OS isolation, no hard timeout or memory limit). Use it for trusted code.",
                UserWarning,
                stacklevel=4,
            )

    def execute(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecutionResult:
        """Run ``code`` here. ``timeout_s`` is accepted for the protocol's sake: nothing bounds
        an in-process run's time; ``on_output`` gets the whole output once the run ends."""
        from ai_sandbox.executor.runtime import run_to_result

        result = run_to_result(
            code, inputs, fs=self._fs, policy=self._policy, isolation="none", layers=self.layers
        )
        if on_output is not None and result.stdout:
            on_output(result.stdout)
        return result

    def session(self) -> ExecutionSession:
        from ai_sandbox.executor.runtime import InProcessSession

        return InProcessSession(self._root, self._policy, layers=self.layers)

    def close(self) -> None:
        self._fs.close()
