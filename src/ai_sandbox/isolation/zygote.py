"""The zygote: a small, single-threaded parent that forks locked-down workers on request.

Started by :class:`~ai_sandbox.isolation.zygote_client.ZygoteClient` as
``python -I -c BOOTSTRAP <control-fd>`` (``python -I -m ai_sandbox.isolation.zygote <fd>`` works
too), with an empty environment, only the control socket open, and cwd = the sandbox root. It

1. reads its configuration (the policy and the language-guard switch) from the control socket;
2. imports the executor and the policy's allowed modules once, so workers inherit them;
3. probes the kernel's layers and calls ``prepare_zygote`` once (empty network namespace,
   Landlock ruleset, seccomp program): per-Sandbox work paid once, not per call;
4. answers ``spawn`` (fork a worker, hand the host its socket and a pidfd via ``SCM_RIGHTS``),
   ``kill`` (SIGKILL a worker's process group; safe from pid reuse because only the zygote
   reaps its children), and ``status`` (a worker's exit status, so the host can tell a memory
   kill from a crash);
5. exits, killing its workers, when the host closes the control socket or dies.

The zygote runs none of the AI's code itself: only forked workers do, after lockdown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import os
import select
import signal
import socket
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ai_sandbox.exceptions import IsolationUnavailable, SandboxError
from ai_sandbox.isolation.protocol import recv_message, send_message

__all__ = ["BOOTSTRAP", "CONTROL_MAX_BYTES", "main"]

#: The zygote's command line program. It registers the ``ai_sandbox`` package *without running
#: its ``__init__``* (which imports the whole library: Sandbox, audit, structlog...), so the
#: zygote holds only what workers need. Every worker is forked from it and fork cost grows with
#: the parent's memory: this keeps each call's fork about a third cheaper.
BOOTSTRAP = (
    "import importlib.util as u, sys; "
    "sys.modules['ai_sandbox'] = u.module_from_spec(u.find_spec('ai_sandbox')); "
    "from ai_sandbox.isolation.zygote import main; "
    "sys.exit(main(sys.argv))"
)

#: Cap on one control message in either direction (the configuration is the largest).
CONTROL_MAX_BYTES = 1024 * 1024
#: At most this many live workers per zygote; a spawn beyond it is refused.
MAX_CHILDREN = 512
#: At most this many workers forked for one request (the host's pool asks for what it lacks).
MAX_BATCH = 8
#: Total CPU seconds a session's worker may use over its life (each run is held to one
#: run's limit by its soft limit and by the wall clock).
SESSION_CPU_S = 3600
_STATUS_MEMORY = 1024
#: Modules the stdlib imports lazily, inside functions (``datetime.strptime``, codecs).
#: A worker cannot import them itself: once its uid is dropped it may not be able to read
#: the interpreter's directory at all (e.g. under /root), and Landlock limits reads anyway.
_POLL_MS = 1000
#: How often exited workers are reaped while the host waits for one's exit status.
_STATUS_POLL_MS = 2


def main(argv: list[str]) -> int:
    """Entry point: serve the control socket whose descriptor number is ``argv[1]``."""
    ctl = socket.socket(fileno=int(argv[1]))
    try:
        config, _ = recv_message(ctl, max_bytes=CONTROL_MAX_BYTES)
        ready = _setup(config)
    except IsolationUnavailable as exc:
        _send_quietly(ctl, {"type": "unavailable", "layer": exc.layer, "message": str(exc)})
        return 0
    except Exception as exc:  # report any startup failure to the host, which raises it
        _send_quietly(ctl, {"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    plan, policy, language_guard, hello = ready
    # A single-use worker's namespace, built once here (after the warm-up, never run in):
    # every worker gets its own copy with the fork, so none builds one per call.
    from ai_sandbox.isolation.worker import prepare_namespace

    namespace = prepare_namespace(policy, language_guard)
    send_message(ctl, hello)
    # Everything imported so far is shared with every worker: keep the collector off it, so a
    # worker's GC passes do not dirty (copy) the zygote's pages.
    gc.collect()
    gc.freeze()
    _Zygote(ctl, plan, policy, language_guard, namespace).serve()
    return 0


def _setup(config: Any) -> tuple[Any, Any, bool, dict[str, Any]]:
    """Import what workers need, probe the layers and prepare the per-Sandbox plan."""
    from ai_sandbox.isolation import layers
    from ai_sandbox.isolation.worker import warm_up
    from ai_sandbox.isolation.worker_policy import WorkerPolicy

    if not isinstance(config, dict):
        raise ValueError("the configuration must be a JSON object")
    policy = WorkerPolicy.from_json(config.get("policy"))
    language_guard = config.get("language_guard") is not False
    _preload(policy)
    # Read now: once the zygote has entered its filesystem view, /proc may be gone.
    baseline = _memory_baseline() if policy.language == "python" else None
    probe = layers.probe_layers()
    required = layers.required_layers(policy.isolation, probe)
    plan = layers.prepare_zygote(policy, required=required)
    # Our own job, once, here: the lazy first-use work is then shared by every worker.
    warm_up(policy, language_guard)
    if baseline is not None:
        plan = _above_baseline(plan, baseline)
    if policy.language == "restricted":
        # Last: from here on the zygote holds what every worker would apply the same way
        # (its uid, capabilities, Landlock domain, seccomp filter...), before it reads another
        # message from the host. Python mode's workers mount their own /tmp: they need the
        # zygote's privileges, and lock themselves down after the fork.
        plan = layers.lock_zygote(plan)
    hello = {
        "type": "ready",
        "required": sorted(required),
        "probe": {
            name: {"available": bool(status.available), "detail": str(status.detail)}
            for name, status in probe.items()
        },
        # What the zygote holds itself (and every worker inherits); empty when each worker
        # locks itself down whole.
        "locked": list(plan.locked),
    }
    return plan, policy, language_guard, hello


def _preload(policy: Any) -> None:
    """Import the executor and every allowed module now, once, before any worker exists."""
    import ai_sandbox.executor.runtime
    import ai_sandbox.isolation.worker
    import ai_sandbox.isolation.zygote_lock  # noqa: F401  (the lock and fork; the host never needs it)
    from ai_sandbox.executor.modules import PRELOAD_MODULES

    # After lockdown a worker can import nothing new (Landlock, and as uid 65534 it may not even
    # be able to read the interpreter's files), so everything the allowed modules import lazily,
    # from C or Python, and the common codecs are imported here, once.
    for name in (*sorted(policy.allowed_imports), *PRELOAD_MODULES):
        # A module that does not exist here simply stays unavailable to the AI's code.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    if policy.language == "python":
        # Full Python: the everyday stdlib, the policy's preload list and their lazy imports.
        from ai_sandbox.executor.python_preload import prepare_python_mode

        prepare_python_mode(policy.preload)
    elif policy.preload:
        from ai_sandbox.executor.python_preload import import_preload

        import_preload(policy.preload)


#: ``/proc/self/status`` fields: the address space and the data segments the zygote holds.
_BASELINE_FIELDS = {"RLIMIT_AS": "VmSize:", "RLIMIT_DATA": "VmData:"}


def _memory_baseline() -> dict[str, int]:
    """The zygote's address space and data size now, by the rlimit they count against."""
    baseline: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            for name, field in _BASELINE_FIELDS.items():
                if line.startswith(field):
                    baseline[name] = int(line.split()[1]) * 1024
    return baseline


