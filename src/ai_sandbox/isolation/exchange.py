"""One job on one worker: send it, serve its file requests, and turn the outcome into a result.

The wall clock is enforced here, from outside the worker: past ``policy.timeout_s`` the worker's
process group is SIGKILLed and the call returns ``status="timeout"``. A worker that dies (memory
or CPU limit, crash, forbidden system call) or breaks the protocol is killed and reported as a
result, never as an exception and never at the host's expense.

Nothing the worker says is trusted (its code may have escaped the language guard and write any
frame). What serving it may cost the host is bounded per run: a read request is a short frame,
a write is parsed by its shape without JSON, only the result may be a large JSON frame (one per
run, held to an item budget and an integer-digit budget before it is decoded); file requests
are paced after a burst and capped in number and bytes (``rule="file_requests"``), and the
host thread's CPU time serving the run has a budget (``rule="host_cpu"``); see
:mod:`~ai_sandbox.isolation.limits`. Past a cap the worker is killed and the run ends
``status="limit"``. Each file request is listed in the result's ``files`` (at most
``MAX_FILE_RECORDS``, the rest counted) for the audit trail. The final result is
checked again on the host with the executor's own rules (``max_result_bytes``, nesting, valid
Unicode; ``max_output_bytes`` for ``stdout``). The first path refusal the broker sent during the
job decides the outcome (``status="rejected"``, with the host's rule and message), as the first
refusal does in-process, whatever the worker reports; a rule the worker reports on its own is
kept only if it is a known one, and marked ``reported_by="worker"``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from pydantic import ValidationError

from ai_sandbox.exceptions import ExecutionTimeout, ResourceLimitExceeded, WorkerError
from ai_sandbox.executor.context import BENIGN_FS_RULES, OutputCollector
from ai_sandbox.executor.inputs import (
    MAX_RESULT_ITEMS,
    ResultError,
    replace_lone_surrogates,
    to_json_result,
)
from ai_sandbox.isolation.broker import Broker, Served
from ai_sandbox.isolation.image_check import checked_images
from ai_sandbox.isolation.limits import (
    FILE_BURST_BYTES,
    FILE_BURST_REQUESTS,
    FILE_BYTES_PER_S,
    FILE_REQUESTS_PER_S,
    MAX_FILE_RECORDS,
    MAX_FILE_REQUESTS,
    file_transfer_cap,
    host_cpu_budget_s,
    read_request_cap,
    result_frame_cap,
)
from ai_sandbox.isolation.protocol import (
    INT_COST_BUDGET,
    WRITE_PREFIX,
    decode_json,
    parse_write_frame,
    wait_readable,
)
from ai_sandbox.isolation.streaming import OutputCallback, OutputRelay
from ai_sandbox.isolation.zygote_client import ExitStatus, Worker, ZygoteClient
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import ErrorInfo, ExecutionResult, ExecutionStatus, FileAccessRecord
from ai_sandbox.rules import KNOWN_RULES

__all__ = ["Job", "Outcome", "frame_item_cap", "run_job"]

#: How long to wait for the zygote to report how a dead worker ended.
_STATUS_WAIT_S = 1.0

#: Items (see ``protocol.count_items``) of a frame beyond its result: the envelope, stdout and
#: error of a result message, or a whole file request.
_ENVELOPE_ITEMS = 64

#: Longest error texts kept from a worker (its executor cuts messages at 2000 characters).
_MAX_ERROR_MESSAGE = 2000
_MAX_ERROR_NAME = 200


def frame_item_cap(policy: SandboxPolicy) -> int:
    """Most items a frame from a worker may hold: any result the executor lets through
    (at most one item per two bytes of its JSON, and never more than ``MAX_RESULT_ITEMS``)
    plus the envelope."""
    return min(policy.max_result_bytes // 2, MAX_RESULT_ITEMS) + _ENVELOPE_ITEMS


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


class Job(NamedTuple):
    """An encoded run request and its id: the worker's result must carry the id back, so a
    frame that code left queued in a session's worker is never read as a later run's result."""

    id: str
    body: bytes


def run_job(
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
    """Run ``job`` on ``worker`` within ``timeout_s``.

    With ``interrupt`` (sessions), the deadline first calls it (a ``SIGINT`` to the worker)
    and waits ``grace_s`` more for the worker's answer: if it comes, the run is a ``timeout``
    and the worker lives on; if not, the worker is killed as without it. ``output`` frames (a
    job that asked for streaming) go to ``on_output`` as they arrive.

    Never raises for the worker's behaviour: every ending is a result.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    policy = broker.policy
    max_items = frame_item_cap(policy)
    small_cap = result_frame_cap(policy)
    serving = _Serving(policy)
    relay = OutputRelay(on_output, job.id, policy.max_output_bytes)
    # A reply is never cut off at the deadline (a frame half sent would break a session's
    # channel): with an interrupt to come, replies may take the grace period too.
    reply_deadline = deadline + grace_s if interrupt is not None else deadline
    try:
        worker.channel.send_bytes(job.body, deadline=deadline)
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
            message = _receive(worker, deadline, max_items, small_cap, policy)
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
            served = serving.over_write_total(message, broker) or broker.serve(message)
            del message  # a write's data: no longer needed once written
            serving.note(served)
            _answer(worker, served, reply_deadline)
            del served
            serving.check_cpu()
            serving.pace(deadline)
    except ResourceLimitExceeded as exc:  # the run went over what the host serves a run
        worker.kill()
        zygote.kill(worker.pid)
        error = ErrorInfo(type="ResourceLimitExceeded", message=str(exc), rule=exc.limit)
        result = _result("limit", error, isolation, layers, start)
        return Outcome(serving.finish(result), worker_alive=False)
    except TimeoutError:
        if interrupt is not None:
            answer = _interrupted(worker, job, broker, serving, relay, interrupt, grace_s, policy)
            stopped = _stopped(answer, policy, timeout_s, isolation, layers, start)
            if stopped is not None:
                return Outcome(serving.finish(stopped), worker_alive=True)
        worker.kill()
        zygote.kill(worker.pid)  # and its process group, in case it managed to fork
        error = ErrorInfo(type="ExecutionTimeout", message=str(ExecutionTimeout(timeout_s)))
        result = _result("timeout", error, isolation, layers, start)
        return Outcome(serving.finish(result), worker_alive=False)
    except WorkerError as exc:
        state, error = _ended(worker, zygote, exc, deadline, timeout_s)
        result = _result(state, error, isolation, layers, start)
        return Outcome(serving.finish(result), worker_alive=False)


