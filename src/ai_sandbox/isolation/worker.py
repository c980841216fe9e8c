"""What a forked worker does: lock itself down, say hello, run one job (or a session), exit.

Runs in the child of a fork from the zygote. The order matters: ``lockdown_worker`` closes every
descriptor except the channel and applies the OS layers *before* the worker reads any job, so
no AI code ever runs in a process that is not locked down. The worker never touches the sandbox
root itself: file access goes over the channel to the host (:class:`ChannelFS`), which applies
the path policy with :class:`~ai_sandbox.security.SafeFS`.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import math
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, cast

from ai_sandbox.exceptions import (
    IsolationUnavailable,
    ResourceLimitExceeded,
    SandboxError,
    SecurityError,
    WorkerError,
)
from ai_sandbox.isolation.limits import host_recv_cap, worker_recv_cap
from ai_sandbox.isolation.protocol import Channel, decode_json, encode_json

if TYPE_CHECKING:
    from ai_sandbox.executor.runtime import RestrictedSession
    from ai_sandbox.isolation.worker_policy import PolicyView
    from ai_sandbox.policy import SandboxPolicy

__all__ = ["PANDAS_WARM_UP_CODE", "WARM_UP_CODE", "ChannelFS", "run_worker", "warm_up"]

_EXIT_OK = 0
_EXIT_LOCKDOWN_FAILED = 3
_EXIT_CHANNEL_LOST = 4

_OS_ERRORS: dict[str, type[OSError]] = {
    cls.__name__: cls
    for cls in (
        FileNotFoundError,
        FileExistsError,
        IsADirectoryError,
        NotADirectoryError,
        PermissionError,
    )
}


class ChannelFS:
    """The worker's ``FileAccess``: every read and write is a request to the host."""

    def __init__(self, channel: Channel, policy: PolicyView) -> None:
        self._channel = channel
        self._policy = policy
        #: Holds back an interrupt while a request is on the channel (sessions set it).
        self.shield: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
        #: Gets printed output as it is printed, while a job asked for streaming (else None);
        #: the executor's output collector reads it.
        self.output_sink: Callable[[str], None] | None = None

    def read_bytes(self, path: str) -> bytes:
        reply = self._ask({"type": "read", "path": str(path)})
        data = reply.get("data_b64")
        if not isinstance(data, str):
            raise WorkerError("the host sent a malformed file reply")
        return base64.b64decode(data, validate=True)

    def write_bytes(self, path: str, data: bytes) -> int:
        if len(data) > self._policy.max_file_bytes:
            raise ResourceLimitExceeded(
                "file_size",
                f"refusing to write {len(data)} bytes: the file size limit is "
                f"{self._policy.max_file_bytes} bytes",
            )
        payload = base64.b64encode(bytes(data)).decode("ascii")
        reply = self._ask({"type": "write", "path": str(path), "data_b64": payload})
        written = reply.get("written")
        if not isinstance(written, int):
            raise WorkerError("the host sent a malformed file reply")
        return written

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.shield():  # a frame half sent or half read would break the channel
            self._channel.send(request)
            reply = self._channel.recv()
        if not isinstance(reply, dict):
            raise WorkerError("the host sent a malformed file reply")
        if reply.get("ok") is True:
            return reply
        raise _error_from_reply(reply.get("error"))


def _error_from_reply(error: Any) -> Exception:
    """Rebuild the host's refusal as the exception the executor reports to the AI."""
    if not isinstance(error, dict):
        return WorkerError("the host sent a malformed file reply")
    kind = str(error.get("type", ""))
    message = str(error.get("message", "file operation refused"))
    rule = error.get("rule")
    if kind == "SecurityError":
        return SecurityError(message, rule=str(rule) if rule else "policy")
    if kind == "ResourceLimitExceeded":
        return ResourceLimitExceeded(str(rule) if rule else "file_size", message)
    return _OS_ERRORS.get(kind, OSError)(message)


