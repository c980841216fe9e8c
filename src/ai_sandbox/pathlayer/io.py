"""I/O on an entry already located beneath the root: type checks, capped read, atomic write.

Everything here works on a directory fd plus a single name (or on an open fd), so no path is
resolved again and nothing can be redirected between the checks and the I/O.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from typing import Final

from ai_sandbox.exceptions import ResourceLimitExceeded
from ai_sandbox.pathlayer.errors import refuse, shorten

__all__ = [
    "TEMP_PREFIX",
    "check_regular",
    "check_write_size",
    "read_capped",
    "same_file",
    "write_atomic",
]

#: Temporary files of an atomic write are named ``TEMP_PREFIX + <random hex> + ".tmp"``.
TEMP_PREFIX: Final = ".ai-sandbox-"

_CHUNK: Final = 1 << 20


def check_regular(st: os.stat_result, raw: str, *, allow_hardlinks: bool) -> None:
    """Refuse anything but a regular file, and (by policy) a file with several hard links."""
    if stat.S_ISDIR(st.st_mode):
        raise refuse("is_directory", raw)
    if stat.S_ISLNK(st.st_mode):
        raise refuse("symlink_write", raw)
    if not stat.S_ISREG(st.st_mode):
        raise refuse("special_file", raw)
    if st.st_nlink > 1 and not allow_hardlinks:
        raise refuse("hardlink", raw)


def same_file(fd: int, expected: os.stat_result, raw: str, *, allow_hardlinks: bool) -> None:
    """Check that the opened ``fd`` is the file that was checked (closing it if not)."""
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (expected.st_dev, expected.st_ino):
            raise refuse("race", raw)
        check_regular(st, raw, allow_hardlinks=allow_hardlinks)
    except BaseException:
        os.close(fd)
        raise


def _too_big(raw: str, size: int | str, cap: int) -> ResourceLimitExceeded:
    return ResourceLimitExceeded(
        "file_size",
        f"{shorten(raw)!r} is {size} bytes; the limit is {cap} bytes (max_file_bytes)",
    )


def read_capped(fd: int, raw: str, cap: int) -> bytes:
    """Read all of ``fd``, refusing more than ``cap`` bytes (checked before and while reading)."""
    size = os.fstat(fd).st_size
    if size > cap:
        raise _too_big(raw, size, cap)
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, min(_CHUNK, cap + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:  # the file grew while we read it
            raise _too_big(raw, f"more than {cap}", cap)
    return b"".join(chunks)


def check_write_size(raw: str, size: int, cap: int) -> None:
    """Refuse writing more than ``cap`` bytes, before anything is touched."""
    if size > cap:
        raise _too_big(raw, size, cap)


def write_atomic(dir_fd: int, name: str, data: bytes, raw: str, *, allow_hardlinks: bool) -> None:
    """Replace ``name`` in ``dir_fd`` with ``data`` atomically.

    The data goes to a fresh temporary file in the same directory (``O_EXCL | O_NOFOLLOW``),
    is fsynced, and is renamed over ``name``; on any failure the temporary file is removed and
    the old content is untouched. ``rename`` replaces the directory entry itself, so even a
    symlink or hard link swapped in after the checks below cannot redirect the write.
    """
    try:
        old: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    if old is not None:
        check_regular(old, raw, allow_hardlinks=allow_hardlinks)
        _check_writable(dir_fd, name, raw)
    temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600 if old is not None else 0o666, dir_fd=dir_fd)
    try:
        try:
            if old is not None:  # keep the owner and permission bits, never set-id bits
                _keep_owner(fd, old)
                os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o777)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    _fsync_dir(dir_fd)


def _check_writable(dir_fd: int, name: str, raw: str) -> None:
    """Refuse to replace a file the host user could not open for writing.

    The rename that makes writes atomic needs only a writable directory, so without this a
    read-only file (or another user's) would be replaced where ``open(path, "w")`` fails.
    """
    if not os.access(name, os.W_OK, dir_fd=dir_fd, effective_ids=True, follow_symlinks=False):
        raise PermissionError(errno.EACCES, f"{shorten(raw)!r} is read-only")


def _keep_owner(fd: int, old: os.stat_result) -> None:
    """Give the new file the replaced file's owner and group where the OS lets us (as root):
    otherwise a write would silently hand another user's file to the host user. Best effort:
    without the right, the new file stays ours, as the rename made it."""
    if (old.st_uid, old.st_gid) == (os.geteuid(), os.getegid()):
        return
    with contextlib.suppress(PermissionError):
        os.fchown(fd, old.st_uid, old.st_gid)


def _fsync_dir(dir_fd: int) -> None:
    """Make the rename durable; best effort (some file systems refuse fsync on a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