def _answer(worker: Worker, served: Served, deadline: float) -> None:
    """Send the broker's reply to a file request."""
    if served.data is None:
        worker.channel.send(served.reply, deadline=deadline)
    else:
        worker.channel.send_data(served.data, deadline=deadline)


def _interrupted(
    worker: Worker,
    job: Job,
    broker: Broker,
    serving: _Serving,
    relay: OutputRelay,
    interrupt: Callable[[], None],
    grace_s: float,
    policy: SandboxPolicy,
) -> Any:
    """Interrupt a run past its deadline: the payload it then answered with, or ``None`` if it
    did not answer within ``grace_s``. Its file requests are served meanwhile, within the same
    budgets (its ``finally`` blocks may save work); the worker holds the interrupt back while
    a request of its own is on the channel."""
    try:
        interrupt()
    except OSError:
        return None
    deadline = time.monotonic() + grace_s
    max_items, small_cap = frame_item_cap(policy), result_frame_cap(policy)
    try:
        while True:
            message = _receive(worker, deadline, max_items, small_cap, policy)
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


def _stopped(
    payload: Any,
    policy: SandboxPolicy,
    timeout_s: float,
    isolation: str,
    layers: tuple[str, ...],
    start: float,
) -> ExecutionResult | None:
    """The ``timeout`` result of an interrupted run (its output kept), or ``None`` if it gave
    no answer or a malformed one."""
    if payload is None:
        return None
    try:
        answered = _from_payload(payload, policy, isolation, layers, start)
    except WorkerError:
        return None
    message = f"{ExecutionTimeout(timeout_s)}; it was interrupted and the session's state is kept"
    error = ErrorInfo(type="ExecutionTimeout", message=message)
    return answered.model_copy(update={"status": "timeout", "result": None, "error": error})


