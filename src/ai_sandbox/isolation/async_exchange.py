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
    _answer,
    _ended,
    _from_payload,
    _receive,
    _result,
    _Serving,
    _stopped,
    frame_item_cap,
)
from ai_sandbox.isolation.limits import result_frame_cap
from ai_sandbox.isolation.streaming import OutputCallback, OutputRelay
from ai_sandbox.isolation.zygote_client import Worker, ZygoteClient
from ai_sandbox.policy import SandboxPolicy
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


async def _next_frame(
    worker: Worker, deadline: float, max_items: int, small_cap: int, policy: SandboxPolicy
) -> dict[str, Any]:
    """The worker's next message, waiting on the event loop until its first bytes are there."""
    if not worker.channel.pending():
        await wait_readable(worker.channel.sock.fileno(), deadline)
    return _receive(worker, deadline, max_items, small_cap, policy)


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
    serving = _Serving(policy)
    relay = OutputRelay(on_output, job.id, policy.max_output_bytes)
    reply_deadline = deadline + grace_s if interrupt is not None else deadline
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
            message = await _next_frame(worker, deadline, max_items, small_cap, policy)
            serving.check_cpu()
            if message.get("type") == "result":
                if message.get("job") != job.id:
                    raise WorkerError("the worker answered another job (a stale or forged frame)")
                result = _from_payload(message.get("payload"), policy, isolation, layers, start)
                return Outcome(serving.finish(result), worker_alive=True)
            if message.get("type") == "output":
                relay.deliver(message)
                continue
            serving.admit()
            served = broker.serve(message)
            del message
            serving.note(served)
            _answer(worker, served, reply_deadline)
            del served
            serving.check_cpu()
            await _pace(serving, deadline)
    except ResourceLimitExceeded as exc:
        worker.kill()
        zygote.kill(worker.pid)
        error = ErrorInfo(type="ResourceLimitExceeded", message=str(exc), rule=exc.limit)
        result = _result("limit", error, isolation, layers, start)
        return Outcome(serving.finish(result), worker_alive=False)
    except TimeoutError:
        if interrupt is not None:
            answer = await _interrupted(
                worker, job, broker, serving, relay, interrupt, grace_s, policy
            )
            stopped = _stopped(answer, policy, timeout_s, isolation, layers, start)
            if stopped is not None:
                return Outcome(serving.finish(stopped), worker_alive=True)
        worker.kill()
        zygote.kill(worker.pid)
        error = ErrorInfo(type="ExecutionTimeout", message=str(ExecutionTimeout(timeout_s)))
        result = _result("timeout", error, isolation, layers, start)
        return Outcome(serving.finish(result), worker_alive=False)
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
                    result = _result("timeout", error, isolation, layers, start)
                    return Outcome(serving.finish(result), worker_alive=False)
                message_text = f"the worker closed its channel but kept running ({exc})"
                error = ErrorInfo(type="WorkerError", message=message_text)
                result = _result("error", error, isolation, layers, start)
                return Outcome(serving.finish(result), worker_alive=False)
        state, error = _ended(worker, zygote, exc, deadline, timeout_s)
        result = _result(state, error, isolation, layers, start)
        return Outcome(serving.finish(result), worker_alive=False)


async def _pace(serving: _Serving, deadline: float) -> None:
    """``_Serving.pace`` on the event loop: the same wait, as an ``asyncio.sleep``."""
    wait = serving.wait_s(deadline)
    if wait > 0:
        await asyncio.sleep(wait)


async def _interrupted(
    worker: Worker,
    job: Job,
    broker: Broker,
    serving: _Serving,
    relay: OutputRelay,
    interrupt: Callable[[], None],
    grace_s: float,
    policy: SandboxPolicy,
) -> Any:
    """``exchange._interrupted`` on the event loop."""
    try:
        interrupt()
    except OSError:
        return None
    deadline = time.monotonic() + grace_s
    max_items, small_cap = frame_item_cap(policy), result_frame_cap(policy)
    try:
        while True:
            message = await _next_frame(worker, deadline, max_items, small_cap, policy)
            serving.check_cpu()
            kind = message.get("type")
            if kind == "result":
                return message.get("payload") if message.get("job") == job.id else None
            if kind == "output":
                relay.deliver(message)
                continue
            serving.admit()
            served = broker.serve(message)
            del message
            serving.note(served)
            _answer(worker, served, deadline)
            del served
    except (TimeoutError, WorkerError, ResourceLimitExceeded):
        return None
