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
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ai_sandbox.exceptions import ConfigurationError, IsolationUnavailable
from ai_sandbox.isolation import hygiene, landlock, privileges, seccomp
from ai_sandbox.isolation._probe import POSIX_LAYERS, probe_layers
from ai_sandbox.isolation._status import LAYER_NAMES, LayerStatus
from ai_sandbox.isolation._syscalls import ARCH, capget, prctl
from ai_sandbox.isolation.namespaces import enter_network_namespace
from ai_sandbox.isolation.rlimits import ResourceLimit, apply_limits, worker_limits

if TYPE_CHECKING:
    from ai_sandbox.isolation.worker_policy import PolicyView

__all__ = [
    "LAYER_NAMES",
    "LayerStatus",
    "ZygotePlan",
    "lockdown_worker",
    "prepare_zygote",
    "probe_layers",
    "required_layers",
]

#: Layers the ``"process"`` level requires (every POSIX system has them).
PROCESS_REQUIRED: Final = frozenset({"clean_env", "close_fds", "new_session", "rlimits"})
_LANDLOCK_LAYERS: Final = ("landlock_fs", "landlock_net", "landlock_scope")
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
    ruleset = _plan_landlock(planner)
    program = _plan_seccomp(planner)
    return _plan(planner, policy, drop, ruleset, program)


def _plan(
    planner: _Planner,
    policy: PolicyView,
    drop: privileges.PrivilegeDrop | None,
    ruleset: landlock.LandlockRuleset | None,
    program: bytes | None,
) -> ZygotePlan:
    uid, gid = privileges.unprivileged_ids() if drop == "setuid" else (os.geteuid(), os.getegid())
    last_cap = privileges.last_capability() if drop is not None else -1
    bounding_set_empty = drop is not None and privileges.empty_bounding_set(last_cap=last_cap)
    order = {name: index for index, name in enumerate(LAYER_NAMES)}
    return ZygotePlan(
        layers=tuple(sorted(planner.layers, key=order.__getitem__)),
        required=planner.required,
        missing=tuple(planner.missing),
        limits=worker_limits(policy),
        privilege_drop=drop,
        uid=uid,
        gid=gid,
        last_capability=last_cap,
        environment_block=hygiene.environment_block(),
        landlock=ruleset,
        seccomp_program=program,
        bounding_set_empty=bounding_set_empty,
    )


def _plan_network(planner: _Planner) -> bool:
    """Enter the empty network namespace; whether it took a user namespace to do so.

    Namespaces belong to threads: in a multi-threaded zygote only the calling thread would
    move, and a fork from another thread would escape it, so the zygote must be alone.
    """
    threads = len(os.listdir("/proc/self/task"))
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


def _plan_landlock(planner: _Planner) -> landlock.LandlockRuleset | None:
    try:
        ruleset = landlock.create_ruleset(
            landlock.interpreter_read_paths(), library_paths=landlock.system_library_paths()
        )
    except OSError as exc:
        for name in _LANDLOCK_LAYERS:
            planner.lack(name, f"Landlock is unavailable: {exc.strerror or exc}")
        return None
    for name, since in zip(_LANDLOCK_LAYERS, (1, 4, 6), strict=True):
        if name in ruleset.layers:
            planner.add(name)
        else:
            planner.lack(name, f"needs Landlock ABI >= {since}, the kernel has {ruleset.abi}")
    return ruleset


def _plan_seccomp(planner: _Planner) -> bytes | None:
    if ARCH is None:
        planner.lack("seccomp", "no syscall table for this CPU architecture")
        return None
    try:
        prctl(_PR_GET_SECCOMP)
    except OSError as exc:
        planner.lack("seccomp", f"the kernel lacks seccomp: {exc.strerror}")
        return None
    planner.add("seccomp")
    return seccomp.build_filter(ARCH)


def lockdown_worker(plan: ZygotePlan, *, keep_fds: tuple[int, ...]) -> tuple[str, ...]:
    """Apply every layer of ``plan`` to this freshly forked worker; return those now active.

    Call it before any AI code runs, single-threaded. A layer that fails is left out of the
    result, unless it is in ``plan.required``: then ``IsolationUnavailable`` is raised (the
    worker is half locked down and must exit). ``keep_fds`` (the channel) must be above 2.
    """
    if any(fd <= 2 for fd in keep_fds):
        raise ConfigurationError(f"keep_fds must be above stdio, got {sorted(keep_fds)}")
    kept = keep_fds + ((plan.landlock.fd,) if plan.landlock is not None else ())
    steps: dict[str, Callable[[], object]] = {
        "clean_env": lambda: hygiene.clean_environment(plan.environment_block),
        "close_fds": lambda: hygiene.close_inherited_fds(kept),
        "new_session": hygiene.start_new_session,
        "pdeathsig": hygiene.die_with_parent,
        "rlimits": lambda: apply_limits(plan.limits),
        "network_namespace": lambda: None,  # entered by the zygote, inherited
        "no_privileges": lambda: _drop_privileges(plan),
        "no_new_privs": lambda: privileges.set_no_new_privs(),
        "landlock_fs": lambda: _restrict_landlock(plan),
        "seccomp": lambda: seccomp.install_filter(plan.seccomp_program or b""),
    }
    active: list[str] = []
    for name in plan.layers:
        if name in _LANDLOCK_LAYERS[1:]:
            if "landlock_fs" in active:  # one ruleset, applied with landlock_fs
                active.append(name)
            continue
        try:
            steps[name]()
        except (OSError, ValueError) as exc:  # setrlimit reports refusals as ValueError
            group = _LANDLOCK_LAYERS if name == "landlock_fs" else (name,)
            failed = next((n for n in group if n in plan.required), None)
            if failed is not None:
                raise IsolationUnavailable(failed, f"applying it failed: {exc}") from None
            continue
        active.append(name)
    return tuple(active)


def _drop_privileges(plan: ZygotePlan) -> None:
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
    if "pdeathsig" in plan.layers:
        # The kernel clears the parent-death signal whenever the euid/egid change.
        hygiene.die_with_parent()


def _restrict_landlock(plan: ZygotePlan) -> None:
    if plan.landlock is None:
        raise OSError(errno.EOPNOTSUPP, "no Landlock ruleset was prepared")
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        os.close(plan.landlock.fd)
        raise OSError(errno.EBUSY, f"Landlock needs a single-threaded worker, found {threads}")
    landlock.restrict_self(plan.landlock)
