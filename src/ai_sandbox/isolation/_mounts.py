"""``mount``, ``umount2`` and ``pivot_root`` for the filesystem view, through ctypes.

Every wrapper raises :class:`OSError` with the kernel's errno, like :mod:`os` does; off Linux
(no such libc function) with ``ENOSYS``.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any, Final

from ai_sandbox.isolation._syscalls import syscall

__all__ = [
    "MNT_DETACH",
    "MS_BIND",
    "MS_NODEV",
    "MS_NOEXEC",
    "MS_NOSUID",
    "MS_PRIVATE",
    "MS_RDONLY",
    "MS_REC",
    "mount",
    "pivot_root",
    "remount",
    "umount",
]

MS_RDONLY: Final = 0x1
MS_NOSUID: Final = 0x2
MS_NODEV: Final = 0x4
MS_NOEXEC: Final = 0x8
MS_REMOUNT: Final = 0x20
MS_NOATIME: Final = 0x400
MS_NODIRATIME: Final = 0x800
MS_BIND: Final = 0x1000
MS_REC: Final = 0x4000
MS_SILENT: Final = 0x8000
MS_PRIVATE: Final = 1 << 18
MS_RELATIME: Final = 1 << 21
MNT_DETACH: Final = 2
#: statvfs flags -> the mount flags a remount must keep (the kernel locks them in a user
#: namespace: dropping one is EPERM).
_KEPT_FLAGS: Final = (
    (os.ST_RDONLY, MS_RDONLY),
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)


def _c_function(name: str, argtypes: list[Any]) -> Any:
    """A libc function with its C signature (``None`` where libc lacks it: not Linux)."""
    func = getattr(ctypes.CDLL(None, use_errno=True), name, None)
    if func is not None:
        func.restype = ctypes.c_int
        func.argtypes = argtypes
    return func


_MOUNT: Final = _c_function(
    "mount", [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
)
_UMOUNT2: Final = _c_function("umount2", [ctypes.c_char_p, ctypes.c_int])


def _encode(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    if _MOUNT is None:
        raise OSError(38, "mount is not available on this platform")  # ENOSYS
    result = _MOUNT(
        _encode(source), _encode(target), _encode(fstype), flags | MS_SILENT, _encode(data)
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def umount(target: str, flags: int) -> None:
    if _UMOUNT2 is None:
        raise OSError(38, "umount2 is not available on this platform")  # ENOSYS
    if _UMOUNT2(_encode(target), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount {target}: {os.strerror(err)}")


def pivot_root(new_root: str, put_old: str) -> None:
    syscall(
        "pivot_root", ctypes.c_char_p(os.fsencode(new_root)), ctypes.c_char_p(os.fsencode(put_old))
    )


def remount(target: str, flags: int) -> None:
    """Make the bind mount at ``target`` read-only etc., keeping the flags the kernel locks."""
    kept = os.statvfs(target).f_flag
    for st_flag, ms_flag in _KEPT_FLAGS:
        if kept & st_flag:
            flags |= ms_flag
    mount(None, target, None, MS_REMOUNT | MS_BIND | flags)
