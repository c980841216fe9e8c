"""Locking the zygote once: what every worker would apply the same way, applied to the zygote.

A worker forked from a locked zygote inherits its environment wipe, its resource limits, its
uid and empty capability sets, ``no_new_privs``, its Landlock domain and its seccomp filter
(the kernel copies all of them on ``fork``), so each worker applies only what is its own:

==================  ============================================================================
layer               locked zygote (once)               worker (every fork)
==================  ============================================================================
clean_env           environment emptied and wiped      inherited
close_fds           stdio on ``/dev/null``             every descriptor but the channel closed
new_session                                            ``setsid``
pdeathsig                                              SIGKILL when the zygote dies
rlimits             file size, core, memlock, mqueue   CPU, memory, processes (0), open files
network_namespace   entered when the plan was made     inherited
fs_view             entered when the plan was made     inherited
no_privileges       uid ``nobody`` / no capabilities   inherited
no_new_privs        set                                inherited
landlock_fs/net     the read-only, no-TCP domain       inherited
landlock_scope      the domain scopes signals/sockets  a nested scope-only domain of its own
seccomp             :func:`.seccomp.build_zygote_filter`  :func:`.seccomp.build_worker_stack`
==================  ============================================================================

No layer is moved out of a worker's reach: the worker holds every one, and its own nested
Landlock domain and stacked filter keep it from signalling the zygote or a sibling (which now
share its uid), from forking, and from making sockets or pidfds, exactly as before. The zygote
itself stops running as root before it parses another message from the host.

Only the restricted language is locked this way: a python-mode worker mounts its own private
``/tmp`` and overlay after the fork, which needs the zygote's privileges (it locks itself down
after the fork, as before).

Because the locked zygote's filter lets it ``clone`` with a plain fork's flags only, it can never
start a thread; it then forks with libc's ``fork`` directly (:func:`fast_fork`), skipping
CPython's after-fork work, which exists for the threads and locks a multi-threaded parent leaves
behind (about half a millisecond of CPU per worker here).
"""

from __future__ import annotations

import _random
import contextlib
import ctypes
import dataclasses
import errno
import os
import random
import sys
from collections.abc import Callable
from typing import Any, Final

from ai_sandbox.exceptions import IsolationUnavailable
from ai_sandbox.isolation import hygiene, landlock, privileges, seccomp
from ai_sandbox.isolation._status import LANDLOCK_LAYERS
from ai_sandbox.isolation._syscalls import ARCH
from ai_sandbox.isolation.layers import ZygotePlan, apply_step
from ai_sandbox.isolation.rlimits import ResourceLimit, apply_limits

__all__ = [
    "WORKER_LIMITS",
    "fast_fork",
    "lock_zygote",
    "lockdown_locked_worker",
]

#: Limits each worker sets itself: the CPU budget (a session's differs from a run's), no
#: processes (counted per uid, which the zygote shares), open files (the zygote needs a few
#: more than a worker may have) and memory (a small ``memory_limit_mb`` is close to what the
#: zygote itself holds: it must not run out while serving). The others are the zygote's
#: (file size, core dumps, locked memory, message queues), inherited.
WORKER_LIMITS: Final = frozenset(
    {"RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_AS", "RLIMIT_DATA"}
)


def lock_zygote(
    plan: ZygotePlan,
    *,
    clean_environment: Callable[[], None],
    drop_privileges: Callable[[], None],
) -> ZygotePlan:
    """Lock the calling (single-threaded) zygote down; the plan its workers then follow.

    Returns ``plan`` unchanged (workers lock themselves down, as before) where locking does not
    apply: not Linux, no seccomp, or more than one thread. The zygote forks with
    :func:`fast_fork` only once its filter is in place (``"seccomp"`` in ``plan.locked``).
    A layer ``plan`` requires that cannot be applied raises ``IsolationUnavailable``: the
    zygote may be half locked and must not serve. ``clean_environment`` and
    ``drop_privileges`` are the worker's own steps (:mod:`.layers`), run here instead.
    """
    if sys.platform != "linux" or ARCH is None or "seccomp" not in plan.layers:
        return plan
    if hygiene.thread_count(plan.proc_fd) != 1:
        return plan
    scope = _scope_ruleset(plan)
    steps: dict[str, Callable[[], object]] = {
        "clean_env": clean_environment,
        "close_fds": _stdio_to_null,
        "rlimits": lambda: apply_limits(_limits(plan, zygote=True)),
        "no_privileges": drop_privileges,
        "no_new_privs": privileges.set_no_new_privs,
        "landlock_fs": lambda: _restrict(plan),
        "seccomp": lambda: seccomp.install_filter(seccomp.build_zygote_filter(ARCH)),
    }
    inherited: list[str] = []
    for name in plan.layers:
        if name not in steps:
            if name in ("network_namespace", "fs_view"):
                inherited.append(name)  # entered when the plan was made
            elif name in LANDLOCK_LAYERS[1:] and "landlock_fs" in inherited:
                inherited.append(name)  # one domain, applied with landlock_fs
            continue
        if apply_step(name, steps[name], plan.required, "locking the zygote failed"):
            inherited.append(name)
    if plan.proc_fd is not None:  # the host's /proc: no use once the threads are counted
        with contextlib.suppress(OSError):
            os.close(plan.proc_fd)
    return dataclasses.replace(
        plan,
        landlock=None,
        proc_fd=None,
        locked=tuple(inherited),
        scope=scope if "landlock_scope" in inherited else None,
        worker_stack=seccomp.PreparedFilter(seccomp.build_worker_stack(ARCH)),
    )


