"""A bounded pool of ready workers, refilled in the background.

Workers are single use: :meth:`WorkerPool.take` hands one out and the caller discards it after
its job. A background thread keeps ``size`` workers forked, locked down and waiting, so a call
pays only the channel round trip; when the pool is empty a call starts workers on demand: its
own, and (in the same request to the zygote, which forks them back to back) what the pool
lacks. A worker is verified (its hello names every required layer) when it is taken.
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
#: At most this many workers asked for at once (the zygote forks them back to back).
_MAX_BATCH = 8
#: Pooled workers that may turn out dead (e.g. with their zygote) before one call gives up.
_MAX_STALE = 16

#: ``start(count, now=...)``: up to ``count`` unverified workers (at least one, or an error),
#: the first ``now`` of them for a caller that runs its job at once.
Start = Callable[..., list[Worker]]


class WorkerPool:
    """Ready workers from ``start``; thread-safe."""

    def __init__(self, start: Start, discard: Callable[[Worker], None], *, size: int) -> None:
        self._start = start
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
        """A verified worker: a waiting one, or a freshly started one if none is waiting.

        Taking does not wake the refill thread: call :meth:`refill` once the worker's job is
        done, so forking its replacement does not compete with the job for the CPU. A waiting
        worker that fails its check (it died, or a layer could not be applied: a view's walk
        past its time budget on a busy machine, say) is dropped and the next one tried, as a
        failed refill always was; a worker started for this call that fails its check raises
        (``IsolationUnavailable`` names the layer: fail closed).
        """
        for _ in range(_MAX_STALE):
            with self._cond:
                if self._closed:
                    raise ConfigurationError("this Sandbox is closed")
                waiting = self._ready.popleft() if self._ready else None
                lacking = self._size - len(self._ready) - self._refilling
            if waiting is None:
                return self._start_for_caller(min(max(lacking, 0), _MAX_BATCH - 1))
            try:
                return waiting.ready()
            except SandboxError:
                continue  # closed by ready(); the next one, or a fresh one, is checked too
        return self._start_for_caller(0)

    def _start_for_caller(self, extra: int) -> Worker:
        """One worker for the caller, and ``extra`` more for the pool in the same request.

        None of them warms up: a caller finding the pool empty means calls come faster than
        the pool refills, so the extra ones will be taken soon (a warm-up would cost more CPU
        than it saves the job)."""
        started = self._start(1 + extra, now=1 + extra)
        mine, spare = started[0], started[1:]
        if spare:
            with self._cond:
                closed = self._closed
                if not closed:
                    self._ready.extend(spare)
                    self._cond.notify_all()
            if closed:
                for worker in spare:
                    self._discard(worker)
        return mine.ready()

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
                wanted = min(self._size - len(self._ready) - self._refilling, _MAX_BATCH)
                self._refilling += wanted
            workers: list[Worker] = []
            try:
                workers = self._start(wanted, now=0)
            except (SandboxError, OSError, TimeoutError):
                workers = []
            with self._cond:
                self._refilling -= wanted
                closed = self._closed
                if not closed:
                    self._ready.extend(workers)
                    self._cond.notify_all()
                    if not workers:
                        self._cond.wait(_RETRY_DELAY_S)
            if closed:
                for worker in workers:
                    self._discard(worker)