def run_worker(
    plan: Any,
    sock: socket.socket,
    policy: PolicyView,
    *,
    language_guard: bool,
    namespace: RestrictedSession | None = None,
    standby: bool = True,
) -> NoReturn:
    """The worker's whole life, from just after ``fork`` to ``_exit``.

    ``namespace`` is the job's restricted namespace, built by the zygote before the fork
    (:func:`prepare_namespace`); this worker's copy is its own, and nothing ran in it yet
    (built here, after the lockdown, when none was passed).
    A ``standby`` worker (for the pool) warms up after its hello while no job has come;
    one started for a waiting call takes its job at once.
    """
    from ai_sandbox.isolation.layers import lockdown_worker

    channel = Channel(sock, max_send=host_recv_cap(policy), max_recv=worker_recv_cap(policy))
    try:
        active = lockdown_worker(plan, keep_fds=(sock.fileno(),))
    except IsolationUnavailable as exc:
        _say(channel, {"type": "failed", "layer": exc.layer, "message": str(exc)})
        os._exit(_EXIT_LOCKDOWN_FAILED)
    except BaseException as exc:
        message = f"lockdown failed: {type(exc).__name__}: {exc}"
        _say(channel, {"type": "failed", "layer": "lockdown", "message": message})
        os._exit(_EXIT_LOCKDOWN_FAILED)
    if namespace is None:
        namespace = prepare_namespace(policy, language_guard)
    if not _say(channel, {"type": "hello", "layers": list(active)}):
        os._exit(_EXIT_CHANNEL_LOST)
    if not standby:
        gc.freeze()  # its job comes at once: warming up first would only delay it
    elif namespace is not None:
        _warm_while_idle(channel, namespace)
    elif not channel.pending():
        with contextlib.suppress(Exception):  # a cold worker is slower, not less safe
            warm_up(policy, language_guard, stop=channel.pending)
    # Before the job is read (the warm-up ran with no file access): the namespace's files are
    # the host's, over the channel, from here on.
    fs = ChannelFS(channel, policy)
    if namespace is not None:
        namespace.attach(fs)
    try:
        job = channel.recv()
    except (SandboxError, OSError):
        os._exit(_EXIT_CHANNEL_LOST)
    view = getattr(plan, "view", None)
    writes = _Writes(fs, policy) if view is not None and getattr(view, "writes", False) else None
    if isinstance(job, dict) and job.get("type") == "session":
        _serve_session(channel, fs, policy, writes, namespace)
    elif isinstance(job, dict) and job.get("type") == "run":
        _run_one(channel, fs, policy, job, writes, namespace)
    os._exit(_EXIT_OK)


def prepare_namespace(policy: PolicyView, language_guard: bool) -> RestrictedSession | None:
    """The restricted language's namespace for one job (``None`` in python mode), with no file
    access until a worker attaches its channel. The zygote builds it once: each worker then
    finds its own copy ready instead of building one per call."""
    if policy.language != "restricted":
        return None
    from ai_sandbox.executor.runtime import RestrictedSession

    return RestrictedSession(
        policy=_as_policy(policy), fs=_NoFiles(), language_guard=language_guard
    )


def _warm_while_idle(channel: Channel, namespace: RestrictedSession) -> None:
    """While no job has arrived: run our own job in the namespace, then compile a source the
    zygote never saw, so the pages the AI's job touches are already this worker's (copied on
    write) when it arrives. A worker whose job is already waiting skips what is left (under
    load the job would touch those pages anyway; warming them first would only cost CPU).
    Then the collector's counts are cleared, so a small job triggers no collection."""
    with contextlib.suppress(Exception):  # a cold worker is slower, not less safe
        if not channel.pending():
            namespace.warm_up(WARM_UP_CODE, {"warm": [1]})
        if not channel.pending():
            from ai_sandbox.executor.runtime import COMPILE_CACHE

            COMPILE_CACHE.get(WORKER_WARM_UP_CODE)
    gc.freeze()


class _NoFiles:
    """The file access of the warm-up run: none."""

    def read_bytes(self, path: str) -> bytes:
        raise PermissionError("no file access during warm-up")

    def write_bytes(self, path: str, data: bytes) -> int:
        raise PermissionError("no file access during warm-up")


#: Our own job for warming up: the shapes agent code usually has (a function, a loop, a
#: comprehension, a dict result, an f-string, a call of a builtin), so the pages and caches a
#: first job touches are already warm. It is ours, never the AI's.
WARM_UP_CODE = """
def warm_up(items):
    total = 0
    for item in items:
        total += item
    squares = [item * item for item in items if item % 2]
    return {'total': total, 'count': len(items), 'squares': squares, 'text': f'{total:d}'}

result = warm_up([1, 2, 3, 4, 5])
"""


#: A small source the zygote never compiled: the worker compiles it while idle (its compile
#: cache misses, so the compiler's pages are copied before the AI's job needs them).
WORKER_WARM_UP_CODE = "warm = [1, 2]\nresult = {'total': sum(warm)}\n# in the worker\n"


