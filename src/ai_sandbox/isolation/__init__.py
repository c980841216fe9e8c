"""OS isolation: every run in a locked-down, single-use worker process.

The pieces, host side first:

* :mod:`.backend` -- ``WorkerBackend`` (``execute``, ``session``) and ``WorkerSession``;
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
    from ai_sandbox.backend import ExecutionBackend
    from ai_sandbox.policy import SandboxPolicy

__all__ = ["create_backend"]


def create_backend(root: Path, policy: SandboxPolicy) -> ExecutionBackend:
    """The backend ``policy.isolation`` asks for.

    ``"none"`` runs in this process (with a warning); ``"strict"`` and ``"process"`` start a
    zygote and run every call in a fresh worker. ``strict`` raises ``IsolationUnavailable``
    naming the first missing layer (fail closed).
    """
    if policy.isolation == "none":
        from ai_sandbox.backend import InProcessBackend

        return InProcessBackend(root, policy)
    if policy.isolation in ("strict", "process"):
        from ai_sandbox.isolation.backend import WorkerBackend

        return WorkerBackend(root, policy)
    raise ConfigurationError(f"unknown isolation level {policy.isolation!r}")