def _above_baseline(plan: Any, baseline: dict[str, int]) -> Any:
    """In python mode the memory limit counts from what the zygote holds after preloading.

    numpy, pandas and matplotlib take over 250 MiB of *address space* (mostly mapped, shared
    and never touched), which every worker inherits: counted in, they would leave a worker of
    the default 256 MiB limit no room at all. So a python-mode worker's ``RLIMIT_AS`` and
    ``RLIMIT_DATA`` are the inherited size plus ``memory_limit_mb``: the code can allocate
    that much more, no further (the 4x-memory allocation test holds it).
    """
    limits = tuple(
        (
            dataclasses.replace(
                limit,
                soft=limit.soft + baseline[limit.name],
                hard=limit.hard + baseline[limit.name],
            )
            if limit.name in baseline
            else limit
        )
        for limit in plan.limits
    )
    return dataclasses.replace(plan, limits=limits)


class _Zygote:
    """The serving loop: one thread, a poll over the control socket (see :meth:`serve`)."""

    def __init__(
        self, ctl: socket.socket, plan: Any, policy: Any, language_guard: bool, namespace: Any
    ) -> None:
        from ai_sandbox.isolation.zygote_lock import fast_fork  # (not in the host's imports)

        self.ctl = ctl
        self.namespace = namespace
        #: A locked zygote (its filter in place: it can never start a thread) forks with libc's
        #: fork, skipping CPython's after-fork work; any other with ``os.fork``.
        self.fork: Callable[[], int] = fast_fork if "seccomp" in plan.locked else os.fork
        self.plan = plan
        self.policy = policy
        self.language_guard = language_guard
        self.children: set[int] = set()
        self.statuses: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self.waiting: dict[int, list[int]] = {}

    def serve(self) -> None:
        # No SIGCHLD wake-up: a worker's exit does not wake the zygote (each wake-up would copy
        # the pages its loop touches while other workers share them). Exited workers are reaped
        # after every request and at least every second, and every few milliseconds while the
        # host waits for an exit status.
        parent = os.getppid()
        poller = select.poll()
        poller.register(self.ctl.fileno(), select.POLLIN)
        try:
            while True:
                events = poller.poll(_STATUS_POLL_MS if self.waiting else _POLL_MS)
                if events and not self._serve_one():
                    return
                self._reap()
                if os.getppid() != parent:
                    return  # the host died without closing the socket
        finally:
            self._kill_all()

    def _serve_one(self) -> bool:
        """Handle one request; False when the host has gone away."""
        try:
            request, fds = recv_message(self.ctl, max_bytes=CONTROL_MAX_BYTES)
        except (SandboxError, OSError):
            return False
        for fd in fds:
            os.close(fd)
        if not isinstance(request, dict):
            return True
        op = request.get("op")
        if op == "spawn":
            ids = request.get("ids")
            if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BATCH:
                ids = [request.get("id")]
            now = request.get("now")
            self._spawn(
                ids,
                session=request.get("session") is True,
                now=now if isinstance(now, int) else 0,
            )
        elif op == "kill":
            self._kill(request.get("pid"))
        elif op == "status":
            self._status(request.get("id"), request.get("pid"))
        return True

    # -- requests ---------------------------------------------------------------------------
    def _spawn(self, req_ids: list[Any], *, session: bool, now: int) -> None:
        """Fork one worker per id, back to back, then hand each to the host.

        Every fork write-protects the zygote's memory: each page the zygote writes afterwards
        is copied while the new worker lives. Forking a batch with nothing in between but the
        fork itself, and doing the bookkeeping once after the last, copies those pages once
        per batch instead of once per worker.
        """
        self._reap()  # workers that exited since the last request no longer count
        room = MAX_CHILDREN - len(self.children)
        for req_id in req_ids[max(room, 0) :]:
            self._reply({"id": req_id, "error": f"too many live workers ({MAX_CHILDREN})"})
        req_ids = req_ids[: max(room, 0)]
        # A failed socketpair or fork (EMFILE, ENOMEM, or EAGAIN: a locked zygote runs as the
        # workers' uid, whose RLIMIT_NPROC counts every process of that uid on the machine)
        # fails this request's remaining workers, never the zygote: its death would take every
        # live session's worker with it (pdeathsig).
        pairs: list[tuple[socket.socket, socket.socket]] = []
        failure: OSError | None = None
        for _ in req_ids:
            try:
                pairs.append(socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
            except OSError as exc:
                failure = exc
                break
        plan = _session_plan(self.plan) if session else self.plan
        pids = []
        for index, (parent_end, child_end) in enumerate(pairs):
            try:
                pid = self.fork()
            except OSError as exc:
                failure = exc
                break
            if pid == 0:  # pragma: no cover - runs in the worker
                for pair in pairs:  # the others' sockets: closed with every inherited fd
                    if pair[1] is not child_end:
                        pair[0].detach()
                        pair[1].detach()
                # The first ``now`` get a job at once; the others wait in the host's pool.
                self._become_worker(plan, parent_end, child_end, standby=index >= now)
            pids.append(pid)
        for req_id, pid, (parent_end, child_end) in zip(
            req_ids[: len(pids)], pids, pairs[: len(pids)], strict=True
        ):
            child_end.close()
            self.children.add(pid)
            self._hand_over(req_id, pid, parent_end)
        for parent_end, child_end in pairs[len(pids) :]:
            parent_end.close()
            child_end.close()
        for req_id in req_ids[len(pids) :]:
            self._reply({"id": req_id, "error": f"could not start a worker: {failure}"})

    def _hand_over(self, req_id: Any, pid: int, parent_end: socket.socket) -> None:
        # A pidfd lets the host kill exactly this process later without asking us, and without
        # a pid-reuse race: it is opened here, before the child can have been reaped.
        try:
            pidfd = os.pidfd_open(pid)
        except OSError as exc:  # EMFILE: fail this worker, not the zygote (see _spawn)
            self._kill(pid)
            parent_end.close()
            self._reply({"id": req_id, "error": f"could not start a worker: {exc}"})
            return
        try:
            send_message(self.ctl, {"id": req_id, "pid": pid}, fds=(parent_end.fileno(), pidfd))
        except OSError:
            self._kill(pid)
        finally:
            parent_end.close()
            os.close(pidfd)

    def _become_worker(
        self,
        plan: Any,
        parent_end: socket.socket,
        child_end: socket.socket,
        *,
        standby: bool,
    ) -> None:
        """In the forked child: drop the zygote's resources and run the worker; never returns."""
        code = 70
        try:
            self.ctl.close()
            parent_end.close()
            from ai_sandbox.isolation.worker import run_worker

            run_worker(
                plan,
                child_end,
                self.policy,
                language_guard=self.language_guard,
                namespace=self.namespace,
                standby=standby,
            )
        except BaseException:  # noqa: S110 - nothing can be reported from here; exit
            pass
        finally:
            os._exit(code)

    def _kill(self, pid: Any) -> None:
        # Only our own, not yet reaped child: its pid (and process group id) cannot have been
        # reused, because it stays a zombie until this thread reaps it.
        if not isinstance(pid, int) or pid not in self.children:
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # the worker's group, once it has called setsid()

    def _status(self, req_id: Any, pid: Any) -> None:
        self._reap()
        if isinstance(pid, int) and pid in self.statuses:
            self._reply({"id": req_id, **self.statuses[pid]})
        elif isinstance(pid, int) and pid in self.children:
            self.waiting.setdefault(pid, []).append(req_id)
        else:
            self._reply({"id": req_id, "unknown": True})

    # -- children ---------------------------------------------------------------------------
    def _reap(self) -> None:
        while self.children:
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)
            status: dict[str, Any] = {
                "signal": os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else None,
                "code": os.WEXITSTATUS(raw) if os.WIFEXITED(raw) else None,
            }
            self.statuses[pid] = status
            while len(self.statuses) > _STATUS_MEMORY:
                self.statuses.popitem(last=False)
            for req_id in self.waiting.pop(pid, []):
                self._reply({"id": req_id, **status})

    def _kill_all(self) -> None:
        for pid in list(self.children):
            self._kill(pid)
        for pid in list(self.children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def _reply(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            send_message(self.ctl, message)


def _session_plan(plan: Any) -> Any:
    """The plan for a session's worker: the CPU *hard* limit becomes a whole-session budget.

    RLIMIT_CPU counts a process's whole life, and nobody here may raise another process's
    limit; so a session worker starts with room for ``SESSION_CPU_S`` and lowers its own *soft*
    limit before every run to what one run may use (see ``worker._arm_cpu_limit``).
    """
    limits = tuple(
        (
            dataclasses.replace(limit, hard=max(limit.hard, SESSION_CPU_S))
            if limit.name == "RLIMIT_CPU"
            else limit
        )
        for limit in plan.limits
    )
    return dataclasses.replace(plan, limits=limits)


def _send_quietly(ctl: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        send_message(ctl, message)


if __name__ == "__main__":  # pragma: no cover - the process entry point
    sys.exit(main(sys.argv))
