"""Writes of a python-mode worker with ``allow_writes``: a private overlay, applied by the host.

The worker's code writes with any file API it likes (``open``, ``os.open``, ``ctypes``,
``to_csv``), but never onto the host's disk. Its view of the root is an overlay::

    tmpfs at /.ai-sandbox-view/overlay/w   size = max_write_bytes_total: the kernel's quota
    overlay at <root>: lowerdir=<root> (the read-only view), upperdir=w/upper, workdir=w/work
    the covers (deny-pattern entries, hard-linked files) mounted again on top of the overlay

so every change lands in the worker's own ``upper`` directory, gone with the worker: two runs
never see each other's unapplied writes. After the code has run (and before its result is
sent), :func:`harvest` walks ``upper`` (bounded) and the worker sends each regular file found
there to the host as an ordinary write request on the channel, so the host's path layer
decides every one (``allow_writes``, deny patterns, ``write_deny_patterns``, hard links,
``max_file_bytes``, atomic replace) and counts the run's total against
``max_write_bytes_total``. A run that filled its quota (the tmpfs is full: some write got
``ENOSPC``) applies nothing, so no partial file reaches the disk. A run that timed out or was
killed applies nothing: the worker dies with its overlay.

Not applied (said in the run's output): a file that reached ``max_file_bytes`` (the kernel's
``RLIMIT_FSIZE`` stopped a write there, ``EFBIG``: it may be cut short), deletions and renames
away (overlay whiteouts), directories that replaced a directory (opaque: the old entries
stay), empty new directories (silently),
symbolic links (Landlock refuses creating them anyway), and other special files.

The worker process is the only one that writes the overlay, as the uid it runs as. When the
host runs as root, workers run as ``nobody``, and overlayfs checks the caller's permission on
the lower files' owner and mode: so the lower layer is an idmapped mount
(``mount_setattr(MOUNT_ATTR_IDMAP)``) showing the root owner's files as the worker's, and the
merged root and every directory the zygote's index knows are made in ``upper`` owned by the
worker's uid. Files of other owners stay theirs (unwritable, as on the host). The mapped lower
mount is detached once the overlay holds it, so no uncovered copy of the root is reachable.
Where the kernel refuses an idmapped mount, the plain root is the lower layer: new files work,
rewriting another uid's file in place is refused (``EACCES``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from dataclasses import dataclass, field
from typing import Final

from ai_sandbox.isolation._mounts import MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, mount, umount
from ai_sandbox.isolation._syscalls import syscall, unshare

__all__ = [
    "MAX_HARVEST_ENTRIES",
    "OVERLAY_HOLDER",
    "OVERLAY_MOUNT",
    "Harvest",
    "harvest",
    "mount_overlay",
    "upper_dir",
]

#: The directory of the view holding each worker's overlay tmpfs (Landlock: read only).
OVERLAY_HOLDER: Final = "/.ai-sandbox-view/overlay"
OVERLAY_MOUNT: Final = OVERLAY_HOLDER + "/w"
_UPPER: Final = "upper"
_WORK: Final = "work"
#: Entries of ``upper`` a harvest looks at; past it the run applies nothing.
MAX_HARVEST_ENTRIES: Final = 10_000
_PAGE: Final = 4096
#: Characters overlayfs's option parser gives a meaning (a root holding one is refused).
_OPTION_CHARACTERS: Final = (",", ":", "\\", "\n")


def upper_dir() -> str:
    """Where a worker's overlay keeps what its code wrote."""
    return f"{OVERLAY_MOUNT}/{_UPPER}"


