"""Keep a live zygote: start a new one when it died, within a restart budget.

If the zygote is killed from outside (an OOM killer, an operator), its workers die with it
(``PR_SET_PDEATHSIG``) and every later spawn would fail. The supervisor notices the failed
spawn, starts a fresh zygote (same root, policy and checks: a missing layer still fails
closed) and retries once. A zygote that keeps dying, or cannot start at all, is not restarted
in a loop: after ``max_restarts`` within ``window_s`` every spawn raises ``WorkerError``.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ai_sandbox.exceptions import ConfigurationError, WorkerError
from ai_sandbox.isolation.zygote_client import Worker, ZygoteClient

_T = TypeVar("_T")

__all__ = ["ZygoteSupervisor"]


class ZygoteSupervisor:
    """Owns the current :class:`ZygoteClient`; thread-safe."""

    def __init__(
        self,
        start: Callable[[], ZygoteClient],
        *,
        max_restarts: int = 3,
        window_s: float = 60.0,
    ) -> None:
        self._start = start
        self._max_restarts = max_restarts
        self._window_s = window_s
        self._lock = threading.Lock()
        self._restarts: collections.deque[float] = collections.deque()
        self._gave_up: str | None = None
        self._closed = False
        self._current = start()
        #: How many zygotes were started after the first (for diagnostics and tests).
        self.restarts = 0

    @property
    def current(self) -> ZygoteClient:
        """The zygote new workers come from (it may have died since)."""
        return self._current

    def spawn(self, *, session: bool = False, standby: bool = False) -> Worker:
        """A new worker; if the zygote has died, start a new zygote first (within budget).

        A ``standby`` worker will wait in the pool: it warms up while no job has come."""
        return self._on_a_live_zygote(lambda zygote: zygote.spawn(session=session, standby=standby))

    def start_workers(self, count: int, *, now: int = 0) -> list[Worker]:
        """Up to ``count`` new workers from one request, not yet verified (see
        :meth:`ZygoteClient.start_workers`): at least one, or the error. If the zygote has
        died, start a new zygote first (within budget)."""

        def start(zygote: ZygoteClient) -> list[Worker]:
            workers, failure = zygote.start_workers(count, now=now)
            if failure is not None and not workers:
                raise failure
            return workers

        return self._on_a_live_zygote(start)

    def _on_a_live_zygote(self, action: Callable[[ZygoteClient], _T]) -> _T:
        """``action(zygote)``; if it fails because the zygote has died, once more on a new one."""
        zygote = self._current
        try:
            return action(zygote)
        except WorkerError:
            if zygote.alive:
                raise  # the zygote is fine; this worker failed
        return action(self._replace(zygote))

    def _replace(self, dead: ZygoteClient) -> ZygoteClient:
        with self._lock:
            if self._closed:
                raise ConfigurationError("this Sandbox is closed")
            if self._current is not dead:
                return self._current  # another thread already replaced it
            if self._gave_up is not None:
                raise WorkerError(self._gave_up)
            now = time.monotonic()
            while self._restarts and now - self._restarts[0] > self._window_s:
                self._restarts.popleft()
            if len(self._restarts) >= self._max_restarts:
                self._gave_up = (
                    f"the isolation zygote stopped {len(self._restarts) + 1} times within "
                    f"{self._window_s:g} s and is not restarted again (fail closed); "
                    "close this Sandbox and create a new one"
                )
                raise WorkerError(self._gave_up)
            self._restarts.append(now)
            dead.close()
            self._current = self._start()  # may raise: this spawn fails, the budget counts it
            self.restarts += 1
            return self._current

    def close(self) -> None:
        """Stop the current zygote; no restarts afterwards. Idempotent."""
        with self._lock:
            self._closed = True
            zygote = self._current
        zygote.close()
