"""The worker's filesystem view: a mount namespace in which only what it may read exists.

Landlock governs reading and writing, not looking: without a view, code past the language
guard can ``stat`` any host path. The view removes the host's tree instead. It is built the
way bubblewrap builds one (``bubblewrap.c``: the pivot in ``main`` and ``setup_newroot``)::

    unshare(CLONE_NEWNS); every mount private        # nothing propagates back to the host
    mount a tmpfs on /tmp; chdir /tmp; mkdir newroot (bound onto itself) and oldroot
    pivot_root(/tmp, oldroot)                       # the tmpfs is /, the host's tree /oldroot
    bind /oldroot/P onto /newroot/P, read-only      # for every path P the worker may read
    umount2(/oldroot, MNT_DETACH)                   # the host's tree is gone
    chdir /newroot; pivot_root(".", "."); umount2(".", MNT_DETACH)   # newroot becomes /

What the view holds (:func:`plan_view`):

- every mode: the interpreter's files (the paths Landlock grants, :mod:`landlock`), read-only
  and non-recursive (a mount beneath one of them is not carried along), ``/dev/null``,
  ``/dev/zero``, ``/dev/random``, ``/dev/urandom``, and the root directory made read-only;
- ``language="python"``: also the sandbox root at its own path (read-only, ``noexec``, not
  recursive: mounts beneath the root stay out), the editable installs' source directories and
  the data files the data stack reads (fonts, time zones), and a ``/tmp`` mount point.

Who builds what (issue 13 moves lockdown into the zygote; the split already follows it):

- :func:`enter_view`, once, in the single-threaded zygote, after it imported what workers need
  and before any fork: the new mount namespace and the pivot. Every worker inherits it, so a
  restricted-mode worker pays nothing for its view.
- :func:`enter_worker_view`, in each python-mode worker before Landlock: its own copy of the
  namespace, a private size-capped tmpfs (``/tmp`` links to it, or ``/var/tmp`` when the root
  lies beneath ``/tmp``; gone with the worker, so nothing written there reaches the next one),
  and a bounded walk of the root that covers every entry the policy's deny patterns name, and
  every regular file with more than one hard link (unless ``allow_hardlinks``), with an empty,
  unreadable (mode 000), read-only file or directory. The zygote walks the whole root once
  (:func:`index_root`); a worker re-reads only the directories changed since, so it sees the
  root as it is when the worker is prepared. Past the walk's bounds (entries walked, seconds;
  :mod:`.fsview_walk`) it fails closed.

Symbolic links are not covered (a mount cannot sit on a link): inside the view a link leads
only to what the view holds, so one pointing outside the root finds nothing (``ENOENT``) or
an interpreter file (readable anyway), and one pointing at a covered entry finds the cover.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from ai_sandbox.isolation import fsview_walk, landlock
from ai_sandbox.isolation._mounts import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    mount,
    pivot_root,
    remount,
    umount,
)
from ai_sandbox.isolation._syscalls import CLONE_NEWNS, unshare
from ai_sandbox.isolation.fsview_walk import DirScan

__all__ = [
    "ViewBroken",
    "ViewHandles",
    "ViewMode",
    "ViewPlan",
    "close_handles",
    "covered_entries",
    "enter_view",
    "enter_worker_view",
    "index_root",
    "plan_view",
    "probe_view",
    "python_read_paths",
    "view_mode",
]

#: ``"restricted"``: nothing of the root (file access is brokered); ``"python"``: the root too.
ViewMode = Literal["restricted", "python"]

#: Size cap of a python-mode worker's private ``/tmp``.
TMP_BYTES: Final = 32 * 1024 * 1024
_TMP_INODES: Final = 4096

_DEVICES: Final = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
#: Top-level links of merged-/usr systems: ld.so.cache names libraries as /lib/... .
_ALIASES: Final = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: What numpy, pandas and matplotlib read beyond their packages (python mode only).
_PYTHON_DATA_PATHS: Final = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "/etc/fonts",
    "/usr/share/zoneinfo",
    "/etc/localtime",
    "/etc/mime.types",
)
_TMP_DIRS: Final = ("/tmp", "/var/tmp")  # noqa: S108  # nosec B108 - links to a private tmpfs
#: Links the data stack follows (the target is bound through _PYTHON_DATA_PATHS).
_PYTHON_LINKS: Final = ("/etc/localtime",)
_BASE: Final = "/tmp"  # noqa: S108  # nosec B108 - a tmpfs in our own new mount namespace
#: Where the covers live in the view (an empty mode-000 directory and file).
_COVERS: Final = "/.ai-sandbox-view"
_EMPTY_DIR: Final = _COVERS + "/dir"
_EMPTY_FILE: Final = _COVERS + "/file"
#: A python-mode worker mounts its private tmpfs here; ``/tmp`` (or ``/var/tmp``) is a link to
#: it. Landlock skips mount points when it walks a path up ("hidden mount points"), so the
#: write rule sits on the holder above, a plain directory of the view shared by every worker.
_TMP_HOLDER: Final = _COVERS + "/scratch"
_TMP_MOUNT: Final = _TMP_HOLDER + "/w"


class ViewBroken(OSError):
    """A step failed after the pivot: the process's filesystem is half built; it must exit."""


