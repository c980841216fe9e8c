"""The OS layers of a worker: what this machine offers, what a policy requires, and applying them.

The life cycle, for the worker machinery (zygote and pool)::

    probe = probe_layers()                          # once per Sandbox; side-effect free
    required = required_layers(policy.isolation, probe)   # raises IsolationUnavailable
    plan = prepare_zygote(policy, required=required)       # once, inside the zygote
    ...fork...
    active = lockdown_worker(plan, keep_fds=(channel,))    # in every fresh worker

Layers, in the order a worker applies them (:data:`LAYER_NAMES`):

``clean_env``          empty environment; the original environment block is wiped from memory
``close_fds``          every inherited descriptor closed except the channel; stdio is /dev/null
``new_session``        own session and process group (the host kills the whole group)
``pdeathsig``          SIGKILL when the zygote dies
``rlimits``            CPU, address space, data, file size, open files, no core, no processes
``network_namespace``  an empty network namespace, entered once by the zygote and inherited
``fs_view``            a mount namespace holding only the interpreter's files (and, for
                       ``language="python"``, the root with deny-pattern entries covered and a
                       private ``/tmp``): see :mod:`~ai_sandbox.isolation.fsview`
``no_privileges``      no capabilities and an unprivileged uid (``nobody`` when root)
``no_new_privs``       ``PR_SET_NO_NEW_PRIVS``
``landlock_fs``        read-only access to the interpreter's files, nothing else
``landlock_net``       no TCP bind/connect (Landlock ABI >= 4)
``landlock_scope``     no signals or abstract unix sockets outside the worker (ABI >= 6)
``seccomp``            no process creation, sockets, ptrace, namespaces, mounts, bpf, io_uring...

Strict mode and the network: ``"network_namespace"`` is required unless the kernel refuses it
*and* both ``landlock_net`` and ``seccomp`` are available. Then it is left out of the required
set and the network stays closed by the fallback: seccomp refuses ``socket``/``socketpair``
outright and Landlock refuses TCP bind/connect (the result's active layers say so).

Strict mode and the filesystem view: ``"fs_view"`` is required where the kernel offers a mount
namespace (root, or a user namespace). Where it does not (a container without ``CAP_SYS_ADMIN``,
a distribution that confines unprivileged user namespaces), restricted mode goes on without it
when ``landlock_fs`` is there: Landlock still refuses every read and write outside the
interpreter's files and the worker opens nothing of the root itself, so what is lost is only
hiding that host paths *exist* (``stat``), which the result's active layers then show.
``language="python"`` always requires the view: there the worker opens the root's files itself,
and only the view hides what the deny patterns name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ai_sandbox.exceptions import ConfigurationError, IsolationUnavailable
from ai_sandbox.isolation import fsview, fsview_writes, hygiene, landlock, privileges, seccomp
from ai_sandbox.isolation._probe import POSIX_LAYERS, probe_layers
from ai_sandbox.isolation._status import LANDLOCK_LAYERS, LAYER_NAMES, LayerStatus
from ai_sandbox.isolation._syscalls import ARCH, capget, clearenv, prctl
from ai_sandbox.isolation.landlock import LandlockRuleset
from ai_sandbox.isolation.namespaces import enter_network_namespace
from ai_sandbox.isolation.rlimits import ResourceLimit, apply_limits, worker_limits
from ai_sandbox.isolation.seccomp import PreparedFilter

if TYPE_CHECKING:
    from ai_sandbox.isolation.worker_policy import PolicyView

__all__ = [
    "LAYER_NAMES",
    "LayerStatus",
    "ZygotePlan",
    "lock_zygote",
    "lockdown_worker",
    "prepare_zygote",
    "probe_layers",
    "required_layers",
]

#: Layers the ``"process"`` level requires (every POSIX system has them).
PROCESS_REQUIRED: Final = frozenset({"clean_env", "close_fds", "new_session", "rlimits"})
_PR_GET_SECCOMP: Final = 21
_CAP_SETGID: Final = 6
_CAP_SETUID: Final = 7
_CAP_SETPCAP: Final = 8


@dataclass(frozen=True, slots=True)
class ZygotePlan:
    """What ``prepare_zygote`` set up once, for every worker the zygote forks.

    ``layers`` are the names the workers will apply, in order; ``missing`` says why the others
    are not there. ``landlock`` holds a ruleset descriptor every worker inherits.
    """

    layers: tuple[str, ...]
    required: frozenset[str]
    missing: tuple[LayerStatus, ...]
    limits: tuple[ResourceLimit, ...]
    privilege_drop: privileges.PrivilegeDrop | None
    uid: int
    gid: int
    last_capability: int
    environment_block: tuple[int, int] | None
    landlock: landlock.LandlockRuleset | None
    seccomp_program: bytes | None
    #: The zygote emptied the capability bounding and ambient sets; workers inherit that.
    bounding_set_empty: bool = False
    #: The filesystem view the zygote entered (``None`` without one).
    view: fsview.ViewPlan | None = None
    #: The host's ``/proc`` (absent from the view), for the worker's single-thread check;
    #: every worker closes it during lockdown.
    proc_fd: int | None = None
    #: Python mode with ``allow_writes``: the read and library paths of the ruleset, which
    #: each worker builds again with its own overlay root in it (see :func:`_writes_ruleset`).
    landlock_paths: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    #: The layers a locked zygote applied to itself, which its workers inherit (empty: each
    #: worker applies every layer itself); see :mod:`.zygote_lock`.
    locked: tuple[str, ...] = ()
    #: A locked zygote's scope-only Landlock ruleset, which each worker enforces (nested).
    scope: LandlockRuleset | None = None
    #: A locked zygote's worker filter, stacked by each worker with its pid put in.
    worker_stack: PreparedFilter | None = None


def required_layers(isolation: str, probe: dict[str, LayerStatus]) -> frozenset[str]:
    """The layers ``isolation`` requires here; ``IsolationUnavailable`` if one is missing.

    ``"strict"``: every layer (see the module docstring for the network fallback);
    ``"process"``: clean_env, close_fds, new_session and rlimits; ``"none"``: nothing.
    """
    if isolation == "none":
        return frozenset()
    if isolation == "process":
        for name in LAYER_NAMES:
            if name in PROCESS_REQUIRED and not _available(probe, name):
                raise IsolationUnavailable(name, _detail(probe, name))
        return PROCESS_REQUIRED
    if isolation != "strict":
        raise ConfigurationError(f"unknown isolation level {isolation!r}")
    required: list[str] = []
    for name in LAYER_NAMES:
        if _available(probe, name):
            required.append(name)
        elif name == "network_namespace" and _network_fallback(probe):
            continue
        elif name == "fs_view" and _available(probe, "landlock_fs"):
            continue  # restricted mode only: prepare_zygote requires it for python mode
        else:
            raise IsolationUnavailable(name, _detail(probe, name))
    return frozenset(required)


def _available(probe: dict[str, LayerStatus], name: str) -> bool:
    status = probe.get(name)
    return status is not None and status.available


def _detail(probe: dict[str, LayerStatus], name: str) -> str:
    status = probe.get(name)
    return status.detail if status is not None else "the layer was not probed"


def _network_fallback(probe: dict[str, LayerStatus]) -> bool:
    return _available(probe, "landlock_net") and _available(probe, "seccomp")


class _Planner:
    """Collects the layers ``prepare_zygote`` could set up, failing closed on required ones."""

    def __init__(self, required: frozenset[str]) -> None:
        self.required = required
        self.layers: list[str] = []
        self.missing: list[LayerStatus] = []

    def add(self, name: str) -> None:
        self.layers.append(name)

    def lack(self, name: str, detail: str) -> None:
        if name in self.required:
            raise IsolationUnavailable(name, detail)
        self.missing.append(LayerStatus(name, False, detail))


def prepare_zygote(policy: PolicyView, *, required: frozenset[str]) -> ZygotePlan:
    """Do the per-Sandbox work once, inside the single-threaded zygote, before any fork.

    Enters an empty network namespace, builds the Landlock ruleset, assembles the seccomp
    program and resolves the unprivileged ids. Layers that cannot be set up are left out of
    the plan, unless they are in ``required``: then ``IsolationUnavailable`` names the first.
    """
    planner = _Planner(required)
    for name in POSIX_LAYERS:
        planner.add(name)
    if sys.platform != "linux":
        for name in LAYER_NAMES:
            if name not in POSIX_LAYERS:
                planner.lack(name, "a Linux-only layer")
        return _plan(planner, policy, None, None, None)
    planner.add("pdeathsig")
    user_namespace = _plan_network(planner)
    drop = _plan_privileges(planner, user_namespace=user_namespace)
    planner.add("no_new_privs")
    # Everything read from /etc and /proc is read now: the view has neither.
    ids = _Ids.resolve(drop)
    view, handles = _plan_view(planner, policy, ids)
    try:
        ruleset = _plan_landlock(planner, view, handles)
    finally:
        if handles is not None:
            fsview.close_handles((handles.tmp_fd,))
    # Python mode always runs inside the view, where only its private overlay and /tmp are
    # writable: changing a file's mode or times there touches nothing of the host's, and
    # ordinary code (shutil.copy copies the mode) needs it.
    program = _plan_seccomp(planner, file_modes=view is not None and view.mode == "python")
    plan = _plan(planner, policy, drop, ruleset, program, ids=ids)
    if handles is None:
        return plan
    paths = None
    if view is not None and view.writes:
        reads = (*landlock.interpreter_read_paths(), *fsview.python_read_paths())
        paths = (reads, landlock.system_library_paths())
    return dataclasses.replace(plan, view=view, proc_fd=handles.proc_fd, landlock_paths=paths)


@dataclass(frozen=True, slots=True)
class _Ids:
    """What the plan reads from ``/etc`` and ``/proc``, before the view hides both."""

    uid: int
    gid: int
    last_cap: int
    bounding_set_empty: bool
    environment_block: tuple[int, int] | None

    @classmethod
    def resolve(cls, drop: privileges.PrivilegeDrop | None) -> _Ids:
        uid, gid = (
            privileges.unprivileged_ids() if drop == "setuid" else (os.geteuid(), os.getegid())
        )
        last_cap = privileges.last_capability() if drop is not None else -1
        bounding_set_empty = drop is not None and privileges.empty_bounding_set(last_cap=last_cap)
        return cls(uid, gid, last_cap, bounding_set_empty, hygiene.environment_block())


def _plan(
    planner: _Planner,
    policy: PolicyView,
    drop: privileges.PrivilegeDrop | None,
    ruleset: landlock.LandlockRuleset | None,
    program: bytes | None,
    *,
    ids: _Ids | None = None,
) -> ZygotePlan:
    ids = _Ids.resolve(drop) if ids is None else ids
    order = {name: index for index, name in enumerate(LAYER_NAMES)}
    return ZygotePlan(
        layers=tuple(sorted(planner.layers, key=order.__getitem__)),
        required=planner.required,
        missing=tuple(planner.missing),
        limits=worker_limits(policy),
        privilege_drop=drop,
        uid=ids.uid,
        gid=ids.gid,
        last_capability=ids.last_cap,
        environment_block=ids.environment_block,
        landlock=ruleset,
        seccomp_program=program,
        bounding_set_empty=ids.bounding_set_empty,
    )


def _plan_view(
    planner: _Planner, policy: PolicyView, ids: _Ids
) -> tuple[fsview.ViewPlan | None, fsview.ViewHandles | None]:
    """Enter the filesystem view (once, here in the zygote; workers inherit it).

    ``language="python"`` cannot go without it (fail closed whatever the level says); a view
    half built (a refusal after the pivot) is never survivable.
    """
    view = fsview.plan_view(policy, os.getcwd())
    python = view.mode == "python"
    threads = hygiene.thread_count()
    detail = f"the zygote must be single-threaded, it has {threads}" if threads != 1 else ""
    handles = None
    if not detail:
        try:
            handles = fsview.enter_view(view)
        except fsview.ViewBroken as exc:
            raise IsolationUnavailable("fs_view", str(exc)) from None
        except OSError as exc:
            detail = f"the kernel refused a mount namespace: {exc.strerror or exc}"
    if handles is None:
        if python:
            raise IsolationUnavailable("fs_view", f"{detail} (language='python' needs the view)")
        planner.lack("fs_view", detail)
        return None, None
    try:
        view = fsview.index_root(view)
    except OSError as exc:
        fsview.close_handles((handles.proc_fd, handles.tmp_fd))
        raise IsolationUnavailable("fs_view", str(exc)) from None
    planner.add("fs_view")
    return view, handles


def _plan_network(planner: _Planner) -> bool:
    """Enter the empty network namespace; whether it took a user namespace to do so.

    Namespaces belong to threads: in a multi-threaded zygote only the calling thread would
    move, and a fork from another thread would escape it, so the zygote must be alone.
    """
    threads = hygiene.thread_count()
    if threads != 1:
        planner.lack("network_namespace", f"the zygote must be single-threaded, it has {threads}")
        return False
    try:
        mode = enter_network_namespace()
    except OSError as exc:
        planner.lack("network_namespace", f"the kernel refused a network namespace: {exc}")
        return False
    planner.add("network_namespace")
    return mode == "user_namespace"


def _plan_privileges(planner: _Planner, *, user_namespace: bool) -> privileges.PrivilegeDrop | None:
    if user_namespace or os.geteuid() != 0:
        planner.add("no_privileges")
        return "capabilities"
    needed = (1 << _CAP_SETUID) | (1 << _CAP_SETGID) | (1 << _CAP_SETPCAP)
    if capget().effective & needed != needed:
        planner.lack("no_privileges", "root without CAP_SETUID/CAP_SETGID/CAP_SETPCAP")
        return None
    planner.add("no_privileges")
    return "setuid"


def _plan_landlock(
    planner: _Planner,
    view: fsview.ViewPlan | None = None,
    handles: fsview.ViewHandles | None = None,
) -> landlock.LandlockRuleset | None:
    try:
        ruleset = landlock.create_ruleset(
            landlock.interpreter_read_paths(), library_paths=landlock.system_library_paths()
        )
        if view is not None and handles is not None and view.mode == "python":
            _python_rules(ruleset, view, handles)
    except OSError as exc:
        for name in LANDLOCK_LAYERS:
            planner.lack(name, f"Landlock is unavailable: {exc.strerror or exc}")
        return None
    for name, since in zip(LANDLOCK_LAYERS, (1, 4, 6), strict=True):
        if name in ruleset.layers:
            planner.add(name)
        else:
            planner.lack(name, f"needs Landlock ABI >= {since}, the kernel has {ruleset.abi}")
    return ruleset


def _python_rules(
    ruleset: landlock.LandlockRuleset, view: fsview.ViewPlan, handles: fsview.ViewHandles
) -> None:
    """Python mode reads the root and its data files, and writes only its private ``/tmp``.

    The ``/tmp`` rule names the directory of the view that holds each worker's own tmpfs (a
    rule on a mount point would be skipped). The root is mounted read-only: writes to it are
    refused by the mount, and by Landlock, which grants none there.
    """
    landlock.add_read_paths(ruleset, (view.root,))
    if handles.tmp_fd is not None:
        landlock.add_fd_rule(ruleset, handles.tmp_fd, landlock.FS_READ | landlock.FS_WRITE)
    landlock.add_read_paths(ruleset, fsview.python_read_paths())


def _plan_seccomp(planner: _Planner, *, file_modes: bool = False) -> bytes | None:
    if ARCH is None:
        planner.lack("seccomp", "no syscall table for this CPU architecture")
        return None
    try:
        prctl(_PR_GET_SECCOMP)
    except OSError as exc:
        planner.lack("seccomp", f"the kernel lacks seccomp: {exc.strerror}")
        return None
    planner.add("seccomp")
    return seccomp.build_filter(ARCH, pid=seccomp.PID_PLACEHOLDER, file_modes=file_modes)


def lockdown_worker(plan: ZygotePlan, *, keep_fds: tuple[int, ...]) -> tuple[str, ...]:
    """Apply every layer of ``plan`` to this freshly forked worker; return those now active.

    Call it before any AI code runs, single-threaded. A layer that fails is left out of the
    result, unless it is in ``plan.required``: then ``IsolationUnavailable`` is raised (the
    worker is half locked down and must exit). ``keep_fds`` (the channel) must be above 2.
    """
    if any(fd <= 2 for fd in keep_fds):
        raise ConfigurationError(f"keep_fds must be above stdio, got {sorted(keep_fds)}")
    if plan.locked:
        from ai_sandbox.isolation.zygote_lock import lockdown_locked_worker

        return lockdown_locked_worker(plan, keep_fds=keep_fds)
    kept = keep_fds + ((plan.landlock.fd,) if plan.landlock is not None else ())
    kept += (plan.proc_fd,) if plan.proc_fd is not None else ()
    try:
        return _lockdown(plan, kept)
    finally:
        if plan.proc_fd is not None:  # the host's /proc: never into the AI's code
            with contextlib.suppress(OSError):
                os.close(plan.proc_fd)


def _install_seccomp(plan: ZygotePlan) -> None:
    """The zygote's filter, with this worker's pid put in (signals only to itself)."""
    seccomp.install_filter(seccomp.with_pid(plan.seccomp_program or b"", os.getpid()))


def _lockdown(plan: ZygotePlan, kept: tuple[int, ...]) -> tuple[str, ...]:
    steps: dict[str, Callable[[], object]] = {
        "clean_env": lambda: _clean_environment(plan),
        "close_fds": lambda: hygiene.close_inherited_fds(kept),
        "new_session": hygiene.start_new_session,
        "pdeathsig": hygiene.die_with_parent,
        "rlimits": lambda: apply_limits(plan.limits),
        "network_namespace": lambda: None,  # entered by the zygote, inherited
        "fs_view": lambda: _enter_worker_view(plan),
        "no_privileges": lambda: _drop_privileges(plan),
        "no_new_privs": lambda: privileges.set_no_new_privs(),
        "landlock_fs": lambda: _restrict_landlock(plan),
        "seccomp": lambda: _install_seccomp(plan),
    }
    active: list[str] = []
    for name in plan.layers:
        if name in LANDLOCK_LAYERS[1:]:
            if "landlock_fs" in active:  # one ruleset, applied with landlock_fs
                active.append(name)
            continue
        if apply_step(name, steps[name], plan.required, "applying it failed"):
            active.append(name)
    return tuple(active)


def apply_step(
    name: str, step: Callable[[], object], required: frozenset[str], failure: str
) -> bool:
    """Run layer ``name``'s ``step``: whether it took. A failure is ``IsolationUnavailable``
    (naming the layer, or for Landlock the first required one of its ruleset) when the layer
    is required, else the layer is left out. setrlimit reports refusals as ``ValueError``."""
    try:
        step()
    except (OSError, ValueError) as exc:
        group = LANDLOCK_LAYERS if name == "landlock_fs" else (name,)
        failed = next((n for n in group if n in required), None)
        if failed is not None:
            raise IsolationUnavailable(failed, f"{failure}: {exc}") from None
        return False
    return True


def lock_zygote(plan: ZygotePlan) -> ZygotePlan:
    """Lock a restricted-mode zygote down once (see :mod:`.zygote_lock`); the plan its
    workers then follow. Call it last, after the zygote's warm-up, single-threaded."""
    from ai_sandbox.isolation.zygote_lock import lock_zygote as lock

    return lock(
        plan,
        clean_environment=lambda: _clean_environment(plan),
        drop_privileges=lambda: _drop_privileges(plan, pdeathsig=False),
    )