class _Serving:
    """What serving one run's worker costs the host (CPU time of this thread, file requests
    and their bytes) and what it asked for: the first refusal and the access records."""

    __slots__ = (
        "_cpu_budget",
        "_cpu_start",
        "_moved",
        "_policy",
        "_started",
        "_written",
        "files",
        "omitted",
        "refusal",
    )

    def __init__(self, policy: SandboxPolicy) -> None:
        self._policy = policy
        self._started = time.monotonic()
        self._cpu_start = time.thread_time()
        self._cpu_budget = host_cpu_budget_s(policy)
        self._moved = 0
        self._written = 0  # bytes the broker wrote for this run (max_write_bytes_total)
        self.files: list[FileAccessRecord] = []
        self.omitted = 0
        self.refusal: ErrorInfo | None = None  # the first path refusal the broker sent

    def check_cpu(self) -> None:
        """``ResourceLimitExceeded("host_cpu")`` once serving this run has cost the host's
        thread more CPU time than the budget (:func:`~.limits.host_cpu_budget_s`)."""
        if time.thread_time() - self._cpu_start > self._cpu_budget:
            raise ResourceLimitExceeded(
                "host_cpu",
                f"the run cost the host more than {self._cpu_budget:g} s of CPU time serving its "
                "file requests and messages",
            )

    def admit(self) -> None:
        """``ResourceLimitExceeded("file_requests")`` for a request past the run's share."""
        requests = len(self.files) + self.omitted
        if requests >= MAX_FILE_REQUESTS or self._moved > file_transfer_cap(self._policy):
            raise ResourceLimitExceeded(
                "file_requests",
                f"the run made more than {MAX_FILE_REQUESTS} file requests or moved more than "
                f"{file_transfer_cap(self._policy)} bytes through them",
            )

    def pace(self, deadline: float) -> None:
        """Wait (idle, the GIL released) while the run's file requests are ahead of their pace
        (:data:`~.limits.FILE_REQUESTS_PER_S`, :data:`~.limits.FILE_BYTES_PER_S`, after a
        burst); never past the run's deadline."""
        wait = self.wait_s(deadline)
        if wait > 0:
            time.sleep(wait)

    def wait_s(self, deadline: float) -> float:
        """How long :meth:`pace` waits now (the async driver sleeps it on the event loop)."""
        requests = len(self.files) + self.omitted
        due = max(
            (requests - FILE_BURST_REQUESTS) / FILE_REQUESTS_PER_S,
            (self._moved - FILE_BURST_BYTES) / FILE_BYTES_PER_S,
        )
        now = time.monotonic()
        return min(due - (now - self._started), deadline - now)

    def over_write_total(self, message: dict[str, Any], broker: Broker) -> Served | None:
        """A refusal (``rule="write_total"``) for a write that would take the run's written
        bytes past ``max_write_bytes_total``; ``None`` for anything else."""
        if message.get("type") != "write":
            return None
        data, encoded = message.get("data"), message.get("data_b64")
        size = len(data) if isinstance(data, bytes) else 0
        size = len(encoded) * 3 // 4 if isinstance(encoded, str) else size
        limit = self._policy.max_write_bytes_total
        if self._written + size <= limit:
            return None
        text = f"the run's writes would pass max_write_bytes_total ({limit} bytes)"
        return broker.refuse_write(message.get("path"), size, "write_total", text)

    def note(self, served: Served) -> None:
        self._moved += served.access.size_bytes
        if served.access.op == "write" and served.access.outcome == "ok":
            self._written += served.access.size_bytes
        self.refusal = self.refusal or _refusal_in(served.reply)
        if len(self.files) < MAX_FILE_RECORDS:
            self.files.append(served.access)
        else:
            self.omitted += 1

    def finish(self, result: ExecutionResult) -> ExecutionResult:
        """``result`` as the host reports it: the host's refusal first, the accesses listed."""
        refused = _refused(result, self.refusal)
        if not self.files:
            return refused
        return refused.model_copy(
            update={"files": tuple(self.files), "files_omitted": self.omitted}
        )


