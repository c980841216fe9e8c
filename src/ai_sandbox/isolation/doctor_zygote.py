"""``doctor``'s proof for a locked zygote (see :mod:`.zygote_lock`): its own state, read from
the host, and what a worker forked from it still cannot do.

A locked zygote runs as the workers' uid, so the checks aim at what that could open up: a
worker signalling the zygote or a sibling, or making what only the zygote may make (a socket
pair, a pidfd, a process, a thread). Every attack runs in a real worker with RestrictedPython
off, one class per check; the zygote and the sibling must be alive afterwards.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ai_sandbox.isolation._syscalls import ARCH
from ai_sandbox.isolation.protocol import wait_readable

if TYPE_CHECKING:
    from ai_sandbox.isolation.worker_backend import WorkerBackend
    from ai_sandbox.results import ExecutionResult

__all__ = ["ProcessState", "process_state", "worker_attacks", "zygote_state_checks"]


@dataclass(frozen=True, slots=True)
class ProcessState:
    """What ``/proc/<pid>/status`` says of a process's privileges and confinement."""

    uid: int
    capabilities: dict[str, int]
    no_new_privs: bool
    seccomp_mode: int
    seccomp_filters: int
    threads: int


def process_state(pid: int) -> ProcessState | None:
    """``pid``'s state from the host's ``/proc`` (``None`` once it has gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return ProcessState(
        uid=int(fields["Uid"].split()[1]),  # the effective uid
        capabilities={
            name: int(fields[name], 16)
            for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
            if name in fields
        },
        no_new_privs=fields.get("NoNewPrivs", "0").strip() == "1",
        seccomp_mode=int(fields.get("Seccomp", "0")),
        seccomp_filters=int(fields.get("Seccomp_filters", "0")),
        threads=int(fields["Threads"]),
    )


def zygote_state_checks(backend: WorkerBackend) -> list[tuple[bool, str, str]]:
    """``(held, name, summary)`` for the zygote's own state and a waiting worker's."""
    zygote = process_state(backend._zygote.pid)
    worker = backend._pool.take()
    try:
        state = process_state(worker.pid)
    finally:
        worker.close()
    checks: list[tuple[bool, str, str]] = []
    for who, found, filters in (("zygote", zygote, 1), ("worker", state, 2)):
        if found is None:
            checks.append((False, f"{who}: locked down", "(it was gone)"))
            continue
        unprivileged = found.uid != 0 and not any(found.capabilities.values())
        checks.append(
            (
                unprivileged,
                f"{who}: no root, no capabilities",
                f"(uid {found.uid}, capabilities {_caps(found)})",
            )
        )
        checks.append((found.no_new_privs, f"{who}: no_new_privs", ""))
        stacked = found.seccomp_mode == 2 and found.seccomp_filters == filters
        checks.append(
            (stacked, f"{who}: {filters} seccomp filter(s)", f"({found.seccomp_filters} found)")
        )
        checks.append((found.threads == 1, f"{who}: one thread", f"({found.threads} found)"))
    return checks


def _caps(state: ProcessState) -> str:
    held = [name for name, value in state.capabilities.items() if value]
    return ", ".join(held) if held else "none"


def worker_attacks(backend: WorkerBackend) -> list[tuple[bool, str, str]]:
    """``(held, name, summary)`` for each attack on the zygote and a sibling from a worker."""
    sibling = backend._pool.take()
    zygote = backend._zygote.pid
    try:
        results = []
        for name, code in _attacks(zygote, sibling.pid):
            result = backend.execute(code)
            alive = _alive(zygote) and not wait_readable(sibling.pidfd, 0)
            held = result.status != "ok" and alive
            results.append((held, name, _summary(result)))
        return results
    finally:
        sibling.close()


def _attacks(zygote: int, sibling: int) -> list[tuple[str, str]]:
    nr: Callable[[str], int] = lambda name: (  # noqa: E731 - -1 where unknown: ENOSYS
        ARCH.numbers.get(name, -1) if ARCH is not None else -1
    )
    raw = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"

    def syscall(name: str, args: str) -> str:
        return (
            f"{raw}if libc.syscall({nr(name)}, {args}) < 0:\n"
            f"    raise OSError(ctypes.get_errno(), {name!r})"
        )

    attacks = []
    for who, pid in (("the zygote", zygote), ("a sibling worker", sibling)):
        attacks += [
            (f"signal {who} (kill)", f"import os\nos.kill({pid}, {int(signal.SIGKILL)})"),
            (f"probe {who} (kill 0)", f"import os\nos.kill({pid}, 0)"),
            (f"signal {who} (tgkill)", syscall("tgkill", f"{pid}, {pid}, 9")),
            (f"open a pidfd on {who}", syscall("pidfd_open", f"{pid}, 0")),
        ]
    return [
        *attacks,
        ("make a socket pair", "import socket\nresult = str(socket.socketpair())"),
        (
            "start a thread",
            "import threading\nt = threading.Thread(target=print)\nt.start()\nt.join()",
        ),
        ("fork through clone", syscall("clone", "17, 0, 0, 0, 0")),
    ]


def _alive(pid: int) -> bool:
    return process_state(pid) is not None


def _summary(result: ExecutionResult) -> str:
    if result.error is not None:
        return f"({result.status}: {result.error.type}: {result.error.message})"[:100]
    return f"({result.status}: {str(result.result)[:60]!r})"
