"""An empty network namespace: the process (and every child forked later) has no network.

A new network namespace holds a single loopback interface that is down, so nothing can be
reached, not even ``127.0.0.1`` of the host. Root enters one directly; any other user first
enters a new user namespace that maps only its own uid and gid (``setgroups`` denied), which
unprivileged users may do where the kernel allows it.
"""

from __future__ import annotations

import os
from typing import Literal

from ai_sandbox.isolation._syscalls import CLONE_NEWNET, CLONE_NEWUSER, unshare

__all__ = ["NetworkNamespaceMode", "enter_network_namespace"]

#: How the namespace was entered: ``"root"`` (unshare as root) or ``"user_namespace"``.
NetworkNamespaceMode = Literal["root", "user_namespace"]


def enter_network_namespace() -> NetworkNamespaceMode:
    """Move the calling process into a new, empty network namespace.

    The process must be single-threaded (the kernel refuses a new user namespace otherwise).
    Raises ``OSError`` when the kernel or the caller's privileges do not allow it.
    """
    if os.geteuid() == 0:
        unshare(CLONE_NEWNET)
        return "root"
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | CLONE_NEWNET)
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    return "user_namespace"


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode("ascii"))
    finally:
        os.close(fd)