@dataclass(frozen=True, slots=True)
class ViewPlan:
    """What a view holds; built from the policy, the same in the zygote and every worker."""

    mode: ViewMode
    #: The sandbox root (resolved); mounted at this path in python mode.
    root: str
    #: Host paths bound read-only at their own path (resolved).
    read_paths: tuple[str, ...]
    deny_patterns: tuple[str, ...]
    allow_hardlinks: bool
    tmp_bytes: int = TMP_BYTES
    #: Python mode: the root's directories as the zygote found them (:func:`index_root`).
    index: tuple[tuple[str, DirScan], ...] = ()

    @property
    def tmp_dir(self) -> str | None:
        """Where a python-mode worker's private tmpfs goes: ``/tmp``, or ``/var/tmp`` when the
        root lies beneath ``/tmp`` (``tempfile`` tries both), or nowhere."""
        root = Path(self.root)
        for candidate in _TMP_DIRS:
            if not root.is_relative_to(candidate) and not Path(candidate).is_relative_to(root):
                return candidate
        return None


@dataclass(frozen=True, slots=True)
class ViewHandles:
    """Descriptors :func:`enter_view` leaves open for the rest of the lockdown.

    ``proc_fd`` is the host's ``/proc`` (a view has none) for the worker's single-thread check
    before Landlock; workers close it during lockdown. ``tmp_fd`` (python mode) is the
    directory holding every worker's private tmpfs mount point, for the Landlock rule that
    lets workers write there; the zygote closes it once the ruleset is built.
    """

    proc_fd: int
    tmp_fd: int | None = None


def view_mode(policy: object) -> ViewMode:
    """The view ``policy`` needs: ``"python"`` for ``language="python"``, else ``"restricted"``."""
    return "python" if getattr(policy, "language", "restricted") == "python" else "restricted"


def python_read_paths() -> tuple[str, ...]:
    """Paths python mode reads beyond the interpreter's: what editable installs import and the
    data files of the data stack (fonts, time zones). Paths that do not exist are left out.

    An editable install names a directory in a ``.pth`` file of site-packages; for a flat
    layout that directory is the project itself, ``.env`` included. So only its importable
    entries are granted (packages, modules and extension modules with identifier names),
    never the directory.
    """
    found: dict[str, None] = {}
    for base in landlock.interpreter_read_paths():
        if not base.endswith(("site-packages", "dist-packages")):
            continue
        with contextlib.suppress(OSError):
            for pth in sorted(Path(base).glob("*.pth")):
                for line in pth.read_text(encoding="utf-8", errors="replace").splitlines():
                    line = line.strip()
                    if line.startswith("/") and os.path.isdir(line):
                        found.update(dict.fromkeys(_importable_entries(line)))
    for candidate in _PYTHON_DATA_PATHS:
        if os.path.exists(candidate):
            found.setdefault(str(Path(candidate).resolve()), None)
    return tuple(found)


def _importable_entries(directory: str) -> list[str]:
    """Packages (``name/`` holding ``.py`` files) and modules (``name.py``, ``name.*.so``)."""
    entries: list[str] = []
    with contextlib.suppress(OSError), os.scandir(directory) as listing:
        for entry in listing:
            stem = entry.name.split(".", 1)[0]
            if not stem.isidentifier():
                continue
            if entry.is_dir(follow_symlinks=False) and "." not in entry.name:
                with contextlib.suppress(OSError), os.scandir(entry.path) as inner:
                    if any(item.name.endswith(".py") for item in inner):
                        entries.append(str(Path(entry.path).resolve()))
            elif entry.is_file(follow_symlinks=False) and entry.name.endswith((".py", ".so")):
                entries.append(str(Path(entry.path).resolve()))
    return sorted(entries)


