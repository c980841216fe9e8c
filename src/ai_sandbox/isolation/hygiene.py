"""A clean start for a worker: no environment, no inherited files, its own session.

These are the layers every POSIX system offers (``pdeathsig`` is Linux-only).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from typing import Final

from ai_sandbox.isolation._syscalls import clearenv, prctl

__all__ = [
    "clean_environment",
    "close_fds_above_stdio",
    "close_inherited_fds",
    "die_with_parent",
    "environment_block",
    "start_new_session",
    "thread_count",
]

_PR_SET_PDEATHSIG: Final = 1
_STAT_ENV_START: Final = 47  # /proc/self/stat fields 50 and 51, counted after the comm ")"
_STAT_ENV_END: Final = 48


def clean_environment(block: tuple[int, int] | None = None) -> None:
    """Empty ``os.environ`` and the C ``environ``, and wipe the original environment block.

    A process forked from one that was started with secrets in its environment still holds
    those strings in memory (``/proc/self/environ`` shows them); they are overwritten too.
    ``block`` is :func:`environment_block`, read once by the zygote (same in every fork);
    by default it is read now.
    """
    os.environ.clear()
    clearenv()
    if block is None:
        block = environment_block()
    if block is not None:
        start, end = block
        ctypes.memset(start, 0, end - start)


def environment_block() -> tuple[int, int] | None:
    """Start and end address of the environment strings the process was started with."""
    if sys.platform != "linux":
        return None
    with open("/proc/self/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[_STAT_ENV_START]), int(fields[_STAT_ENV_END])
    return (start, end) if 0 < start < end else None


def close_inherited_fds(keep: tuple[int, ...]) -> None:
    """Close every descriptor above stdio except ``keep``; point stdio at ``/dev/null``.

    ``keep`` must not contain 0, 1 or 2 (``ValueError`` otherwise).
    """
    close_fds_above_stdio(keep)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if null != fd:
            os.dup2(null, fd)
    if null > 2:
        os.close(null)


def close_fds_above_stdio(keep: tuple[int, ...]) -> None:
    """Close every descriptor above stdio except ``keep`` (``ValueError`` if one is <= 2)."""
    if any(fd <= 2 for fd in keep):
        raise ValueError(f"descriptors to keep must be above stdio, got {sorted(keep)}")
    low = 3
    for fd in sorted(set(keep)):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    high = hard if hard != resource.RLIM_INFINITY else os.sysconf("SC_OPEN_MAX")
    os.closerange(low, max(high, low))


def thread_count(proc_fd: int | None = None) -> int:
    """Threads of this process; through ``proc_fd``, the host's ``/proc`` kept open, where a
    filesystem view hides ``/proc``."""
    if proc_fd is None:
        return len(os.listdir("/proc/self/task"))
    fd = os.open("self/task", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=proc_fd)
    try:
        return len(os.listdir(fd))
    finally:
        os.close(fd)


def start_new_session() -> None:
    """Own session and process group, so the host can kill the whole group at once."""
    os.setsid()


def die_with_parent() -> None:
    """``PR_SET_PDEATHSIG(SIGKILL)``: the kernel kills us when the parent (zygote) dies.

    The kernel clears this setting when the process changes its euid or egid: call it again
    after a uid drop.

    If the parent already died before the call, we were re-parented: exit-worthy, so this
    raises ``OSError`` in that case (the caller cannot know its parent's pid otherwise).
    """
    parent = os.getppid()
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent or parent == 1:
        raise OSError(3, "the parent process has already exited")  # ESRCH