def _drop_privileges(plan: ZygotePlan, *, pdeathsig: bool = True) -> None:
    if plan.privilege_drop == "setuid":
        privileges.drop_to_user(
            plan.uid,
            plan.gid,
            last_cap=plan.last_capability,
            bounding_set_empty=plan.bounding_set_empty,
        )
    else:
        privileges.drop_capabilities(
            last_cap=plan.last_capability, bounding_set_empty=plan.bounding_set_empty
        )
    if pdeathsig and "pdeathsig" in plan.layers:
        # The kernel clears the parent-death signal whenever the euid/egid change.
        hygiene.die_with_parent()


def _clean_environment(plan: ZygotePlan) -> None:
    if plan.environment_block is None and plan.view is not None:
        # Read by the zygote before its view hid /proc: it started with no environment
        # strings, so there is no block to wipe (and no /proc to look for one in).
        os.environ.clear()
        clearenv()
        return
    hygiene.clean_environment(plan.environment_block)


def _enter_worker_view(plan: ZygotePlan) -> None:
    """The worker's own part of the view (python mode); a failure there is never survivable."""
    if plan.view is None:
        raise OSError(errno.EOPNOTSUPP, "no filesystem view was prepared")
    try:
        fsview.enter_worker_view(plan.view, uid=plan.uid, gid=plan.gid, proc_fd=plan.proc_fd)
    except OSError as exc:
        if plan.view.mode == "python":
            raise IsolationUnavailable("fs_view", f"applying it failed: {exc}") from None
        raise


