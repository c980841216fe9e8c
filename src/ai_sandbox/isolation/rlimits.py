"""Resource limits (``setrlimit``) of a worker (the ``rlimits`` layer), derived from the policy.

Soft and hard limits are equal (except CPU), so the worker cannot raise them again. Facts that
shape the values:

- ``RLIMIT_CPU``: the soft limit sends a catchable ``SIGXCPU``, only the hard limit kills; the
  wall-clock timeout enforced from outside stays the primary stop.
- ``RLIMIT_AS`` counts the whole address space, the interpreter included (~30 MiB), and every
  thread stack.
- ``RLIMIT_FSIZE``: CPython ignores ``SIGXFSZ``, so a write past it fails with ``EFBIG``.
- ``RLIMIT_NPROC`` is 0. The kernel counts it per *real uid* and ignores it for root and for
  holders of ``CAP_SYS_ADMIN``/``CAP_SYS_RESOURCE``, so it only bites once privileges are dropped
  (see :mod:`~ai_sandbox.isolation.privileges`); from then on the worker can start neither
  processes nor threads. Setting it before the drop is harmless (``setuid`` does not check it).
  seccomp forbids process creation independently.
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ai_sandbox.isolation.worker_policy import PolicyView

__all__ = ["ResourceLimit", "apply_limits", "worker_limits"]

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ResourceLimit:
    """One ``setrlimit`` call: ``name`` is the ``RLIMIT_*`` constant's name."""

    name: str
    soft: int
    hard: int

    @property
    def resource(self) -> int:
        """The ``resource.RLIMIT_*`` number."""
        value: int = getattr(resource, self.name)
        return value


def worker_limits(policy: PolicyView) -> tuple[ResourceLimit, ...]:
    """The limits a worker runs under for ``policy``."""
    cpu = math.ceil(policy.timeout_s) + 1
    memory = policy.memory_limit_mb * _MIB
    limits = [
        ResourceLimit("RLIMIT_CPU", cpu, cpu + 1),
        ResourceLimit("RLIMIT_AS", memory, memory),
        ResourceLimit("RLIMIT_DATA", memory, memory),
        ResourceLimit("RLIMIT_FSIZE", policy.max_file_bytes, policy.max_file_bytes),
        ResourceLimit("RLIMIT_NOFILE", policy.max_open_files, policy.max_open_files),
        ResourceLimit("RLIMIT_CORE", 0, 0),
        ResourceLimit("RLIMIT_NPROC", 0, 0),
        ResourceLimit("RLIMIT_MEMLOCK", 0, 0),
    ]
    if hasattr(resource, "RLIMIT_MSGQUEUE"):
        limits.append(ResourceLimit("RLIMIT_MSGQUEUE", 0, 0))
    return tuple(limits)


def apply_limits(limits: tuple[ResourceLimit, ...]) -> None:
    """Set every limit; never above the current hard limit (lowering needs no privilege).

    Raises ``OSError``/``ValueError`` from ``setrlimit`` if the kernel refuses one.
    """
    for limit in limits:
        number = limit.resource
        _, current_hard = resource.getrlimit(number)
        hard = limit.hard
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
        resource.setrlimit(number, (min(limit.soft, hard), hard))
