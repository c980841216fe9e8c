"""One job on one worker: send it, serve its file requests, and turn the outcome into a result.

The wall clock is enforced here, from outside the worker: past ``policy.timeout_s`` the worker's
process group is SIGKILLed and the call returns ``status="timeout"``. A worker that dies (memory
or CPU limit, crash, forbidden system call) or breaks the protocol is killed and reported as a
result, never as an exception and never at the host's expense.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from pydantic import ValidationError

from ai_sandbox.exceptions import ExecutionTimeout, ResourceLimitExceeded, WorkerError
from ai_sandbox.isolation.broker import Broker
from ai_sandbox.isolation.zygote_client import ExitStatus, Worker, ZygoteClient
from ai_sandbox.results import ErrorInfo, ExecutionResult, ExecutionStatus

__all__ = ["Outcome", "run_job"]

#: How long to wait for the zygote to report how a dead worker ended.
_STATUS_WAIT_S = 1.0


class Outcome:
    """A finished job: its result, whether the worker is still usable (sessions), and whether
    the job reached the worker at all (if not, running it on another worker is safe)."""

    __slots__ = ("delivered", "result", "worker_alive")

    def __init__(
        self, result: ExecutionResult, *, worker_alive: bool, delivered: bool = True
    ) -> None:
        self.result = result
        self.worker_alive = worker_alive
        self.delivered = delivered


def run_job(
    worker: Worker,
    job: bytes,
    *,
    zygote: ZygoteClient,
    broker: Broker,
    timeout_s: float,
    isolation: str,
    layers: tuple[str, ...],
) -> Outcome:
    """Run ``job`` (an encoded job message) on ``worker`` within ``timeout_s``.

    Never raises for the worker's behaviour: every ending is a result.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    try:
        worker.channel.send_bytes(job, deadline=deadline)
    except ResourceLimitExceeded as exc:  # the job itself is over the channel cap
        error = ErrorInfo(type="ResourceLimitExceeded", message=str(exc), rule="job_size")
        return Outcome(_result("limit", error, isolation, layers, start), worker_alive=True)
    except (WorkerError, TimeoutError) as exc:  # the worker was gone before the job reached it
        worker.kill()
        error = ErrorInfo(type="WorkerError", message=f"the worker was gone ({exc})")
        result = _result("error", error, isolation, layers, start)
        return Outcome(result, worker_alive=False, delivered=False)
    try:
        while True:
            message = worker.channel.recv(deadline=deadline)
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "result":
                result = _from_payload(message.get("payload"), isolation, layers, start)
                return Outcome(result, worker_alive=True)
            if kind not in ("read", "write"):
                raise WorkerError("the worker sent an unexpected message")
            worker.channel.send(broker.handle(message), deadline=deadline)
    except TimeoutError:
        worker.kill()
        zygote.kill(worker.pid)  # and its process group, in case it managed to fork
        error = ErrorInfo(type="ExecutionTimeout", message=str(ExecutionTimeout(timeout_s)))
        return Outcome(_result("timeout", error, isolation, layers, start), worker_alive=False)
    except WorkerError as exc:
        state, error = _ended(worker, zygote, exc)
        return Outcome(_result(state, error, isolation, layers, start), worker_alive=False)


def _from_payload(
    payload: Any, isolation: str, layers: tuple[str, ...], start: float
) -> ExecutionResult:
    """Validate the worker's payload (untrusted JSON) into an ``ExecutionResult``."""
    if not isinstance(payload, dict):
        raise WorkerError("the worker sent a malformed result")
    fields = {k: payload.get(k) for k in ("status", "result", "stdout", "error", "duration_ms")}
    if fields["duration_ms"] is None:
        fields["duration_ms"] = (time.monotonic() - start) * 1000
    if fields["stdout"] is None:
        fields["stdout"] = ""
    try:
        return ExecutionResult.model_validate({**fields, "isolation": isolation, "layers": layers})
    except (ValidationError, RecursionError) as exc:
        raise WorkerError(f"the worker sent a malformed result ({type(exc).__name__})") from None


def _result(
    status: ExecutionStatus,
    error: ErrorInfo,
    isolation: str,
    layers: tuple[str, ...],
    start: float,
) -> ExecutionResult:
    return ExecutionResult(
        status=status,
        error=error,
        duration_ms=(time.monotonic() - start) * 1000,
        isolation=isolation,
        layers=layers,
    )


def _ended(
    worker: Worker, zygote: ZygoteClient, cause: WorkerError
) -> tuple[ExecutionStatus, ErrorInfo]:
    """Kill a worker that stopped following the protocol, and say why it stopped."""
    if not worker.channel.eof:  # alive but misbehaving (oversized or malformed frame)
        worker.kill()
        zygote.kill(worker.pid)
        return "error", ErrorInfo(type="WorkerError", message=str(cause))
    # It closed the channel: it is dying or dead; the zygote (its parent) knows how it ended.
    status = zygote.exit_status(worker.pid, _STATUS_WAIT_S)
    worker.kill()
    zygote.kill(worker.pid)
    return _death(status, cause)


def _death(status: ExitStatus | None, cause: WorkerError) -> tuple[ExecutionStatus, ErrorInfo]:
    """Classify a worker that ended without a valid result."""
    if status is None or status.signal is None:
        if status is not None and status.code is not None:
            message = f"the worker exited (code {status.code}) without a result: {cause}"
        else:
            message = f"the worker ended without a result: {cause}"
        return "error", ErrorInfo(type="WorkerError", message=message)
    sig = status.signal
    if sig in (signal.SIGKILL, signal.SIGXCPU):
        return "limit", ErrorInfo(
            type="ResourceLimitExceeded",
            message="the worker was killed by the kernel at its CPU time or memory limit",
            rule="cpu_or_memory",
        )
    if sig in (signal.SIGSEGV, signal.SIGBUS):
        return "limit", ErrorInfo(
            type="ResourceLimitExceeded",
            message="the worker crashed: it ran out of stack or memory (too deep recursion?)",
            rule="memory",
        )
    if sig == signal.SIGXFSZ:
        return "limit", ErrorInfo(
            type="ResourceLimitExceeded", message="the file size limit was hit", rule="file_size"
        )
    if sig == signal.SIGSYS:
        return "error", ErrorInfo(
            type="SecurityError",
            message="the code made a forbidden system call and the worker was killed",
            rule="seccomp",
        )
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    return "error", ErrorInfo(type="WorkerError", message=f"the worker was killed by {name}")
