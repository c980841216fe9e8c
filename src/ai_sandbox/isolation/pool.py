"""A bounded pool of ready workers, refilled in the background.

Workers are single use: :meth:`WorkerPool.take` hands one out and the caller discards it after
its job. A background thread keeps ``size`` workers forked, locked down and waiting, so a call
pays only the channel round trip; when the pool is empty a call forks one on demand.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

from ai_sandbox.exceptions import ConfigurationError, SandboxError
from ai_sandbox.isolation.zygote_client import Worker

__all__ = ["WorkerPool"]

#: After a failed refill, wait this long before trying again (the zygote may be gone).
_RETRY_DELAY_S = 0.5


class WorkerPool:
    """Ready workers from ``spawn``; thread-safe."""

    def __init__(
        self,
        spawn: Callable[[], Worker],
        discard: Callable[[Worker], None],
        *,
        size: int,
        standby: Callable[[], Worker] | None = None,
    ) -> None:
        self._spawn = spawn
        #: How the refill thread spawns (a worker that will wait in the pool); ``spawn`` by
        #: default. ``spawn`` itself is for a caller that takes the worker at once.
        self._standby = standby or spawn
        self._discard = discard
        self._size = size
        self._ready: collections.deque[Worker] = collections.deque()
        self._refilling = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._refill, name="ai-sandbox-pool", daemon=True)

    def start(self, first: Worker | None = None) -> None:
        """Start refilling; ``first`` (already spawned) becomes the first ready worker."""
        with self._cond:
            if first is not None:
                self._ready.append(first)
        if self._size > 0:
            self._thread.start()

    def take(self) -> Worker:
        """A ready worker, or a freshly spawned one if none is waiting.

        Taking does not wake the refill thread: call :meth:`refill` once the worker's job is
        done, so forking its replacement does not compete with the job for the CPU.
        """
        with self._cond:
            if self._closed:
                raise ConfigurationError("this Sandbox is closed")
            if self._ready:
                return self._ready.popleft()
        return self._spawn()

    def refill(self) -> None:
        """Wake the refill thread to top the pool up in the background."""
        with self._cond:
            self._cond.notify_all()

    def ready_count(self) -> int:
        with self._cond:
            return len(self._ready)

    def close(self) -> None:
        """Stop refilling and discard every waiting worker."""
        with self._cond:
            self._closed = True
            waiting = list(self._ready)
            self._ready.clear()
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        for worker in waiting:
            self._discard(worker)

    def _refill(self) -> None:
        while True:
            with self._cond:
                while not self._closed and len(self._ready) + self._refilling >= self._size:
                    self._cond.wait()
                if self._closed:
                    return
                self._refilling += 1
            worker: Worker | None = None
            try:
                worker = self._standby()
            except (SandboxError, OSError, TimeoutError):
                worker = None
            with self._cond:
                self._refilling -= 1
                if worker is not None and not self._closed:
                    self._ready.append(worker)
                    self._cond.notify_all()
                    continue
                closed = self._closed
                if not closed:
                    self._cond.wait(_RETRY_DELAY_S)
            if worker is not None:
                self._discard(worker)