def plan_view(
    policy: object, root: str | os.PathLike[str], *, mode: ViewMode | None = None
) -> ViewPlan:
    """The view for ``policy`` (any object with ``deny_patterns`` and ``allow_hardlinks``).

    ``mode`` overrides what :func:`view_mode` reads from the policy (tests).
    """
    mode = view_mode(policy) if mode is None else mode
    reads = [*landlock.interpreter_read_paths(), *landlock.system_library_paths()]
    if mode == "python":
        reads.extend(python_read_paths())
    deny = getattr(policy, "deny_patterns", ())
    return ViewPlan(
        mode=mode,
        root=str(Path(root).resolve()),
        read_paths=tuple(dict.fromkeys(reads)),
        deny_patterns=tuple(str(p) for p in deny),
        allow_hardlinks=bool(getattr(policy, "allow_hardlinks", False)),
    )


# -- the zygote's part ------------------------------------------------------------------------
def enter_view(plan: ViewPlan) -> ViewHandles:
    """Move the calling process into a new mount namespace holding only ``plan``'s view.

    Single-threaded, with ``CAP_SYS_ADMIN`` (root, or in the user namespace the network
    layer entered). The cwd becomes the root (python mode) or ``/``. ``OSError`` when the
    kernel refuses a step: the process is then in an unknown state and must not run code.
    """
    proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _enter_view(plan, proc_fd)
    except BaseException:
        os.close(proc_fd)
        raise