def _scope_ruleset(plan: ZygotePlan) -> landlock.LandlockRuleset | None:
    """The scope-only ruleset every worker enforces (made before the zygote's own domain)."""
    if plan.landlock is None or not plan.landlock.scoped:
        return None
    try:
        return landlock.create_scope_ruleset(plan.landlock.abi)
    except OSError:
        return None


def _restrict(plan: ZygotePlan) -> None:
    if plan.landlock is None:
        raise OSError(errno.EOPNOTSUPP, "no Landlock ruleset was prepared")
    landlock.restrict_self(plan.landlock)


def _stdio_to_null() -> None:
    """Point 0-2 at ``/dev/null`` (started that way; made sure of before the domain forbids
    opening it): workers inherit them and only close the rest."""
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    finally:
        os.close(null)


def _limits(plan: ZygotePlan, *, zygote: bool) -> tuple[ResourceLimit, ...]:
    return tuple(limit for limit in plan.limits if (limit.name in WORKER_LIMITS) != zygote)


def lockdown_locked_worker(plan: ZygotePlan, *, keep_fds: tuple[int, ...]) -> tuple[str, ...]:
    """A locked zygote's freshly forked worker: its own part of the lockdown (see the table).

    Returns the layers now active, in order: those the zygote holds (inherited) and those this
    worker applied. A required layer that fails raises ``IsolationUnavailable``.
    """
    scope = plan.scope
    kept = keep_fds + ((scope.fd,) if scope is not None else ())
    own: dict[str, Callable[[], object]] = {
        "close_fds": lambda: hygiene.close_fds_above_stdio(kept),
        "new_session": hygiene.start_new_session,
        "pdeathsig": hygiene.die_with_parent,
        "rlimits": lambda: apply_limits(_limits(plan, zygote=False)),
        "landlock_scope": lambda: _nested_scope(scope),
        "seccomp": lambda: _stack_filter(plan.worker_stack),
    }
    active: list[str] = []
    try:
        for name in plan.layers:
            step = own.get(name)
            if step is None:
                took = True  # the zygote's own, inherited (if it took there)
            else:
                took = apply_step(name, step, plan.required, "applying it failed")
            # The worker's part and, for a layer both share, the zygote's part too.
            if took and (name in plan.locked or name in ("new_session", "pdeathsig")):
                active.append(name)
    finally:
        if scope is not None:
            with contextlib.suppress(OSError):
                os.close(scope.fd)
    missing = [name for name in plan.required if name not in active]
    if missing:
        raise IsolationUnavailable(missing[0], "the locked zygote does not hold it")
    return tuple(active)


def _stack_filter(prepared: seccomp.PreparedFilter | None) -> None:
    if prepared is None:
        raise OSError(errno.EOPNOTSUPP, "no worker filter was prepared")
    prepared.install(os.getpid())


def _nested_scope(scope: landlock.LandlockRuleset | None) -> None:
    if scope is None:
        raise OSError(errno.EOPNOTSUPP, "no scope ruleset was prepared")
    landlock.restrict_self_keep(scope)


# -- forking without CPython's after-fork work -----------------------------------------------
#: libc's ``fork`` through ``PyDLL``: called with the GIL held, as ``os.fork`` calls it.
_LIBC: Final = ctypes.PyDLL(None, use_errno=True)
#: The generator behind the ``random`` module's functions, and its C-level ``seed``.
_SHARED_RANDOM: Final[Any] = random._inst
_C_SEED: Final = _random.Random.seed


def fast_fork() -> int:
    """``fork()`` without CPython's before/after-fork hooks; for a locked zygote only.

    Those hooks reset what other threads leave behind in a forked child (locks they held,
    their thread states) and run ``os.register_at_fork`` callbacks. A locked zygote has no
    other thread and can never start one (its seccomp filter refuses every ``clone`` but a
    fork's), so the one callback that matters here is done by hand: the ``random`` module's
    shared generator is reseeded from the OS, so no two workers share its sequence.
    """
    pid: int = _LIBC.fork()
    if pid < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    if pid == 0:
        # What random.seed() does, at C level: the Python-level wrapper's pages would be
        # copied for nothing (each page a fresh worker touches costs it a fault).
        _C_SEED(_SHARED_RANDOM, int.from_bytes(os.urandom(16), "little"))
        _SHARED_RANDOM.gauss_next = None
    return pid
