"""The host's handle on its zygote: start it, ask for workers, kill them, learn how they ended.

One :class:`ZygoteClient` per :class:`~ai_sandbox.isolation.worker_backend.WorkerBackend`. Requests
go out on a ``SOCK_SEQPACKET`` control socket from any thread; one reader thread matches the
replies to their requests by id. A :class:`Worker` is what a spawn yields: a verified,
locked-down process waiting for its job on its own channel.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess  # nosec B404 - starts our own interpreter, never a shell
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_sandbox.exceptions import IsolationUnavailable, SandboxError, WorkerError
from ai_sandbox.isolation.limits import host_recv_cap, worker_recv_cap
from ai_sandbox.isolation.protocol import Channel, recv_message, send_message, wait_readable
from ai_sandbox.isolation.zygote import BOOTSTRAP, CONTROL_MAX_BYTES
from ai_sandbox.policy import SandboxPolicy

__all__ = ["ExitStatus", "Worker", "ZygoteClient", "ZygoteInfo"]

#: How long the zygote may take to start (interpreter, imports, probing, namespace setup).
STARTUP_TIMEOUT_S = 30.0
#: How long a spawned worker may take to fork, lock down and say hello.
SPAWN_TIMEOUT_S = 10.0
#: How long the rest of a hello already begun may take, for a worker taken after its deadline.
_LATE_HELLO_S = 1.0


@dataclass(frozen=True, slots=True)
class ZygoteInfo:
    """What the zygote found: the layers strict/process requires and the kernel's offer."""

    required: frozenset[str]
    probe: dict[str, tuple[bool, str]]
    #: The layers the zygote applied to itself once, which its workers inherit (see
    #: :mod:`.zygote_lock`); empty when every worker locks itself down whole.
    locked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a worker ended: killed by ``signal``, or exited with ``code``."""

    signal: int | None
    code: int | None


@dataclass(slots=True)
class Worker:
    """A locked-down worker process waiting on ``channel``; single use unless a session.

    ``pidfd`` refers to exactly this process (no pid-reuse race), so the host can SIGKILL it
    directly; the zygote is asked only to kill its whole process group on a timeout.
    """

    pid: int
    pidfd: int
    channel: Channel
    layers: tuple[str, ...]
    closed: bool = field(default=False)
    #: Until :meth:`ready` ran: checks the worker's hello (its layers) by this deadline.
    check: Callable[[Worker], tuple[str, ...]] | None = field(default=None, repr=False)

    def ready(self) -> Worker:
        """This worker, once its hello said it holds every required layer (waiting for the
        hello if it has not come yet). A worker that fails the check is closed and the error
        raised (``IsolationUnavailable`` names the missing layer: fail closed)."""
        check, self.check = self.check, None
        if check is not None:
            try:
                self.layers = check(self)
            except BaseException:
                self.close()
                raise
        return self

    def close(self) -> None:
        """Kill the process (if it still runs) and release the channel. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.kill()
        os.close(self.pidfd)
        self.channel.close()

    def kill(self) -> None:
        """SIGKILL the worker process now (a no-op once it has exited)."""
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def pause(self) -> None:
        """Freeze the process (``SIGSTOP``, which it cannot catch) until :meth:`resume`.

        Raises ``OSError`` if it has already gone."""
        signal.pidfd_send_signal(self.pidfd, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused process run again (``SIGCONT``). Raises ``OSError`` if it has gone."""
        signal.pidfd_send_signal(self.pidfd, signal.SIGCONT)

    def status(self) -> tuple[bool, int] | None:
        """``(stopped, cpu_ticks)`` now, from ``/proc/<pid>/stat``: whether the process is
        frozen (state ``T``) and the user plus system CPU time it has used, in clock ticks.

        ``None`` once it has gone (or ``/proc`` cannot be read); a reused pid is caught by
        :meth:`resume`, which signals through the pidfd."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat_file:
                # after the command name, which may itself hold ")": state is the first field,
                # utime and stime the 12th and 13th
                fields = stat_file.read().rsplit(b")", 1)[1].split()
            return fields[0] == b"T", int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return None

    def exited(self) -> bool:
        """Whether the process has exited (its pidfd is readable then)."""
        return wait_readable(self.pidfd, 0)


class _Pending:
    __slots__ = ("done", "fds", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] | None = None
        self.fds: list[int] = []


class ZygoteClient:
    """Owns the zygote process and its control socket."""

    def __init__(
        self, proc: subprocess.Popen[bytes], ctl: socket.socket, policy: SandboxPolicy
    ) -> None:
        self._proc = proc
        self._ctl = ctl
        self._policy = policy
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._dead: str | None = None
        self.info = ZygoteInfo(frozenset(), {})
        self._reader = threading.Thread(
            target=self._read_loop, name="ai-sandbox-zygote", daemon=True
        )

    # -- lifecycle --------------------------------------------------------------------------
    @classmethod
    def start(cls, root: Path, policy: SandboxPolicy, *, language_guard: bool) -> ZygoteClient:
        """Launch the zygote for ``root``/``policy``; raises ``IsolationUnavailable`` (fail
        closed) when a required layer is missing, ``WorkerError`` when it cannot start."""
        host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            proc = subprocess.Popen(  # noqa: S603  # nosec B603 - our interpreter, no shell
                [sys.executable, "-I", "-c", BOOTSTRAP, str(zygote_end.fileno())],
                env={},
                close_fds=True,
                pass_fds=(zygote_end.fileno(),),
                start_new_session=True,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            host_end.close()
            raise WorkerError(f"could not start the isolation zygote: {exc}") from None
        finally:
            zygote_end.close()
        client = cls(proc, host_end, policy)
        try:
            client._handshake(language_guard)
        except BaseException:
            client.close()
            raise
        client._reader.start()
        return client

    def _handshake(self, language_guard: bool) -> None:
        config = {"policy": self._policy.model_dump(mode="json"), "language_guard": language_guard}
        try:
            send_message(self._ctl, config)
        except OSError:
            code = self._proc.poll()
            raise WorkerError(f"the isolation zygote exited during startup (code {code})") from None
        self._ctl.settimeout(STARTUP_TIMEOUT_S)
        try:
            hello, _ = recv_message(self._ctl, max_bytes=CONTROL_MAX_BYTES)
        except TimeoutError:
            raise WorkerError("the isolation zygote did not start in time") from None
        except (WorkerError, OSError):
            code = self._proc.poll()
            raise WorkerError(f"the isolation zygote exited during startup (code {code})") from None
        finally:
            self._ctl.settimeout(None)
        if not isinstance(hello, dict):
            raise WorkerError("the isolation zygote sent a malformed greeting")
        if hello.get("type") == "unavailable":
            raise _unavailable(hello.get("layer"), hello.get("message"))
        if hello.get("type") != "ready":
            raise WorkerError(f"the isolation zygote failed to start: {hello.get('message')}")
        probe = hello.get("probe") or {}
        self.info = ZygoteInfo(
            required=frozenset(str(x) for x in hello.get("required") or ()),
            probe={
                str(name): (bool(v.get("available")), str(v.get("detail", "")))
                for name, v in probe.items()
                if isinstance(v, dict)
            },
            locked=tuple(str(x) for x in hello.get("locked") or ()),
        )

    def close(self) -> None:
        """Stop the zygote (it kills its workers on the way out). Idempotent."""
        with contextlib.suppress(OSError):
            self._ctl.shutdown(socket.SHUT_RDWR)
        try:
            self._proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._reader.is_alive() and self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)
        self._ctl.close()
        self._fail_pending("the sandbox is closed")

    @property
    def pid(self) -> int:
        """The zygote's process id."""
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._dead is None and self._proc.poll() is None

    # -- requests ---------------------------------------------------------------------------
    def spawn(self, *, session: bool = False, standby: bool = False) -> Worker:
        """A new worker, locked down and verified to hold every required layer.

        A ``session`` worker gets a whole-session CPU budget instead of one run's. A
        ``standby`` worker (one for the pool, or a session's) warms up while no job has come;
        any other gets its job at once, and warming up first would only delay it.
        """
        workers, failure = self.start_workers(
            1, now=0 if standby or session else 1, session=session
        )
        if failure is not None:
            raise failure
        return workers[0].ready()

    def start_workers(
        self, count: int, *, now: int = 0, session: bool = False
    ) -> tuple[list[Worker], SandboxError | None]:
        """Up to ``count`` new workers from one request: the zygote forks them back to back,
        which costs it less than a request each. The first ``now`` are for callers waiting to
        run a job at once; the others will wait in the pool and warm up meanwhile.

        Returns the workers the zygote started, not yet verified (each is checked by
        :meth:`Worker.ready` before its first job, when its hello has usually come), and the
        error that stopped the others (``None`` if none did)."""
        deadline = time.monotonic() + SPAWN_TIMEOUT_S
        request = {"op": "spawn", "session": session, "now": now}
        replies = self._request_many(request, count, timeout=SPAWN_TIMEOUT_S)
        workers: list[Worker] = []
        failure: SandboxError | None = None
        for reply, fds in replies:
            if failure is not None:
                _close_all(fds)
                continue
            try:
                workers.append(self._worker(reply, fds, deadline))
            except SandboxError as exc:
                failure = exc
        return workers, failure

    def _worker(self, reply: dict[str, Any], fds: list[int], deadline: float) -> Worker:
        pid = reply.get("pid")
        if not isinstance(pid, int) or len(fds) != 2:
            _close_all(fds)
            raise WorkerError(f"the zygote could not start a worker: {reply.get('error')}")
        sock = socket.socket(fileno=fds[0])
        channel = Channel(
            sock, max_send=worker_recv_cap(self._policy), max_recv=host_recv_cap(self._policy)
        )
        return Worker(
            pid=pid,
            pidfd=fds[1],
            channel=channel,
            layers=(),
            check=lambda worker: self._verify(worker.channel, deadline),
        )

    def _verify(self, channel: Channel, deadline: float) -> tuple[str, ...]:
        if time.monotonic() >= deadline and channel.pending():
            # A pooled worker is verified when taken, often long after its spawn's deadline:
            # its hello is waiting on the channel by then (read it; do not drop the worker).
            deadline = time.monotonic() + _LATE_HELLO_S
        try:
            hello = channel.recv(deadline=deadline)
        except TimeoutError:
            raise WorkerError("a new worker did not finish its lockdown in time") from None
        if not isinstance(hello, dict):
            raise WorkerError("a new worker sent a malformed greeting")
        if hello.get("type") == "failed":
            raise _unavailable(hello.get("layer"), hello.get("message"))
        raw = hello.get("layers")
        if hello.get("type") != "hello" or not isinstance(raw, list):
            raise WorkerError("a new worker sent a malformed greeting")
        layers = tuple(str(x) for x in raw)
        missing = sorted(self.info.required - set(layers))
        if missing:
            raise IsolationUnavailable(missing[0], "the worker could not apply it")
        return layers

    def kill(self, pid: int) -> None:
        """SIGKILL a worker (and its process group). Never blocks on a reply."""
        with contextlib.suppress(OSError, SandboxError):
            self._send({"op": "kill", "pid": pid})

    def exit_status(self, pid: int, timeout: float = 1.0) -> ExitStatus | None:
        """How worker ``pid`` ended, or ``None`` if unknown within ``timeout``."""
        try:
            reply, _ = self._request({"op": "status", "pid": pid}, timeout=timeout)
        except (WorkerError, TimeoutError):
            return None
        if reply.get("unknown"):
            return None
        sig, code = reply.get("signal"), reply.get("code")
        return ExitStatus(
            signal=sig if isinstance(sig, int) else None,
            code=code if isinstance(code, int) else None,
        )

    def _request_many(
        self, message: dict[str, Any], count: int, *, timeout: float
    ) -> list[tuple[dict[str, Any], list[int]]]:
        """Send ``message`` once with ``count`` request ids; each id's reply, in order. A reply
        that does not come in time is an error reply (its descriptors, if it comes later, are
        closed by the reader)."""
        ids = [next(self._ids) for _ in range(count)]
        pending = [_Pending() for _ in ids]
        with self._lock:
            if self._dead is not None:
                raise WorkerError(self._dead)
            self._pending.update(zip(ids, pending, strict=True))
        try:
            self._send({**message, "ids": ids})
            end = time.monotonic() + timeout
            for waiting in pending:
                waiting.done.wait(max(0.0, end - time.monotonic()))
        finally:
            with self._lock:
                for req_id in ids:
                    self._pending.pop(req_id, None)
        replies: list[tuple[dict[str, Any], list[int]]] = []
        for waiting in pending:
            if waiting.reply is None:
                _close_all(waiting.fds)
                reason = self._dead or "the isolation zygote did not answer in time"
                replies.append(({"error": reason}, []))
            else:
                replies.append((waiting.reply, waiting.fds))
        return replies

    def _request(
        self, message: dict[str, Any], *, timeout: float
    ) -> tuple[dict[str, Any], list[int]]:
        req_id = next(self._ids)
        pending = _Pending()
        with self._lock:
            if self._dead is not None:
                raise WorkerError(self._dead)
            self._pending[req_id] = pending
        try:
            self._send({**message, "id": req_id})
            if not pending.done.wait(timeout):
                raise TimeoutError("the isolation zygote did not answer in time")
        finally:
            with self._lock:
                self._pending.pop(req_id, None)
        if pending.reply is None:
            raise WorkerError(self._dead or "the isolation zygote stopped")
        return pending.reply, pending.fds

    def _send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            try:
                send_message(self._ctl, message)
            except OSError as exc:
                reason = f"the isolation zygote is gone ({exc})"
                with self._lock:
                    self._dead = self._dead or reason
                raise WorkerError(reason) from None

    # -- the reader thread ------------------------------------------------------------------
    def _read_loop(self) -> None:
        while True:
            try:
                reply, fds = recv_message(self._ctl, max_bytes=CONTROL_MAX_BYTES, max_fds=2)
            except (SandboxError, OSError):
                self._fail_pending("the isolation zygote stopped")
                return
            req_id = reply.get("id") if isinstance(reply, dict) else None
            with self._lock:
                pending = self._pending.get(req_id) if isinstance(req_id, int) else None
            if pending is None or not isinstance(reply, dict):
                _close_all(fds)  # a reply nobody waits for any more: do not leak its sockets
                continue
            pending.reply, pending.fds = reply, fds
            pending.done.set()

    def _fail_pending(self, reason: str) -> None:
        with self._lock:
            self._dead = self._dead or reason
            waiting = list(self._pending.values())
        for pending in waiting:
            pending.done.set()


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _unavailable(layer: Any, message: Any) -> IsolationUnavailable:
    """Rebuild the zygote's or worker's ``IsolationUnavailable`` in the host."""
    text = str(message or "not available on this machine")
    detail = text.split(" is unavailable: ", 1)[-1].split(". Refusing to run", 1)[0]
    return IsolationUnavailable(str(layer or "unknown"), detail)