def _enter_view(plan: ViewPlan, proc_fd: int) -> ViewHandles:
    # Until the pivot, a refusal leaves the caller as it was (bar a private copy of its mount
    # namespace): plain OSError, so a caller may go on without a view. After it: ViewBroken.
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        mount("tmpfs", _BASE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m,nr_inodes=16384")
        try:
            os.chdir(_BASE)
            os.mkdir("newroot", 0o755)
            mount("newroot", "newroot", None, MS_BIND | MS_REC)
            os.mkdir("oldroot", 0o755)
            pivot_root(_BASE, "oldroot")
        except OSError:
            os.fchdir(cwd)
            with contextlib.suppress(OSError):
                umount(_BASE, MNT_DETACH)
            raise
    finally:
        os.close(cwd)
    try:
        return _build_new_root(plan, proc_fd)
    except OSError as exc:
        raise ViewBroken(exc.errno, f"building the view failed: {exc}") from None


def _build_new_root(plan: ViewPlan, proc_fd: int) -> ViewHandles:
    os.chdir("/")
    tmp_fd = None
    try:
        mounts = [(path, "read") for path in plan.read_paths]
        if plan.mode == "python":
            mounts.append((plan.root, "root"))
        for path, kind in sorted(mounts, key=lambda item: (item[0].count("/"), item[0])):
            _bind(path, readonly=True, noexec=kind == "root")
        for device in _DEVICES:
            if os.path.exists("/oldroot" + device):
                _bind(device, readonly=False, noexec=True)
        for alias in (*_ALIASES, *(_PYTHON_LINKS if plan.mode == "python" else ())):
            _mirror_link(alias)
        _make_covers()
        if plan.mode == "python" and plan.tmp_dir is not None:
            os.makedirs("/newroot" + _TMP_MOUNT, mode=0o755)
            os.makedirs(os.path.dirname("/newroot" + plan.tmp_dir), mode=0o755, exist_ok=True)
            os.symlink(_TMP_MOUNT, "/newroot" + plan.tmp_dir)
            tmp_fd = os.open("/newroot" + _TMP_HOLDER, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        mount(None, "oldroot", None, MS_REC | MS_PRIVATE)
        umount("oldroot", MNT_DETACH)
        old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.chdir("/newroot")
            pivot_root(".", ".")
            os.fchdir(old)
            umount(".", MNT_DETACH)
        finally:
            os.close(old)
        os.chdir("/")
        remount("/", MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.chdir(plan.root if plan.mode == "python" else "/")
    except BaseException:
        if tmp_fd is not None:
            os.close(tmp_fd)
        raise
    return ViewHandles(proc_fd=proc_fd, tmp_fd=tmp_fd)


def _bind(path: str, *, readonly: bool, noexec: bool) -> None:
    """Bind the host's ``path`` (seen at /oldroot) at the same path of the new root."""
    source, target = "/oldroot" + path, "/newroot" + path
    info = os.stat(source)
    if stat.S_ISDIR(info.st_mode):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.lexists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o444))
    mount(source, target, None, MS_BIND)  # not MS_REC: mounts beneath stay out
    if readonly:
        remount(target, MS_RDONLY | MS_NOSUID | MS_NODEV | (MS_NOEXEC if noexec else 0))


def _mirror_link(alias: str) -> None:
    """Recreate a top-level symbolic link of the host (``/lib -> usr/lib``) in the new root."""
    source = "/oldroot" + alias
    if os.path.islink(source) and not os.path.lexists("/newroot" + alias):
        os.makedirs(os.path.dirname("/newroot" + alias), mode=0o755, exist_ok=True)
        os.symlink(os.readlink(source), "/newroot" + alias)


def _make_covers() -> None:
    os.makedirs("/newroot" + _EMPTY_DIR, mode=0o755)
    os.close(os.open("/newroot" + _EMPTY_FILE, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0))
    os.chmod("/newroot" + _EMPTY_DIR, 0)
    os.chmod("/newroot" + _EMPTY_FILE, 0)


# -- each python-mode worker's part -----------------------------------------------------------
def enter_worker_view(plan: ViewPlan, *, uid: int, gid: int) -> tuple[str, ...]:
    """In a freshly forked python-mode worker: its own copy of the view, a private ``/tmp``
    (owned by ``uid``/``gid``, the ids the worker will run as) and the covers; the covered
    paths, relative to the root. Restricted mode: nothing to do (the view is inherited).

    ``OSError`` when a step fails or the walk passes its bounds (fail closed).
    """
    if plan.mode != "python":
        return ()
    unshare(CLONE_NEWNS)
    if plan.tmp_dir is not None:
        mount(
            "tmpfs",
            _TMP_MOUNT,
            "tmpfs",
            MS_NOSUID | MS_NODEV | MS_NOEXEC,
            f"mode=0700,uid={uid},gid={gid},size={plan.tmp_bytes},nr_inodes={_TMP_INODES}",
        )
        # A module imported before the fork may have cached another answer (matplotlib asks).
        cached = sys.modules.get("tempfile")
        if cached is not None:
            cached.tempdir = plan.tmp_dir  # type: ignore[attr-defined]
    covered = covered_entries(plan)
    for relative, is_dir in covered:
        target = os.path.join(plan.root, relative)
        mount(_EMPTY_DIR if is_dir else _EMPTY_FILE, target, None, MS_BIND)
        remount(target, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    return tuple(relative for relative, _ in covered)


def covered_entries(plan: ViewPlan) -> list[tuple[str, bool]]:
    """``(path relative to the root, is a directory)`` of every entry the view must cover.

    Deny-pattern entries (matched like the path layer matches them, not descended into) and,
    unless ``allow_hardlinks``, regular files with more than one link. Symbolic links are not
    followed, nor are the interpreter's trees (a ``.venv`` in the root): they are bound
    read-only at their own paths and readable as a whole, as they are outside the root.
    Directories unchanged since ``plan.index`` (same inode, mtime and ctime: any entry made,
    renamed or removed in a directory changes both) are not read again.
    ``OSError`` past the walk's bounds (:mod:`.fsview_walk`).
    """
    scans = fsview_walk.walk(
        plan.root,
        deny_patterns=plan.deny_patterns,
        allow_hardlinks=plan.allow_hardlinks,
        skip=plan.read_paths,
        cached=dict(plan.index),
        budget_s=fsview_walk.MAX_VIEW_WALK_S,
    )
    return [entry for scan in scans.values() for entry in scan.covered]


def index_root(plan: ViewPlan) -> ViewPlan:
    """``plan`` with an index of the root's directories, so workers re-read only what changed.

    The zygote builds it once (a root past the walk's bounds is refused here, at start);
    every worker inherits it and walks only directories changed since. Restricted mode: as is.
    """
    if plan.mode != "python":
        return plan
    scans = fsview_walk.walk(
        plan.root,
        deny_patterns=plan.deny_patterns,
        allow_hardlinks=plan.allow_hardlinks,
        skip=plan.read_paths,
        cached={},
        budget_s=fsview_walk.MAX_INDEX_WALK_S,
    )
    return dataclasses.replace(plan, index=tuple(scans.items()))


def probe_view() -> None:
    """Try what a view needs (a mount namespace, private mounts, a tmpfs); ``OSError`` if not.

    Call it in a throw-away child: it changes the caller's mount namespace.
    """
    unshare(CLONE_NEWNS)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", _BASE, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k")


def close_handles(fds: Iterable[int | None]) -> None:
    """Close the descriptors of :class:`ViewHandles` that are still open."""
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
