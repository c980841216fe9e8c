"""``WorkerBackend``: every run in a fresh, locked-down, single-use worker process.

One backend owns one zygote (a small parent that forks workers), a pool of ready workers and
the host side of file access. ``execute`` takes a ready worker, runs one job on it and throws it
away; ``session`` keeps one worker for a series of runs. Thread-safe: concurrent calls run in
parallel workers, at most ``max_parallel`` at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import signal
import threading
import time
import weakref
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from ai_sandbox.backend_protocol import ExecutionSession
from ai_sandbox.exceptions import ConfigurationError, SandboxError, SecurityError
from ai_sandbox.executor.inputs import copy_inputs
from ai_sandbox.isolation.broker import Broker
from ai_sandbox.isolation.exchange import Job, Outcome, run_job
from ai_sandbox.isolation.pool import WorkerPool
from ai_sandbox.isolation.protocol import encode_json
from ai_sandbox.isolation.streaming import OutputCallback
from ai_sandbox.isolation.supervisor import ZygoteSupervisor
from ai_sandbox.isolation.zygote_client import Worker, ZygoteClient
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import ErrorInfo, ExecutionResult
from ai_sandbox.security import FileAccess, SafeFS

__all__ = ["WorkerBackend", "WorkerSession"]

#: Upper bound on concurrently running workers per backend.
_MAX_PARALLEL_CAP = 64


class WorkerBackend:
    """``isolation="strict"`` / ``"process"``: the OS is the boundary.

    ``_language_guard=False`` switches RestrictedPython off inside the workers. It exists only
    so tests and ``ai-sandbox doctor`` can prove the OS layers hold on their own; no policy can
    reach it.
    """

    layers: tuple[str, ...]

    def __init__(self, root: Path, policy: SandboxPolicy, *, _language_guard: bool = True) -> None:
        from ai_sandbox.isolation import check_language, check_preload

        check_language(policy)
        check_preload(policy)
        self._root = root
        self._policy = policy
        # Full Python has no language guard to report (only the OS layers hold it).
        guarded = _language_guard and policy.language == "restricted"
        self._guard: tuple[str, ...] = ("restricted_python",) if guarded else ()
        fs = SafeFS(root, policy)
        try:
            self._zygotes = ZygoteSupervisor(
                lambda: ZygoteClient.start(root, policy, language_guard=_language_guard)
            )
        except BaseException:
            fs.close()
            raise
        try:
            # Spawn one worker now: a layer that cannot be applied fails here (fail closed).
            first = self._zygotes.spawn(standby=True)
        except BaseException:
            self._zygotes.close()
            fs.close()
            raise
        # A python-mode worker opens files itself, inside its kernel-enforced file view; it has
        # no use for the host's file broker, so the broker is a closed door (no side channel
        # around the view's rules or its write quota).
        self._broker = Broker(_broker_files(fs, policy), policy)
        self._sessions: weakref.WeakSet[WorkerSession] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False
        cpus = os.cpu_count() or 1
        #: At most this many workers run jobs at once; further calls wait for a slot.
        self.max_parallel = min(_MAX_PARALLEL_CAP, 2 * max(cpus, policy.pool_size, 1))
        self._slots = threading.BoundedSemaphore(self.max_parallel)
        self.layers = self._layers_of(first)
        self._pool = WorkerPool(self._zygotes.start_workers, self._discard, size=policy.pool_size)
        self._pool.start(first)
        self._finalizer = weakref.finalize(self, _shutdown, self._pool, self._zygotes, fs)

    @property
    def _zygote(self) -> ZygoteClient:
        """The current zygote (a new one after the previous one died)."""
        return self._zygotes.current

    @property
    def available(self) -> dict[str, tuple[bool, str]]:
        """Each layer the zygote probed: (available on this kernel?, detail)."""
        return dict(self._zygotes.current.info.probe)

    @property
    def required(self) -> frozenset[str]:
        """The layers this policy's isolation level requires."""
        return self._zygotes.current.info.required

    def execute(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecutionResult:
        """Run ``code`` in a fresh worker; the outcome is in the result's ``status``.

        ``timeout_s`` (checked by ``Sandbox``) shortens the policy's wall clock for this run;
        ``on_output`` gets printed output in chunks as it happens."""
        job = _job(code, inputs, stream=on_output is not None)
        if isinstance(job, ExecutionResult):
            return self._stamp(job)
        with self._slots:
            # Again while a pooled worker had died before its job (e.g. with its zygote).
            for _attempt in range(self._policy.pool_size + 2):
                try:
                    worker = self._pool.take()
                except SandboxError as exc:
                    return self._stamp(_failure(exc))
                try:
                    outcome = (
                        self._run_on(worker, job)
                        if timeout_s is None and on_output is None
                        else self._run_on(worker, job, timeout_s, on_output=on_output)
                    )
                finally:
                    self._discard(worker)
                    self._pool.refill()
                if outcome.delivered:
                    break
            return outcome.result

    async def aexecute(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecutionResult:
        """:meth:`execute` for asyncio: the event loop waits on the worker's channel (no thread
        is parked while the code runs)."""
        from ai_sandbox.isolation.async_exchange import arun_job

        job = _job(code, inputs, stream=on_output is not None)
        if isinstance(job, ExecutionResult):
            return self._stamp(job)
        async with _async_slot(self._slots):
            for _attempt in range(self._policy.pool_size + 2):
                try:
                    worker = self._pool.take()
                except SandboxError as exc:
                    return self._stamp(_failure(exc))
                try:
                    options = self._job_options(worker, timeout_s, on_output=on_output)
                    outcome = self._with_language(await arun_job(worker, job, **options), on_output)
                finally:
                    self._discard(worker)
                    self._pool.refill()
                if outcome.delivered:
                    break
            return outcome.result

    def session(self) -> ExecutionSession:
        """A long-lived worker that keeps variables between runs (same layers)."""
        with self._lock:
            if self._closed:
                raise ConfigurationError("this Sandbox is closed")
        session = WorkerSession(self)
        with self._lock:
            self._sessions.add(session)
        return session

    def close(self) -> None:
        """Stop the pool, every session and the zygote. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sessions = list(self._sessions)
        for session in sessions:
            session.close()
        self._finalizer()

    # -- internals used by sessions ----------------------------------------------------------
    def _run_on(
        self,
        worker: Worker,
        job: Job,
        timeout_s: float | None = None,
        *,
        interrupt: bool = False,
        on_output: OutputCallback | None = None,
    ) -> Outcome:
        """Run ``job`` on ``worker``; with ``interrupt`` (a session's worker), the deadline
        sends ``SIGINT`` and waits a grace period before it kills."""
        outcome = run_job(
            worker,
            job,
            zygote=self._zygotes.current,
            broker=self._broker,
            timeout_s=self._policy.timeout_s if timeout_s is None else timeout_s,
            isolation=self._policy.isolation,
            layers=self._layers_of(worker),
            interrupt=(lambda: _interrupt(worker)) if interrupt else None,
            grace_s=INTERRUPT_GRACE_S,
            on_output=on_output,
        )
        return self._with_language(outcome, on_output)

    def _with_language(self, outcome: Outcome, on_output: OutputCallback | None = None) -> Outcome:
        if self._policy.language != "restricted":  # the host says which language ran
            outcome.result = outcome.result.model_copy(update={"language": self._policy.language})
        return outcome

    def _job_options(
        self,
        worker: Worker,
        timeout_s: float | None,
        *,
        interrupt: bool = False,
        on_output: OutputCallback | None = None,
    ) -> dict[str, Any]:
        """What :func:`arun_job` needs besides the worker and the job (as ``_run_on`` passes
        to ``run_job``)."""
        return {
            "zygote": self._zygotes.current,
            "broker": self._broker,
            "timeout_s": self._policy.timeout_s if timeout_s is None else timeout_s,
            "isolation": self._policy.isolation,
            "layers": self._layers_of(worker),
            "interrupt": (lambda: _interrupt(worker)) if interrupt else None,
            "grace_s": INTERRUPT_GRACE_S,
            "on_output": on_output,
        }

    def _layers_of(self, worker: Worker) -> tuple[str, ...]:
        """What a result from ``worker`` reports: its active OS layers, the wall clock, and
        the language guard when it is on."""
        return (*worker.layers, "wall_clock_kill", *self._guard)

    def _discard(self, worker: Worker) -> None:
        worker.close()

    def _stamp(self, result: ExecutionResult) -> ExecutionResult:
        return result.model_copy(
            update={
                "isolation": self._policy.isolation,
                "layers": self.layers,
                "language": self._policy.language,
            }
        )


class WorkerSession:
    """Runs on one long-lived worker, keeping variables; thread-safe (one run at a time).

    A run past its deadline is interrupted (``KeyboardInterrupt`` in the worker) and the
    variables are kept. When the worker had to be killed instead (code ignoring the interrupt,
    C code, a memory or CPU limit, a crash, a protocol violation) the next run starts a fresh
    worker: that run, or the one that lost the state, carries a ``notice`` saying the Python
    state was reset and why. Only :meth:`close` ends a session for good; runs after it return
    ``status="error"`` with ``error.type == "SessionClosed"``.
    """

    def __init__(self, backend: WorkerBackend) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._worker: Worker | None = None
        self._ended: str | None = None
        self._frozen_cpu: int | None = None  # CPU ticks when frozen; None while awake
        self._lost: str | None = None  # why the state was lost, for the next run's notice
        self._start()

    @property
    def closed(self) -> bool:
        return self._ended is not None

    def run(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecutionResult:
        """Run ``code`` in this session's worker; variables persist between runs."""
        job = _job(code, inputs, stream=on_output is not None)
        if isinstance(job, ExecutionResult):
            return self._backend._stamp(job)
        with self._lock:
            worker = self._claim()
            if isinstance(worker, ExecutionResult):
                return worker
            outcome = self._backend._run_on(
                worker, job, timeout_s, interrupt=True, on_output=on_output
            )
            return self._settle(outcome)

    async def arun(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> ExecutionResult:
        """:meth:`run` for asyncio: the event loop waits on the worker (no parked thread)."""
        from ai_sandbox.isolation.async_exchange import arun_job

        job = _job(code, inputs, stream=on_output is not None)
        if isinstance(job, ExecutionResult):
            return self._backend._stamp(job)
        async with _async_lock(self._lock):
            worker = self._claim()
            if isinstance(worker, ExecutionResult):
                return worker
            options = self._backend._job_options(
                worker, timeout_s, interrupt=True, on_output=on_output
            )
            outcome = self._backend._with_language(
                await arun_job(worker, job, **options), on_output
            )
            return self._settle(outcome)

    def _claim(self) -> Worker | ExecutionResult:
        """The worker for the next run (woken, or started anew), or the result that says why
        there is none. Called with the session's lock held, by :meth:`run` and :meth:`arun`."""
        if self._ended is not None:
            return self._closed_result()
        if self._worker is not None and (broken := self._wake()) is not None:
            self._drop(broken)
        worker = self._worker or self._start()
        if worker is None:
            return self._notified(self._backend._stamp(_failure(_NOT_STARTED)))
        return worker

    def _settle(self, outcome: Outcome) -> ExecutionResult:
        """After a run: freeze the worker again, or drop it (and the state) if it was stopped."""
        result = outcome.result
        if not outcome.worker_alive:
            self._drop(f"its worker was stopped after a {result.status} ({_why(result)})")
        else:
            self._sleep()
        return self._notified(result)

    def close(self) -> None:
        """End the session and its worker. Idempotent."""
        with self._lock:
            if self._ended is None:
                self._ended = "the session was closed"
                self._discard()

    # -- the worker: started on demand, dropped (and the state with it) when it fails ---------
    def _start(self) -> Worker | None:
        """A fresh session worker (``None``, and the reason noted, if none could start)."""
        try:
            worker = self._backend._zygotes.spawn(session=True)
        except SandboxError as exc:
            self._lost = self._lost or f"no worker could start ({exc})"
            return None
        try:
            worker.channel.send({"type": "session"}, deadline=time.monotonic() + 5.0)
        except (SandboxError, TimeoutError) as exc:
            self._backend._discard(worker)
            self._lost = self._lost or f"the session's worker could not start ({exc})"
            return None
        self._worker = worker
        self._frozen_cpu = None
        return worker

    def _drop(self, reason: str) -> None:
        """Kill the worker: the Python state is gone, and the next result says why."""
        self._discard()
        self._lost = self._lost or reason

    def _discard(self) -> None:
        if self._worker is not None:
            self._backend._discard(self._worker)
            self._worker = None
            self._frozen_cpu = None

    def _notified(self, result: ExecutionResult) -> ExecutionResult:
        """``result`` with a notice of lost state, if the state was lost since the last one."""
        reason, self._lost = self._lost, None
        if reason is None:
            return result
        notice = (
            f"the Python state was reset because {reason}; variables, imports and functions "
            "defined before are gone"
        )
        return result.model_copy(update={"notice": notice})

    # Between runs the worker is frozen: timers or signal handlers its code left behind must
    # not burn CPU outside any run's wall clock, nor queue frames that a later run would read.
    # The CPU time it has used is noted when it is frozen and checked when it is woken, so a
    # worker that found a way to resume itself (seccomp refuses the one we know of, a POSIX
    # timer sending SIGCONT) loses its state instead of going unnoticed.
    def _sleep(self) -> None:
        worker = self._worker
        if worker is None:
            return
        try:
            worker.pause()
        except OSError:
            self._drop("the session's worker has gone")
            return
        status = worker.status()
        if status is None:
            self._drop("the session's worker has gone")
            return
        self._frozen_cpu = status[1]

    def _wake(self) -> str | None:
        """Resume a frozen worker; the reason the session cannot go on, if it cannot."""
        worker = self._worker
        if self._frozen_cpu is None or worker is None:
            return None
        status = _wait_stopped(worker)
        if isinstance(status, str):
            return status
        if status[1] - self._frozen_cpu > _IDLE_CPU_TICKS:
            return "the session's worker ran between runs (its CPU time grew while it was frozen)"
        if worker.channel.pending():
            return "the session's worker sent data between runs (protocol violation)"
        try:
            worker.resume()
        except OSError:
            return "the session's worker has gone"
        self._frozen_cpu = None
        return None

    def __enter__(self) -> WorkerSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _closed_result(self) -> ExecutionResult:
        error = ErrorInfo(
            type="SessionClosed",
            message=f"{self._ended}; start a new session to keep working",
        )
        return self._backend._stamp(ExecutionResult(status="error", error=error))


#: How long a session's worker has to answer after the interrupt at its deadline before it is
#: killed (and its state lost). Code that catches ``KeyboardInterrupt`` and runs on, or sits
#: in C code that never checks for signals, uses all of it: the wall clock is the authority.
INTERRUPT_GRACE_S = 0.5

#: Why a session could not run: no worker would start (the reason is in the notice).
_NOT_STARTED = SandboxError("the session's worker could not start; try again")


#: How often an async caller looks again for a free slot or session (the loop runs meanwhile).
_ASYNC_POLL_S = 0.002


@contextlib.asynccontextmanager
async def _async_slot(slots: threading.BoundedSemaphore) -> AsyncIterator[None]:
    """Hold one of the backend's run slots without blocking the event loop."""
    while not slots.acquire(blocking=False):
        await asyncio.sleep(_ASYNC_POLL_S)
    try:
        yield
    finally:
        slots.release()


@contextlib.asynccontextmanager
async def _async_lock(lock: threading.Lock) -> AsyncIterator[None]:
    """Hold a session's lock (shared with threads) without blocking the event loop."""
    while not lock.acquire(blocking=False):
        await asyncio.sleep(_ASYNC_POLL_S)
    try:
        yield
    finally:
        lock.release()


def _interrupt(worker: Worker) -> None:
    """``SIGINT`` to exactly this worker (through its pidfd: no pid-reuse race)."""
    signal.pidfd_send_signal(worker.pidfd, signal.SIGINT)


#: How long a frozen session worker may take to reach the stopped state (normally at once).
_PAUSE_WAIT_S = 2.0

#: The pauses between looks at a worker that has not stopped yet: ``0.0`` yields the CPU (to the
#: worker, should it be waiting for this one), then they grow to a millisecond, which they stay.
#: A run that follows the last at once usually looks within microseconds of the ``SIGSTOP``.
_STOP_POLL_PAUSES_S = (0.0, 0.0, 0.0, 0.0, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005)
_STOP_POLL_LAST_S = 0.001


#: CPU time (clock ticks, usually 10 ms each) a frozen worker may seem to use: the moments
#: between its answer and the stop, and accounting granularity.
_IDLE_CPU_TICKS = 5


def _wait_stopped(worker: Worker) -> tuple[bool, int] | str:
    """``worker``'s status (:meth:`Worker.status`) once it shows it stopped, or the reason the
    session cannot go on: it has gone, or it did not stop within ``_PAUSE_WAIT_S``."""
    deadline = time.monotonic() + _PAUSE_WAIT_S
    pauses = itertools.chain(_STOP_POLL_PAUSES_S, itertools.repeat(_STOP_POLL_LAST_S))
    while (status := worker.status()) is None or not status[0]:
        if status is None or worker.exited():
            return "the session's worker has gone"
        if time.monotonic() > deadline:
            return "the session's worker could not be frozen between runs"
        pause = next(pauses)
        if pause:
            time.sleep(pause)
        else:
            os.sched_yield()
    return status


class _NoBrokeredFiles:
    """The broker's file access for python-mode workers: none."""

    def read_bytes(self, path: str) -> bytes:
        raise _no_broker()

    def write_bytes(self, path: str, data: bytes) -> int:
        raise _no_broker()


class _BrokeredWrites(_NoBrokeredFiles):
    """Python mode with ``allow_writes``: writes only. After each run the worker sends what
    its code wrote in its private overlay, and the host's path layer decides every file
    (:mod:`~ai_sandbox.isolation.fsview_writes`). Reads stay closed: the worker reads the
    root itself, inside its view."""

    def __init__(self, fs: SafeFS) -> None:
        self._fs = fs

    def write_bytes(self, path: str, data: bytes) -> int:
        return self._fs.write_bytes(path, data)


def _broker_files(fs: SafeFS, policy: SandboxPolicy) -> FileAccess:
    """What the broker may do for this policy's workers (see :class:`_BrokeredWrites`)."""
    if policy.language == "restricted":
        return fs
    return _BrokeredWrites(fs) if policy.allow_writes else _NoBrokeredFiles()


def _no_broker() -> SecurityError:
    return SecurityError(
        "python-mode code opens files itself (the kernel holds it to the file view); the "
        "host's file broker is closed to it",
        rule="protocol",
    )


def _job(
    code: str, inputs: Mapping[str, Any] | None, *, stream: bool = False
) -> Job | ExecutionResult:
    """The encoded job message, or an error result when it cannot cross the channel.
    ``stream`` asks the worker to send printed output as it happens."""
    if not isinstance(code, str):
        return _input_error("code must be a string of Python source")
    try:
        # The same copy and the same refusal as in-process runs, so both backends agree.
        plain = copy_inputs(inputs) if inputs is not None else None
    except SecurityError as exc:
        error = ErrorInfo(type="SecurityError", message=str(exc), rule=exc.rule)
        return ExecutionResult(status="rejected", error=error)
    job_id = secrets.token_hex(16)
    try:
        message: dict[str, Any] = {"type": "run", "job": job_id, "code": code, "inputs": plain}
        if stream:
            message["stream"] = True
        return Job(job_id, encode_json(message))
    except (TypeError, ValueError, RecursionError):
        return _input_error("inputs must be JSON data (dict, list, str, int, float, bool, None)")


def _input_error(message: str) -> ExecutionResult:
    return ExecutionResult(status="error", error=ErrorInfo(type="ToolInputError", message=message))


def _failure(exc: SandboxError) -> ExecutionResult:
    return ExecutionResult(
        status="error", error=ErrorInfo(type=type(exc).__name__, message=str(exc))
    )


def _why(result: ExecutionResult) -> str:
    return result.error.message if result.error is not None else result.status


def _shutdown(pool: WorkerPool, zygotes: ZygoteSupervisor, fs: SafeFS) -> None:
    pool.close()
    zygotes.close()
    fs.close()