_CLONE_NEWUSER: Final = 0x10000000
_AT_FDCWD: Final = -100
_AT_EMPTY_PATH: Final = 0x1000
_OPEN_TREE_CLONE: Final = 1
_MOVE_MOUNT_F_EMPTY_PATH: Final = 4
_MOUNT_ATTR_RDONLY: Final = 0x1
_MOUNT_ATTR_IDMAP: Final = 0x100000


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _userns_fd(proc_fd: int, owner: tuple[int, int], ids: tuple[int, int]) -> int:
    """A user namespace mapping the root's owner (uid, gid) to the worker's ids, for an
    idmapped mount. A short-lived child enters it; we map it through the host's /proc."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(ready_r)
            os.close(done_w)
            unshare(_CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise OSError(1, "the user namespace helper failed")
        for name, pair in (("uid_map", (owner[0], ids[0])), ("gid_map", (owner[1], ids[1]))):
            fd = os.open(f"{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC, dir_fd=proc_fd)
            try:
                os.write(fd, f"{pair[0]} {pair[1]} 1\n".encode())
            finally:
                os.close(fd)
        return os.open(f"{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)


def _idmapped_lower(root: str, proc_fd: int, uid: int, gid: int) -> str | None:
    """``root`` mounted again, read-only, with its owner's files shown as owned by the
    worker's ``uid``/``gid`` (so a worker running as ``nobody`` may change the root's files in
    its overlay); where it lies, or ``None`` when the kernel refuses (then the plain root)."""
    info = os.stat(root)
    if (info.st_uid, info.st_gid) == (uid, gid):
        return None
    target = f"{OVERLAY_MOUNT}/lower"
    try:
        ns = _userns_fd(proc_fd, (info.st_uid, info.st_gid), (uid, gid))
        try:
            tree = syscall(
                "open_tree",
                _AT_FDCWD,
                ctypes.c_char_p(os.fsencode(root)),
                _OPEN_TREE_CLONE | os.O_CLOEXEC,
            )
            try:
                attr = _MountAttr(_MOUNT_ATTR_IDMAP | _MOUNT_ATTR_RDONLY, 0, 0, ns)
                syscall(
                    "mount_setattr",
                    tree,
                    ctypes.c_char_p(b""),
                    _AT_EMPTY_PATH,
                    ctypes.byref(attr),
                    ctypes.sizeof(attr),
                )
                os.mkdir(target, 0o700)
                syscall(
                    "move_mount",
                    tree,
                    ctypes.c_char_p(b""),
                    _AT_FDCWD,
                    ctypes.c_char_p(os.fsencode(target)),
                    _MOVE_MOUNT_F_EMPTY_PATH,
                )
            finally:
                os.close(tree)
        finally:
            os.close(ns)
    except OSError:
        return None
    return target


def mount_overlay(
    root: str,
    *,
    quota_bytes: int,
    uid: int,
    gid: int,
    dirs: tuple[str, ...],
    proc_fd: int | None = None,
) -> None:
    """Make ``root`` (the read-only view) a private overlay whose changes cost at most
    ``quota_bytes``; ``dirs`` (relative to the root) are made in ``upper`` owned by
    ``uid``/``gid``, so a worker that runs as another uid than the files' owner may create
    files in them. Needs ``CAP_SYS_ADMIN`` in the worker's own mount namespace. ``OSError``
    when a step fails (fail closed)."""
    if any(char in root for char in _OPTION_CHARACTERS):
        raise OSError(22, f"the root's path holds a character overlayfs cannot take: {root!r}")
    size = (quota_bytes + _PAGE - 1) // _PAGE * _PAGE + _PAGE  # a full tmpfs means: over
    inodes = 4 * len(dirs) + 16_384
    mount(
        "tmpfs",
        OVERLAY_MOUNT,
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"mode=0755,size={size},nr_inodes={inodes}",
    )
    upper = upper_dir()
    os.mkdir(upper, stat.S_IMODE(os.stat(root).st_mode) | 0o700)
    os.mkdir(f"{OVERLAY_MOUNT}/{_WORK}", 0o700)
    os.chown(upper, uid, gid)
    for relative in sorted(dirs, key=lambda item: item.count("/")):
        if not relative or relative.startswith(("/", "..")) or "/../" in relative:
            continue
        target = os.path.join(upper, relative)
        try:
            mode = stat.S_IMODE(os.lstat(os.path.join(root, relative)).st_mode)
            os.mkdir(target, mode | 0o700)
        except (FileNotFoundError, FileExistsError, NotADirectoryError):
            continue  # gone since the index, or under a directory gone since
        os.chown(target, uid, gid)
    lower = _idmapped_lower(root, proc_fd, uid, gid) if proc_fd is not None else None
    options = f"lowerdir={lower or root},upperdir={upper},workdir={OVERLAY_MOUNT}/{_WORK}"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        mount("overlay", root, "overlay", flags, options)
    except PermissionError:
        # In a user namespace overlayfs keeps its metadata in user.* xattrs.
        mount("overlay", root, "overlay", flags, options + ",userxattr")
    if lower is not None:  # the overlay holds its own clone: the code must not reach it
        with contextlib.suppress(OSError):
            umount(lower, MNT_DETACH)
        if os.path.ismount(lower):
            raise OSError(16, "the idmapped lower layer could not be hidden")
    os.chdir(root)  # the old cwd is the read-only root beneath the overlay


@dataclass(slots=True)
class Harvest:
    """What a worker's code left in ``upper``."""

    #: ``(path relative to the root, content)`` of each regular file to send.
    files: list[tuple[str, bytes]] = field(default_factory=list)
    #: What is not applied, in words (deletions, links, empty directories...).
    skipped: list[str] = field(default_factory=list)
    #: The quota's tmpfs is full (a write got ENOSPC): nothing may be applied.
    full: bool = False
    #: More entries than :data:`MAX_HARVEST_ENTRIES`: nothing may be applied.
    too_many: bool = False


