"""OS isolation: every run in a locked-down, single-use worker process.

The pieces, host side first:

* :mod:`.worker_backend` -- ``WorkerBackend`` (``execute``, ``session``) and ``WorkerSession``;
* :mod:`.pool` -- ready workers, forked ahead and refilled in the background;
* :mod:`.exchange` -- one job on one worker: wall-clock kill, file requests, result checks;
* :mod:`.broker` -- the host answering a worker's file requests through ``SafeFS``;
* :mod:`.zygote_client` / :mod:`.zygote` -- the small parent process that forks workers;
* :mod:`.supervisor` -- restarts a zygote that died, within a restart budget;
* :mod:`.worker` -- a worker's life: lockdown, hello, one job (or a session), exit;
* :mod:`.protocol` / :mod:`.limits` -- size-capped JSON frames, never pickle;
* :mod:`.layers` -- the kernel layers (namespaces, rlimits, privileges, Landlock, seccomp);
* :mod:`.doctor` -- ``ai-sandbox doctor``: each layer and a live containment check.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ai_sandbox.exceptions import ConfigurationError

if TYPE_CHECKING:
    # Imported lazily: the zygote imports this package and must stay small (no pydantic).
    from ai_sandbox.backend_protocol import ExecutionBackend
    from ai_sandbox.policy import SandboxPolicy

__all__ = ["check_language", "check_preload", "create_backend"]


def check_language(policy: SandboxPolicy) -> None:
    """Refuse full Python outside strict isolation, also for a policy built with
    ``model_copy(update=...)`` (which skips the policy's own validation)."""
    language = getattr(policy, "language", "restricted")
    if language not in ("restricted", "python"):
        raise ConfigurationError(f"unknown language {language!r}")
    if language == "python" and policy.isolation != "strict":
        raise ConfigurationError(
            f'language="python" needs isolation="strict" (got {policy.isolation!r}): full '
            "Python has no language guard, so every OS layer must hold it"
        )


def check_preload(policy: SandboxPolicy) -> None:
    """Refuse a ``preload`` module that is not installed, here on the host, with the fix."""
    import importlib.util

    for name in getattr(policy, "preload", ()):
        top = name.split(".")[0]
        try:
            found = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            extra = (
                " (install the data extra: pip install 'ai-sandbox[data]')"
                if top in ("numpy", "pandas", "matplotlib")
                else ""
            )
            raise ConfigurationError(f"preload: module {name!r} is not installed{extra}")


def create_backend(root: Path, policy: SandboxPolicy) -> ExecutionBackend:
    """The backend ``policy.isolation`` asks for.

    ``"none"`` runs in this process (with a warning); ``"strict"`` and ``"process"`` start a
    zygote and run every call in a fresh worker. ``strict`` raises ``IsolationUnavailable``
    naming the first missing layer (fail closed).
    """
    check_language(policy)
    check_preload(policy)
    if policy.isolation == "none":
        from ai_sandbox.inprocess_backend import InProcessBackend

        return InProcessBackend(root, policy)
    if policy.isolation in ("strict", "process"):
        from ai_sandbox.isolation.worker_backend import WorkerBackend

        return WorkerBackend(root, policy)
    raise ConfigurationError(f"unknown isolation level {policy.isolation!r}")