def _restrict_landlock(plan: ZygotePlan) -> None:
    if plan.landlock is None:
        raise OSError(errno.EOPNOTSUPP, "no Landlock ruleset was prepared")
    threads = hygiene.thread_count(plan.proc_fd)
    if threads != 1:
        os.close(plan.landlock.fd)
        raise OSError(errno.EBUSY, f"Landlock needs a single-threaded worker, found {threads}")
    if plan.view is not None and plan.view.writes:
        landlock.restrict_self(_writes_ruleset(plan, plan.view))
        return
    landlock.restrict_self(plan.landlock)


def _writes_ruleset(plan: ZygotePlan, view: fsview.ViewPlan) -> landlock.LandlockRuleset:
    """The ruleset of a python-mode worker with ``allow_writes``, built in the worker.

    Landlock keys its rules on inodes, and each worker's overlay root is a new one (a rule on
    the read-only root beneath it would be skipped: it is a mount point now), so the zygote's
    ruleset cannot name it. The worker builds the same rules (the zygote's lists), plus: read
    and write beneath its overlay root and its private ``/tmp`` holder, and read beneath the
    overlay's holder (the harvest reads ``upper``). Symbolic links and cross-directory renames
    or links stay refused (``MAKE_SYM`` and ``REFER`` are granted nowhere).
    """
    if plan.landlock is None or plan.landlock_paths is None:
        raise OSError(errno.EOPNOTSUPP, "no Landlock rules were prepared for the overlay")
    os.close(plan.landlock.fd)  # the shared ruleset, unused here
    reads, libraries = plan.landlock_paths
    ruleset = landlock.create_ruleset(reads, library_paths=libraries, abi=plan.landlock.abi)
    try:
        for path, access in (
            (view.root, landlock.FS_READ | landlock.FS_WRITE),
            (fsview.TMP_HOLDER, landlock.FS_READ | landlock.FS_WRITE),
            (fsview_writes.OVERLAY_HOLDER, landlock.FS_READ),
        ):
            if path == fsview.TMP_HOLDER and view.tmp_dir is None:
                continue
            fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                landlock.add_fd_rule(ruleset, fd, access)
            finally:
                os.close(fd)
    except BaseException:
        os.close(ruleset.fd)
        raise
    return ruleset