#: Our own pandas job, for python-mode workers whose zygote preloaded pandas: a frame, a
#: group-by and a frame result, the shape of an agent's first analysis.
PANDAS_WARM_UP_CODE = """
import pandas as pd
frame = pd.DataFrame({'key': ['a', 'b', 'a'], 'value': [1.0, 2.0, 3.5]})
frame['double'] = frame['value'] * 2
result = frame.groupby('key')['value'].agg(['sum', 'mean']).reset_index()
"""

#: :data:`PANDAS_WARM_UP_CODE` in steps, each a program of its own (a step repeats what the
#: previous ones warmed, cheaply): a pool worker checks for a job between steps, so a job that
#: comes during the warm-up waits for one step (a few milliseconds), not the whole of it.
_PANDAS_STEPS = (
    "import pandas as pd\n"
    "frame = pd.DataFrame({'key': ['a', 'b', 'a'], 'value': [1.0, 2.0, 3.5]})\n"
    "result = frame",
    "import pandas as pd\n"
    "frame = pd.DataFrame({'key': ['a', 'b', 'a'], 'value': [1.0, 2.0, 3.5]})\n"
    "frame['double'] = frame['value'] * 2\n"
    "result = frame['double'].sum()",
    PANDAS_WARM_UP_CODE,
)


def warm_up(
    policy: PolicyView, language_guard: bool, *, stop: Callable[[], bool] | None = None
) -> None:
    """Run :data:`WARM_UP_CODE` once, through the same path a job takes.

    The zygote calls it before forking, so the lazy one-time work (first imports, caches)
    is done once and shared; a python-mode worker waiting in the pool calls it again after its
    hello, while no job has come (``stop`` says when one has: the rest of the pandas part is
    then skipped), so the pages a job needs are already its own (copy-on-write done) when the AI's
    job arrives. No AI code has run yet in either process, so nothing of it can leak into a
    job.
    """
    from ai_sandbox.executor.runtime import execute_payload

    job = encode_json({"type": "run", "code": WARM_UP_CODE, "inputs": {"warm": [1]}})
    code, inputs = _job_fields(decode_json(job)) or (WARM_UP_CODE, None)
    if policy.language == "python":
        from ai_sandbox.executor.python_mode import run_python_payload

        payload = run_python_payload(code, inputs, policy=policy)
        if "pandas" in sys.modules:  # preloaded: copy the pages a pandas job touches first
            for step in _PANDAS_STEPS:
                if stop is not None and stop():
                    break  # a job came meanwhile (a pool worker warming up while idle)
                encode_json(run_python_payload(step, None, policy=policy))
    else:
        payload = execute_payload(
            code, inputs, policy=_as_policy(policy), fs=_NoFiles(), language_guard=language_guard
        )
    encode_json({"type": "result", "payload": payload})


def _as_policy(policy: PolicyView) -> SandboxPolicy:
    """The executor only reads the fields of ``PolicyView``; it takes either policy class."""
    return cast("SandboxPolicy", policy)


def _run_one(
    channel: Channel,
    fs: ChannelFS,
    policy: PolicyView,
    job: Any,
    writes: _Writes | None,
    ready: RestrictedSession | None,
) -> None:
    """One job: in ``ready``, the restricted namespace, or (``None``) in full CPython."""
    fields = _job_fields(job)
    if fields is None:
        _reply(channel, MALFORMED_JOB, _job_id(job))
        return
    code, inputs = fields
    with _streaming(channel, fs, job):
        if ready is not None:
            payload = ready.run(code, inputs)
        else:  # full CPython: the OS layers alone hold it
            from ai_sandbox.executor.python_mode import run_python_payload

            payload = run_python_payload(code, inputs, policy=policy, sinks=fs)
            if writes is not None:
                payload = writes.apply(payload)
    _reply(channel, payload, _job_id(job))


def _serve_session(
    channel: Channel,
    fs: ChannelFS,
    policy: PolicyView,
    writes: _Writes | None,
    ready: RestrictedSession | None,
) -> None:
    session: _Session
    if ready is not None:
        session = ready
    else:
        from ai_sandbox.executor.python_mode import PythonSession

        session = PythonSession(policy=policy, sinks=fs)
    interrupts = _Interrupts()
    fs.shield = interrupts.shield
    while True:
        try:
            job = channel.recv()
        except (SandboxError, OSError):
            return  # the host closed the session
        fields = _job_fields(job)
        if fields is None:
            if not _reply(channel, MALFORMED_JOB, _job_id(job)):
                return
            continue
        _arm_cpu_limit(policy)
        with _streaming(channel, fs, job):
            payload = interrupts.run(session.run, *fields)
            if writes is not None:
                payload = writes.apply(payload)
        if not _reply(channel, payload, _job_id(job)):
            return


