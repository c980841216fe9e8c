"""``openat2(2)`` through ctypes: open a path that the kernel keeps beneath a directory fd.

With ``RESOLVE_BENEATH`` the kernel refuses (``EXDEV``) any resolution that would leave the
directory: ``..`` above it, absolute paths, and absolute symlinks; ``RESOLVE_NO_MAGICLINKS``
refuses ``/proc/<pid>/fd``-style links; ``RESOLVE_NO_XDEV`` refuses crossing into another
mount. The check and the open are one system call, so a symlink swapped in afterwards cannot
lead out. Python 3.11 has no binding, hence the ctypes below.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Final

__all__ = [
    "RESOLVE_BENEATH",
    "RESOLVE_NO_MAGICLINKS",
    "RESOLVE_NO_XDEV",
    "open_beneath",
    "openat2",
    "openat2_supported",
    "proc_names",
    "usable_here",
]

RESOLVE_NO_XDEV: Final = 0x01
RESOLVE_NO_MAGICLINKS: Final = 0x02
RESOLVE_BENEATH: Final = 0x08

#: openat2 is syscall 437 on the architectures we support (new syscalls share one number).
_SYSCALL_NUMBERS: Final = {"x86_64": 437, "aarch64": 437}


class _OpenHow(ctypes.Structure):
    """``struct open_how`` from <linux/openat2.h>: three u64 fields, 24 bytes."""

    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


@functools.cache
def _syscall() -> tuple[Callable[..., int], int] | None:
    """libc's ``syscall`` and openat2's number, or None where we cannot call it."""
    number = _SYSCALL_NUMBERS.get(platform.machine())
    if number is None or not hasattr(os, "O_PATH"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    func = libc.syscall
    func.restype = ctypes.c_long
    return func, number


def openat2_supported() -> bool:
    """Whether this interpreter can issue openat2 at all (the kernel may still say ENOSYS)."""
    return _syscall() is not None


def openat2(dir_fd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """Open ``path`` relative to ``dir_fd`` with ``resolve`` flags; raise ``OSError`` on failure.

    ``flags`` should include ``O_CLOEXEC``; ``mode`` must be 0 unless ``O_CREAT`` is set.
    """
    found = _syscall()
    if found is None:
        raise OSError(38, "openat2 is not available on this platform")  # ENOSYS
    func, number = found
    how = _OpenHow(flags, mode, resolve)
    # The GIL is released for the call (CDLL, not PyDLL); errno is captured by use_errno.
    fd = func(
        ctypes.c_long(number),
        ctypes.c_int(dir_fd),
        ctypes.c_char_p(os.fsencode(path)),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)
    return int(fd)


def proc_names(fd: int, root: Path) -> list[str] | None:
    """What ``fd`` resolved to, as components below ``root``; None if that cannot be told.

    The kernel's own record of an open fd (``/proc/self/fd``) is how we learn where openat2
    led, so the deny patterns can be checked on the resolved path.
    """
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    if real.endswith(" (deleted)"):  # unlinked meanwhile: let the walk decide
        return None
    top = str(root)
    if real == top:
        return []
    prefix = top if top.endswith("/") else top + "/"
    return real[len(prefix) :].split("/") if real.startswith(prefix) else None


def open_beneath(
    root_fd: int, root: Path, parts: list[str], flags: int, *, same_mount: bool = False
) -> tuple[int, list[str]] | None:
    """openat2 ``parts`` beneath ``root_fd``: ``(fd, resolved names)``, or None on any failure
    (the caller then asks the component walk, which also explains refusals).

    ``same_mount`` adds ``RESOLVE_NO_XDEV``: resolution may not cross into another mount."""
    resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (RESOLVE_NO_XDEV if same_mount else 0)
    try:
        fd = openat2(root_fd, "/".join(parts) or ".", flags | os.O_CLOEXEC, resolve)
    except OSError:
        return None
    names = proc_names(fd, root)
    if names is None:
        os.close(fd)
        return None
    return fd, names


def usable_here(root_fd: int, root: Path) -> bool:
    """Whether openat2 works here and /proc/self/fd shows ``root`` under its resolved name."""
    found = open_beneath(root_fd, root, [], os.O_PATH)
    if found is None:
        return False
    os.close(found[0])
    return found[1] == []
