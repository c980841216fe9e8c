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

import atexit
import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
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
    from ai_sandbox.sandbox import Sandbox

__all__ = ["SandboxCache", "execute_ai_code"]


@dataclass(slots=True)
class _Entry:
    sandbox: Sandbox
    users: int = 0
    evicted: bool = False


class SandboxCache:
    """The sandboxes :func:`execute_ai_code` reuses: one per (process, root, policy). Thread-safe.

    What it costs: each entry keeps a ``Sandbox`` open, i.e. one zygote process and
    ``policy.pool_size`` ready workers, until it is evicted (at most ``maxsize`` entries, least
    recently used first), :meth:`clear` is called, or the interpreter exits (``atexit``). A
    sandbox in use is closed only when its last caller is done. A forked child never reuses its
    parent's sandboxes (the process id is part of the key).
    """

    def __init__(self, maxsize: int = 4) -> None:
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, str, SandboxPolicy], _Entry] = OrderedDict()

    @contextlib.contextmanager
    def borrow(
        self, root: str | os.PathLike[str] | None, policy: SandboxPolicy | None
    ) -> Iterator[Sandbox]:
        """The shared sandbox for ``root`` and ``policy``, held for the ``with`` block."""
        from ai_sandbox.policy import SandboxPolicy
        from ai_sandbox.sandbox import Sandbox

        chosen = policy if policy is not None else SandboxPolicy()
        key = (os.getpid(), str(Path.cwd() if root is None else Path(root).resolve()), chosen)
        entry = self._take(key)
        if entry is None:
            built = Sandbox(root, chosen)  # outside the lock: it starts processes
            entry = self._add(key, built)
            if entry.sandbox is not built:  # another thread was quicker
                built.close()
        try:
            yield entry.sandbox
        finally:
            self._give_back(entry)

    def clear(self) -> None:
        """Close every idle sandbox now (busy ones when their callers are done)."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                entry.evicted = True
            idle = [entry for entry in entries if entry.users == 0]
        for entry in idle:
            entry.sandbox.close()

    def _take(self, key: tuple[int, str, SandboxPolicy]) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.users += 1
                self._entries.move_to_end(key)
            return entry

    def _add(self, key: tuple[int, str, SandboxPolicy], sandbox: Sandbox) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry(sandbox)
            entry.users += 1
            self._entries.move_to_end(key)
            idle: list[_Entry] = []
            while len(self._entries) > self.maxsize:
                _, old = self._entries.popitem(last=False)
                old.evicted = True
                if old.users == 0:
                    idle.append(old)
        for old in idle:
            old.sandbox.close()
        return entry

    def _give_back(self, entry: _Entry) -> None:
        with self._lock:
            entry.users -= 1
            close = entry.evicted and entry.users == 0
        if close:
            entry.sandbox.close()


#: The one cache :func:`execute_ai_code` uses (a lock-guarded, bounded cache of open
#: sandboxes, closed at interpreter exit; see :class:`SandboxCache` for what it costs).
SANDBOXES = SandboxCache()
atexit.register(SANDBOXES.clear)


def execute_ai_code(
    code: str,
    inputs: Mapping[str, Any] | None = None,
    *,
    policy: SandboxPolicy | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Any:
    """Run ``code`` in the sandbox and return the value it assigned to ``result`` (or None).

    Raises ``SecurityError`` (refused by the policy), ``ExecutionError`` (the code raised;
    type, message and line), ``ExecutionTimeout`` or ``ResourceLimitExceeded``; inputs that
    are not JSON data raise ``InvalidInputs`` (a ``TypeError``).

    It reuses one open :class:`~ai_sandbox.Sandbox` per (root, policy) from
    :data:`SANDBOXES`, so a call costs what ``Sandbox.run`` costs (a fresh worker from the
    pool), not the start of a sandbox (a zygote, about 100 ms). The price: that sandbox's
    zygote and ready workers stay until the interpreter exits or ``SANDBOXES.clear()``.
    """
    with SANDBOXES.borrow(root, policy) as sandbox:
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