def _receive(
    worker: Worker, deadline: float, max_items: int, small_cap: int, policy: SandboxPolicy
) -> dict[str, Any]:
    """The worker's next message: a file request or its result, each held to its own size.

    A write in the shape the worker sends (``{"type":"write","path":...,"data_b64":...}``)
    is parsed without JSON (:func:`~.protocol.parse_write_frame`: base64 straight to bytes);
    only it may be as large as a file. Any other frame is held to the size of a result before
    it is decoded, and after to what it turned out to be: a read request (or a write in
    another shape) to a request's size, a large frame that started as a write but decodes as
    something else (a repeated ``"type"`` key) to a result's. A worker gets at most one
    large decode per run: an oversized request ends it."""
    body = worker.channel.recv_bytes(deadline=deadline)
    if body.startswith(WRITE_PREFIX):
        try:
            write = parse_write_frame(
                body,
                max_path_bytes=read_request_cap(policy),
                max_data_bytes=policy.max_file_bytes,
            )
        except WorkerError:
            if len(body) > small_cap:
                raise _oversized(len(body), small_cap) from None
        else:
            del body  # the frame goes before its data is copied: one file's worth at a time
            return {"type": "write", "path": write.path, "data": bytes(write.data)}
    if len(body) > small_cap:
        raise _oversized(len(body), small_cap)
    message = decode_json(body, max_items=max_items, max_int_cost=INT_COST_BUDGET)
    if not isinstance(message, dict) or message.get("type") not in (
        "read",
        "write",
        "result",
        "output",
    ):
        raise WorkerError("the worker sent an unexpected message")
    kind = message["type"]
    if kind not in ("result", "output") and len(body) > read_request_cap(policy):
        cap = read_request_cap(policy)
        raise WorkerError(f"the worker sent a {len(body)}-byte {kind} request; the cap is {cap}")
    return message


def _oversized(size: int, cap: int) -> WorkerError:
    return WorkerError(f"the worker sent a {size}-byte message; only a file write may exceed {cap}")


def _refusal_in(reply: dict[str, Any]) -> ErrorInfo | None:
    """The broker's refusal in ``reply`` if it is one that rejects a run (as in-process: not
    an ordinary mistake such as a missing file)."""
    error = reply.get("error")
    if reply.get("ok") is not False or not isinstance(error, dict):
        return None
    if error.get("type") != "SecurityError" or error.get("rule") in BENIGN_FS_RULES:
        return None
    return ErrorInfo(
        type="SecurityError", message=str(error.get("message")), rule=error.get("rule")
    )


def _refused(result: ExecutionResult, refusal: ErrorInfo | None) -> ExecutionResult:
    """``result``, unless the host refused the job something: then the run was rejected with
    the host's first refusal (as in-process), whatever the worker reported, its own
    rejection included: the worker's code may have escaped the language guard and chosen the
    rule a reviewer would read. Only the line of the code that asked is taken from a worker
    that reports the same refusal."""
    if refusal is None:
        return result
    own = result.error
    if result.status == "rejected" and own is not None and own.rule == refusal.rule:
        refusal = refusal.model_copy(update={"line": own.line})  # where the code asked
    return result.model_copy(update={"status": "rejected", "result": None, "error": refusal})


def _attributed(result: ExecutionResult) -> ExecutionResult:
    """A worker's result with its rule marked as the worker's (``reported_by="worker"``):
    kept only if it is a known rule (:data:`~ai_sandbox.rules.KNOWN_RULES`); a rejection
    without an error or under an invented rule is a protocol violation, reported as one."""
    error = result.error
    rule = error.rule if error is not None else None
    if rule is None and result.status != "rejected":
        return result
    if error is None or (rule is not None and rule not in KNOWN_RULES):
        what = "no reason" if rule is None else f"an unknown rule ({rule[:40]!r})"
        message = f"the worker reported a {result.status} run under {what}"
        info = ErrorInfo(type="WorkerError", message=message)
        return result.model_copy(update={"status": "error", "result": None, "error": info})
    return result.model_copy(update={"error": error.model_copy(update={"reported_by": "worker"})})