class _Writes:
    """Sends what a python-mode run wrote in its overlay to the host, which decides each
    file (see :mod:`~ai_sandbox.isolation.fsview_writes`); remembers what a session sent."""

    def __init__(self, fs: ChannelFS, policy: PolicyView) -> None:
        self._fs = fs
        self._policy = policy
        self._sent: dict[str, tuple[int, int, int]] = {}

    def apply(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` after the run's writes were offered to the host: a notice in its
        ``stdout`` names what was not applied; a run over its write quota applies nothing
        and ends ``status="limit"``."""
        from ai_sandbox.isolation.fsview_writes import harvest, upper_dir

        try:
            found = harvest(
                upper_dir(), max_file_bytes=self._policy.max_file_bytes, sent=self._sent
            )
        except OSError as exc:
            return _write_failure(payload, f"its writes could not be read ({exc.strerror})")
        if found.full or found.too_many:
            what = (
                f"its writes reached max_write_bytes_total ({self._policy.max_write_bytes_total}"
                " bytes)"
                if found.full
                else "it changed too many entries"
            )
            return _write_failure(payload, what)
        notes = list(found.skipped)
        for relative, data in found.files:
            try:
                self._fs.write_bytes(relative, data)
            except (SandboxError, OSError) as exc:
                # Kept in ``_sent``: a session does not offer the same refused file again
                # (every later run would be rejected for it); a changed one is offered anew.
                notes.append(f"{relative} (refused by the host: {exc})")
        if not notes:
            return payload
        notice = "\n[ai-sandbox] not applied to the root:\n" + "".join(
            f"  {note}\n" for note in notes[:50]
        )
        if len(notes) > 50:
            notice += f"  ... and {len(notes) - 50} more\n"
        return {**payload, "stdout": str(payload.get("stdout") or "") + notice}


def _write_failure(payload: dict[str, Any], what: str) -> dict[str, Any]:
    """The run's result when none of its writes may be applied."""
    return {
        **payload,
        "status": "limit",
        "result": None,
        "error": {
            "type": "ResourceLimitExceeded",
            "message": f"nothing was written to the root: {what}",
            "rule": "write_total",
            "line": None,
        },
    }


class _Interrupts:
    """Turns the host's ``SIGINT`` at a run's deadline into a ``KeyboardInterrupt`` in the run.

    Only while a run is executing: between runs, and while a file request is on the channel
    (:meth:`shield`), the signal is held back, so a frame is never cut in half and the session
    loop itself is never interrupted. The handler is installed again before every run, so code
    that replaced it (with the language guard off) keeps it for one run at most; code that
    ignores the interrupt is killed by the host when its grace period ends.
    """

    _IDLE, _RUNNING, _SHIELDED = 0, 1, 2

    def __init__(self) -> None:
        self.state = self._IDLE
        self.pending = False

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self.state == self._RUNNING:
            raise KeyboardInterrupt
        if self.state == self._SHIELDED:
            self.pending = True

    def run(self, run: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        """``run(*args)``'s payload; an interrupt landing outside the executor is reported too."""
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGINT, self._on_sigint)
        self.pending = False
        try:
            try:
                self.state = self._RUNNING
                payload = run(*args)
            finally:
                self.state = self._IDLE
        except KeyboardInterrupt:
            payload = dict(INTERRUPTED_RUN)
        return payload

    @contextlib.contextmanager
    def shield(self) -> Iterator[None]:
        if self.state != self._RUNNING:
            yield
            return
        self.state = self._SHIELDED
        try:
            yield
        finally:
            self.state = self._RUNNING
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


@contextlib.contextmanager
def _streaming(channel: Channel, fs: ChannelFS, job: Any) -> Iterator[None]:
    """While the job runs, send what it prints as ``output`` frames, if the job asked for it
    (``"stream": true``); the rest is flushed when it ends, before the result."""
    if not (isinstance(job, dict) and job.get("stream") is True):
        yield
        return
    stream = _OutputStream(channel, _job_id(job), fs.shield)
    fs.output_sink = stream.write
    try:
        yield
    finally:
        fs.output_sink = None
        stream.flush()


class _OutputStream:
    """Batches printed text into ``output`` frames: a print after a quiet spell goes at once,
    prints in quick succession at most every ``_STREAM_INTERVAL_S`` (or when ``_STREAM_CHUNK``
    characters are waiting), and the rest when the run ends; each frame at most
    ``_STREAM_CHUNK`` characters. (No timer thread: the worker runs none.)
    The executor's collector passes on only what it keeps, so the stream stays within
    ``max_output_bytes``; the host holds it to that again."""

    def __init__(
        self,
        channel: Channel,
        job_id: str | None,
        shield: Callable[[], contextlib.AbstractContextManager[None]],
    ) -> None:
        self._channel = channel
        self._job = job_id
        self._shield = shield
        self._parts: list[str] = []
        self._size = 0
        self._last = time.monotonic() - _STREAM_INTERVAL_S  # the first print goes at once
        self._broken = False

    def write(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= _STREAM_CHUNK or time.monotonic() - self._last >= _STREAM_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        text, self._parts, self._size = "".join(self._parts), [], 0
        self._last = time.monotonic()
        if not text or self._broken:
            return
        from ai_sandbox.executor.inputs import replace_lone_surrogates

        text = replace_lone_surrogates(text)
        with self._shield():  # a frame is never cut in half by an interrupt
            for start in range(0, len(text), _STREAM_CHUNK):
                piece = text[start : start + _STREAM_CHUNK]
                try:
                    self._channel.send({"type": "output", "job": self._job, "text": piece})
                except (SandboxError, OSError, TypeError, ValueError):
                    self._broken = True  # the result still carries the whole output
                    return


#: Largest ``output`` frame text, and the batch size that sends one at once.
_STREAM_CHUNK = 8192
#: Longest a printed line waits before it is sent.
_STREAM_INTERVAL_S = 0.05


#: The payload of a run interrupted outside the executor's own error handling.
INTERRUPTED_RUN: dict[str, Any] = {
    "status": "error",
    "result": None,
    "stdout": "",
    "error": {"type": "KeyboardInterrupt", "message": "interrupted", "line": None, "rule": None},
    "duration_ms": 0.0,
}


class _Session(Protocol):
    """What a session's worker runs each job on (restricted or full Python)."""

    def run(self, code: str, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]: ...


def _arm_cpu_limit(policy: PolicyView) -> None:
    """Hold the next run of a session to one run's CPU time: soft RLIMIT_CPU = used + limit.

    Lowering or raising one's own soft limit up to the hard limit needs no privilege; the hard
    limit (the session's total budget) stays where the zygote put it.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    wanted = math.ceil(usage.ru_utime + usage.ru_stime) + math.ceil(policy.timeout_s) + 1
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (OSError, ValueError):
        pass  # the wall clock still bounds the run


#: The reply to a job that is not a run request (fail closed: nothing runs).
MALFORMED_JOB: dict[str, Any] = {
    "status": "error",
    "result": None,
    "stdout": "",
    "error": {"type": "WorkerError", "message": "malformed job", "line": None, "rule": None},
    "duration_ms": 0.0,
}


def _job_fields(job: Any) -> tuple[str, dict[str, Any] | None] | None:
    """``(code, inputs)`` of a run request, or ``None`` when the job is malformed."""
    if not isinstance(job, dict):
        return None
    code, inputs = job.get("code"), job.get("inputs")
    if not isinstance(code, str) or not (inputs is None or isinstance(inputs, dict)):
        return None
    return code, inputs


def _job_id(job: Any) -> str | None:
    """The id the host gave the job; the result must carry it back."""
    job_id = job.get("job") if isinstance(job, dict) else None
    return job_id if isinstance(job_id, str) else None


def _reply(channel: Channel, payload: dict[str, Any], job_id: str | None) -> bool:
    """Send the final payload; if it is over the channel cap, send a ``limit`` result instead."""
    try:
        channel.send({"type": "result", "job": job_id, "payload": payload})
        return True
    except ResourceLimitExceeded:
        limited = {
            "status": "limit",
            "result": None,
            "stdout": "",
            "error": {
                "type": "ResourceLimitExceeded",
                "message": "the output and result together exceed the size the host accepts",
                "rule": "result",
            },
            "duration_ms": payload.get("duration_ms", 0.0),
        }
        return _say(channel, {"type": "result", "job": job_id, "payload": limited})
    except (TypeError, ValueError):
        broken = {
            "status": "error",
            "result": None,
            "stdout": "",
            "error": {"type": "TypeError", "message": "the result is not JSON data"},
            "duration_ms": payload.get("duration_ms", 0.0),
        }
        return _say(channel, {"type": "result", "job": job_id, "payload": broken})
    except (SandboxError, OSError):
        return False


def _say(channel: Channel, message: dict[str, Any]) -> bool:
    try:
        channel.send(message)
        return True
    except (SandboxError, OSError, TypeError, ValueError):
        return False
