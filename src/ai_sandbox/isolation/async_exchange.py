"""One job on one worker, for asyncio: :func:`arun_job` is :func:`.exchange.run_job` without a
thread.

The event loop waits for the worker's channel (and, when it has closed it, its pidfd) to become
readable with ``loop.add_reader``; only then is a frame read, with the same checks, through the
same helpers as the blocking version. Nothing parks a thread while the code runs. What may
still block the loop briefly: sending the job and file replies (bounded by the socket buffer),
reading the rest of a large frame once its first bytes arrived, and the broker's file access.

Keep the two drivers in step: every branch here mirrors one in ``run_job``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ai_sandbox.exceptions import ExecutionTimeout, ResourceLimitExceeded, WorkerError
from ai_sandbox.isolation.broker import Broker
from ai_sandbox.isolation.exchange import (
    Job,
    Outcome,
    _ended,
    _from_payload,
    _receive,
    _refusal_in,
    _refused,
    _result,
    _stopped,
    frame_item_cap,
)
from ai_sandbox.isolation.limits import result_frame_cap
from ai_sandbox.isolation.streaming import OutputCallback, OutputRelay
from ai_sandbox.isolation.zygote_client import Worker, ZygoteClient
from ai_sandbox.results import ErrorInfo

__all__ = ["arun_job", "wait_readable"]

#: How long to wait for a worker that closed its channel to exit (as ``exchange``).
_STATUS_WAIT_S = 1.0


async def wait_readable(fd: int, deadline: float) -> None:
    """Wait until ``fd`` is readable; ``TimeoutError`` once ``deadline`` has passed."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await asyncio.wait_for(ready, max(0.0, deadline - time.monotonic()))
    finally:
        loop.remove_reader(fd)


async def _next_frame(worker: Worker, deadline: float, max_items: int, small_cap: int) -> Any:
    """The worker's next message, waiting on the event loop until its first bytes are there."""
    if not worker.channel.pending():
        await wait_readable(worker.channel.sock.fileno(), deadline)
    return _receive(worker, deadline, max_items, small_cap)


async def arun_job(
    worker: Worker,
    job: Job,
    *,
    zygote: ZygoteClient,
    broker: Broker,
    timeout_s: float,
    isolation: str,
    layers: tuple[str, ...],
    interrupt: Callable[[], None] | None = None,
    grace_s: float = 0.0,
    on_output: OutputCallback | None = None,
) -> Outcome:
    """:func:`.exchange.run_job` on the event loop; never raises for the worker's behaviour."""
    start = time.monotonic()
    deadline = start + timeout_s
    policy = broker.policy
    max_items = frame_item_cap(policy)
    small_cap = result_frame_cap(policy)
    refusal: ErrorInfo | None = None
    unsent: dict[str, Any] | None = None
    relay = OutputRelay(on_output, job.id, policy.max_output_bytes)
    try:
        worker.channel.send_bytes(job.body, deadline=deadline)
    except ResourceLimitExceeded as exc:
        error = ErrorInfo(type="ResourceLimitExceeded", message=str(exc), rule="job_size")
        return Outcome(_result("limit", error, isolation, layers, start), worker_alive=True)
    except (WorkerError, TimeoutError) as exc:
        worker.kill()
        error = ErrorInfo(type="WorkerError", message=f"the worker was gone ({exc})")
        result = _result("error", error, isolation, layers, start)
        return Outcome(result, worker_alive=False, delivered=False)
    try:
        while True:
            message = await _next_frame(worker, deadline, max_items, small_cap)
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "result":
                if message.get("job") != job.id:
                    raise WorkerError("the worker answered another job (a stale or forged frame)")
                result = _from_payload(message.get("payload"), policy, isolation, layers, start)
                return Outcome(_refused(result, refusal), worker_alive=True)
            if kind == "output":
                relay.deliver(message)
                continue
            if kind not in ("read", "write"):
                raise WorkerError("the worker sent an unexpected message")
            reply = broker.handle(message)
            refusal = refusal or _refusal_in(reply)
            unsent = reply
            worker.channel.send(reply, deadline=deadline)
            unsent = None
    except TimeoutError:
        if interrupt is not None:
            kept = await _interrupted(
                worker, job, broker, interrupt, grace_s, max_items, small_cap, unsent, relay
            )
            if kept is not None:
                payload, late_refusal = kept
                stopped = _stopped(payload, policy, timeout_s, isolation, layers, start)
                if stopped is not None:
                    return Outcome(_refused(stopped, refusal or late_refusal), worker_alive=True)
        worker.kill()
        zygote.kill(worker.pid)
        error = ErrorInfo(type="ExecutionTimeout", message=str(ExecutionTimeout(timeout_s)))
        result = _result("timeout", error, isolation, layers, start)
        return Outcome(_refused(result, refusal), worker_alive=False)
    except WorkerError as exc:
        if worker.channel.eof:  # let it exit without blocking the loop; _ended then sees it
            wait_until = min(deadline, time.monotonic() + _STATUS_WAIT_S)
            try:
                await wait_readable(worker.pidfd, wait_until)
            except TimeoutError:  # it shut its channel and runs on (as in _ended)
                worker.kill()
                zygote.kill(worker.pid)
                if time.monotonic() >= deadline:
                    error = ErrorInfo(
                        type="ExecutionTimeout", message=str(ExecutionTimeout(timeout_s))
                    )
                    return Outcome(
                        _refused(_result("timeout", error, isolation, layers, start), refusal),
                        worker_alive=False,
                    )
                message = f"the worker closed its channel but kept running ({exc})"
                error = ErrorInfo(type="WorkerError", message=message)
                return Outcome(
                    _refused(_result("error", error, isolation, layers, start), refusal),
                    worker_alive=False,
                )
        state, error = _ended(worker, zygote, exc, deadline, timeout_s)
        result = _result(state, error, isolation, layers, start)
        return Outcome(_refused(result, refusal), worker_alive=False)


async def _interrupted(
    worker: Worker,
    job: Job,
    broker: Broker,
    interrupt: Callable[[], None],
    grace_s: float,
    max_items: int,
    small_cap: int,
    unsent: dict[str, Any] | None,
    relay: OutputRelay,
) -> tuple[Any, ErrorInfo | None] | None:
    """``exchange._interrupted`` on the event loop."""
    refusal: ErrorInfo | None = None
    try:
        interrupt()
    except OSError:
        return None
    deadline = time.monotonic() + grace_s
    try:
        if unsent is not None:
            worker.channel.send(unsent, deadline=deadline)
        while True:
            message = await _next_frame(worker, deadline, max_items, small_cap)
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "result" and message.get("job") == job.id:
                return message.get("payload"), refusal
            if kind == "output":
                relay.deliver(message)
                continue
            if kind not in ("read", "write"):
                return None
            reply = broker.handle(message)
            refusal = refusal or _refusal_in(reply)
            worker.channel.send(reply, deadline=deadline)
    except (TimeoutError, WorkerError):
        return None