def _from_payload(
    payload: Any, policy: SandboxPolicy, isolation: str, layers: tuple[str, ...], start: float
) -> ExecutionResult:
    """Validate the worker's payload (untrusted JSON) into an ``ExecutionResult``, holding it
    to the policy's limits again (see :func:`_checked`)."""
    if not isinstance(payload, dict):
        raise WorkerError("the worker sent a malformed result")
    fields = {k: payload.get(k) for k in ("status", "result", "stdout", "error")}
    fields["duration_ms"] = (time.monotonic() - start) * 1000  # measured here, not reported
    if fields["stdout"] is None:
        fields["stdout"] = ""
    if isinstance(fields["stdout"], str):
        fields["stdout"] = _stdout(fields["stdout"], policy.max_output_bytes)
    if isinstance(fields["error"], dict):
        fields["error"] = _error_fields(fields["error"])
    fields["images"] = checked_images(payload.get("images"), policy)  # untrusted: re-checked
    try:
        result = ExecutionResult.model_validate(
            {**fields, "isolation": isolation, "layers": layers}
        )
    except (ValidationError, RecursionError) as exc:
        raise WorkerError(f"the worker sent a malformed result ({type(exc).__name__})") from None
    return _checked(_attributed(result), policy)


def _checked(result: ExecutionResult, policy: SandboxPolicy) -> ExecutionResult:
    """``result`` with its value held to the executor's rules, on the host: JSON data within
    ``max_result_bytes``, ``MAX_DEPTH`` and ``MAX_RESULT_ITEMS``, valid Unicode text. Only an
    ``ok`` run carries a value."""
    if result.status != "ok":
        return result if result.result is None else result.model_copy(update={"result": None})
    try:
        to_json_result(result.result, policy.max_result_bytes)
    except ResultError as exc:
        error = ErrorInfo(type="TypeError", message=str(exc))
        return result.model_copy(update={"status": "error", "result": None, "error": error})
    except ResourceLimitExceeded as exc:
        error = ErrorInfo(type="ResourceLimitExceeded", message=str(exc), rule=exc.limit)
        return result.model_copy(update={"status": "limit", "result": None, "error": error})
    except RecursionError:  # called from deep in the host's stack: refuse, never crash
        error = ErrorInfo(type="TypeError", message="result is nested too deeply")
        return result.model_copy(update={"status": "error", "result": None, "error": error})
    return result


def _stdout(text: str, max_bytes: int) -> str:
    """The worker's ``stdout`` as the executor would have kept it: cut to ``max_bytes`` with
    the same truncation marker, lone surrogates replaced by U+FFFD (it is text for humans)."""
    collector = OutputCollector(max_bytes)
    collector.write(text)
    return replace_lone_surrogates(collector.text())


def _error_fields(error: dict[str, Any]) -> dict[str, Any]:
    """The error's texts bounded and made valid Unicode (other values are left to validation)."""
    limits = {"type": _MAX_ERROR_NAME, "message": _MAX_ERROR_MESSAGE, "rule": _MAX_ERROR_NAME}
    fields = {key: error.get(key) for key in ("type", "message", "line", "rule")}
    for key, limit in limits.items():
        value = fields[key]
        if isinstance(value, str):
            if len(value) > limit:
                value = value[:limit] + "... [truncated]"
            fields[key] = replace_lone_surrogates(value)
    return fields


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
    worker: Worker, zygote: ZygoteClient, cause: WorkerError, deadline: float, timeout_s: float
) -> tuple[ExecutionStatus, ErrorInfo]:
    """Kill a worker that stopped following the protocol, and say why it stopped."""
    if not worker.channel.eof:  # alive but misbehaving (oversized or malformed frame)
        worker.kill()
        zygote.kill(worker.pid)
        return "error", ErrorInfo(type="WorkerError", message=str(cause))
    # It closed the channel: it is dying or dead, or (escaped code) it shut its end and runs
    # on, which the wall clock still bounds. Once it has exited, the zygote (its parent) knows
    # how it ended.
    wait = min(_STATUS_WAIT_S, max(0.0, deadline - time.monotonic()))
    if not wait_readable(worker.pidfd, wait):
        worker.kill()
        zygote.kill(worker.pid)
        if time.monotonic() >= deadline:
            return "timeout", ErrorInfo(
                type="ExecutionTimeout", message=str(ExecutionTimeout(timeout_s))
            )
        message = f"the worker closed its channel but kept running ({cause})"
        return "error", ErrorInfo(type="WorkerError", message=message)
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