def harvest(
    upper: str, *, max_file_bytes: int, sent: dict[str, tuple[int, int, int]] | None = None
) -> Harvest:
    """Walk ``upper`` (not following links) for what the code changed.

    ``sent`` maps a path already sent (in an earlier run of a session) to its
    ``(inode, size, mtime_ns)`` then; an unchanged file is not sent again, and the map is
    updated with what this harvest returns.
    """
    found = Harvest()
    info = os.statvfs(upper)
    if info.f_bavail == 0:
        found.full = True
        return found
    budget = MAX_HARVEST_ENTRIES
    pending: list[str] = [""]
    while pending:
        relative_dir = pending.pop()
        directory = os.path.join(upper, relative_dir) if relative_dir else upper
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            found.skipped.append(f"{relative_dir or '.'}/ (unreadable: {exc.strerror})")
            continue
        if relative_dir and _opaque(directory):
            found.skipped.append(f"{relative_dir}/ (replaced: its old entries are kept)")
        for entry in entries:
            budget -= 1
            if budget < 0:
                found.too_many = True
                return found
            relative = f"{relative_dir}/{entry.name}" if relative_dir else entry.name
            _take(found, entry, relative, pending, max_file_bytes, sent)
    return found


def _take(
    found: Harvest,
    entry: os.DirEntry[str],
    relative: str,
    pending: list[str],
    max_file_bytes: int,
    sent: dict[str, tuple[int, int, int]] | None,
) -> None:
    st = entry.stat(follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        pending.append(relative)
    elif stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        found.skipped.append(f"{relative} (deleted or renamed away: not applied)")
    elif stat.S_ISLNK(st.st_mode):
        found.skipped.append(f"{relative} (a symbolic link: not applied)")
    elif not stat.S_ISREG(st.st_mode):
        found.skipped.append(f"{relative} (not a regular file: not applied)")
    else:
        if st.st_size >= max_file_bytes:  # RLIMIT_FSIZE stopped it here: maybe cut short
            found.skipped.append(f"{relative} (reached max_file_bytes: not applied)")
            return
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if sent is not None and sent.get(relative) == stamp:
            return
        try:
            with open(entry.path, "rb") as handle:
                data = handle.read(max_file_bytes + 1)
        except OSError as exc:
            found.skipped.append(f"{relative} (unreadable: {exc.strerror})")
            return
        found.files.append((relative, data))
        if sent is not None:
            sent[relative] = stamp


def _opaque(directory: str) -> bool:
    for name in ("trusted.overlay.opaque", "user.overlay.opaque"):
        try:
            if os.getxattr(directory, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False
