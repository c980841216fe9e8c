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
host runs as root, workers run as ``nobody``: the merged root and every directory the zygote's
index knows are made in ``upper`` owned by the worker's uid, so it may create files there.
Overwriting a file another uid owns in place stays refused (``EACCES``); writing a new name and
``os.replace`` onto it works.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Final

from ai_sandbox.isolation._mounts import MS_NODEV, MS_NOEXEC, MS_NOSUID, mount

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


def mount_overlay(
    root: str, *, quota_bytes: int, uid: int, gid: int, dirs: tuple[str, ...]
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
    options = f"lowerdir={root},upperdir={upper},workdir={OVERLAY_MOUNT}/{_WORK}"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        mount("overlay", root, "overlay", flags, options)
    except PermissionError:
        # In a user namespace overlayfs keeps its metadata in user.* xattrs.
        mount("overlay", root, "overlay", flags, options + ",userxattr")
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
