"""The path layer put together: :class:`SafeFS`.

:class:`SafeFS` does the file operations the tools and the executor's ``open()`` need;
:mod:`ai_sandbox.pathlayer.access` builds ``safe_path_access`` and ``safe_open`` on it.

How a path is judged, in order:

1. lexically (``names``): a string, not too long, no null byte, no ``~``, absolute only if
   beneath the root, every name valid on this platform and free of control/bidi characters, and
   no deny pattern matching (case-insensitively);
2. by resolution beneath a directory fd of the root: ``openat2(RESOLVE_BENEATH |
   RESOLVE_NO_MAGICLINKS)`` where the kernel has it, else a component-by-component walk with
   ``O_NOFOLLOW`` fds (``walk``). Symlinks that stay inside the root are followed; one that
   leads out, at any component, is refused. The deny patterns are checked again on the resolved
   path, so a link cannot point at ``.env``;
3. on the object itself (``io``): only regular files, and by default only files with a
   single hard link. Reads are capped; writes are atomic (temp file, fsync, rename) and never go
   through a final symlink;
4. on the file system each opened fd lies on (``mounts``): never a pseudo file system (proc,
   sysfs, ...), and, unless ``allow_mount_crossing``, never another mount than the root's.

Not protected: files changed by other processes between two calls, and the content of a file
whose other hard links the policy explicitly allowed (``allow_hardlinks``).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal

from ai_sandbox.exceptions import (
    ConfigurationError,
    ResourceLimitExceeded,
    SandboxError,
    SecurityError,
    ToolInputError,
)
from ai_sandbox.pathlayer.errors import os_error, refuse
from ai_sandbox.pathlayer.io import (
    check_regular,
    check_write_size,
    read_capped,
    same_file,
    write_atomic,
)
from ai_sandbox.pathlayer.mounts import PSEUDO_FILESYSTEMS, MountGuard, check_not_pseudo, fs_magic
from ai_sandbox.pathlayer.names import (
    check_name,
    compile_deny_patterns,
    denied_by,
    split_path,
    to_text,
)
from ai_sandbox.pathlayer.openat2 import open_beneath, usable_here
from ai_sandbox.pathlayer.walk import MAX_DEPTH, Walk, make_dirs, walk
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import DirEntry

__all__ = ["MAX_DIR_ENTRIES", "MAX_DIR_SCAN", "SafeFS"]

#: Most entries one ``list_dir`` returns (a listing is for reading, not for bulk export).
MAX_DIR_ENTRIES: Final = 10_000
#: Most entries one ``list_dir`` looks at, counting those the policy hides from the listing.
MAX_DIR_SCAN: Final = 4 * MAX_DIR_ENTRIES

_TOO_DEEP: Final = f"refused: the path is nested more than {MAX_DEPTH} directories deep"
#: Pseudo file systems that are never a sandbox root.
_SYSTEM_TREES: Final = (Path("/proc"), Path("/sys"))
_O_READ: Final = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK  # never block on a FIFO
_O_DIR: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
#: Entries of a bare git repository refused wherever it lies (see ``_check_bare_repository``).
_GIT_REPO_SECRETS: Final = frozenset({"config", "hooks"})

#: Files git reads to recognise a repository (besides ``.git``, a deny pattern): a ``HEAD``
#: beside ``objects/`` and ``refs/``, or a ``commondir`` naming where they are. Never written:
#: an agent that could write them could plant a repository whose ``config`` (written first,
#: before the layout made it a repository) holds commands git runs on the host.
_GIT_LAYOUT_FILES: Final = frozenset({"head", "commondir"})


class SafeFS:
    """File operations confined to ``root`` under ``policy``; one per ``Sandbox``, thread-safe.

    It holds an ``O_PATH`` fd of the root for its lifetime, so renaming the root's parents
    later cannot redirect it. The root cannot be ``/`` (however spelled) or lie in ``/proc`` or
    ``/sys``: a ``ConfigurationError``.
    """

    root: Path
    policy: SandboxPolicy

    def __init__(
        self, root: Path, policy: SandboxPolicy, *, _use_openat2: bool | None = None
    ) -> None:
        """``_use_openat2`` (private, for tests): None picks openat2 when the kernel has it,
        False forces the component walk, True requires openat2."""
        if not isinstance(policy, SandboxPolicy):
            raise ConfigurationError("policy must be a SandboxPolicy")
        try:
            self.root = Path(root).resolve(strict=True)
        except (OSError, RuntimeError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"sandbox root {str(root)!r} is not a directory") from exc
        if self.root == self.root.parent:
            # Every path on the machine would be "beneath the root" (and /proc's magic links
            # with it): only the deny patterns would stand between the code and the host.
            raise ConfigurationError(
                f"sandbox root {str(root)!r} is the file system root; choose a project directory"
            )
        if any(self.root.is_relative_to(system) for system in _SYSTEM_TREES):
            # Their "regular files" are the host's live state (environ, memory maps, keys).
            raise ConfigurationError(
                f"sandbox root {str(root)!r} is inside {'/'.join(self.root.parts[:2])}, a view "
                "of the running system; choose a project directory"
            )
        try:
            fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise ConfigurationError(f"sandbox root {str(root)!r} is not a directory") from exc
        try:
            magic: int | None = fs_magic(fd)
        except OSError:
            magic = None
        if magic is None or magic in PSEUDO_FILESYSTEMS:
            os.close(fd)
            kind = "cannot be checked" if magic is None else f"is {PSEUDO_FILESYSTEMS[magic]}"
            raise ConfigurationError(
                f"sandbox root {str(root)!r} lies on a file system that {kind}, not project "
                "storage; choose a project directory"
            )
        self._root_fd = fd
        # The fd is closed only when nothing can use it any more (garbage collection), never by
        # close(): a close racing an operation in another thread could otherwise let the fd
        # number be reused for some other directory in the middle of a walk.
        self._finalizer = weakref.finalize(self, os.close, fd)
        self._closed = False
        self.policy = policy
        self._deny = compile_deny_patterns(policy.deny_patterns)
        self._write_deny = compile_deny_patterns(policy.write_deny_patterns)
        self._mounts = None if policy.allow_mount_crossing else MountGuard(fd)
        self._openat2 = _use_openat2 is not False and usable_here(fd, self.root)
        if _use_openat2 and not self._openat2:
            self._finalizer()
            raise ConfigurationError("openat2 with /proc/self/fd is not available here")

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def uses_openat2(self) -> bool:
        """Whether operations resolve with openat2 (else with the component walk)."""
        return self._openat2

    def close(self) -> None:
        """Refuse all later operations (idempotent).

        The root fd itself is released when this object is garbage-collected.
        """
        self._closed = True

    def __enter__(self) -> SafeFS:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public operations -------------------------------------------------------------------
    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """The absolute resolved path beneath the root (the checks of ``relative``)."""
        return self._resolve(path, check_file=False)

    def resolve_for_opening(self, path: str | os.PathLike[str]) -> Path:
        """Like :meth:`resolve`, and an existing non-directory must be a regular file with one
        hard link (unless ``policy.allow_hardlinks``): the checks of ``safe_path_access``."""
        return self._resolve(path, check_file=True)

    def open_binary(self, path: str | os.PathLike[str]) -> io.BufferedReader:
        """A binary file object reading the regular file ``path`` names; the caller closes it.

        The checks of :meth:`read_bytes`, made on the very fd returned (nothing is resolved
        again). A file over ``policy.max_file_bytes`` when opened is refused; one that grows
        later is not cut.
        """
        raw, parts = self._split(path)
        with self._os_errors(raw, "read"):
            fd = self._open_file(raw, parts)
            try:
                check_write_size(raw, os.fstat(fd).st_size, self.policy.max_file_bytes)
            except BaseException:
                os.close(fd)
                raise
        return os.fdopen(fd, "rb")

    def _resolve(self, path: str | os.PathLike[str], *, check_file: bool) -> Path:
        raw, parts = self._split(path)
        with self._os_errors(raw, "resolve"), self._walk(parts, raw, follow_final=True) as found:
            names = found.names()
            self._check_resolved(names, raw)
            if check_file and found.leaf_stat is not None:
                check_regular(found.leaf_stat, raw, allow_hardlinks=self.policy.allow_hardlinks)
        return self.root.joinpath(*names)

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` resolved and made relative to the root, ``/``-separated (``.`` for root)."""
        return self.resolve(path).relative_to(self.root).as_posix()

    def read_bytes(self, path: str | os.PathLike[str]) -> bytes:
        """The content of a regular file beneath the root, at most ``policy.max_file_bytes``."""
        raw, parts = self._split(path)
        with self._os_errors(raw, "read"):
            fd = self._open_file(raw, parts)
            try:
                return read_capped(fd, raw, self.policy.max_file_bytes)
            finally:
                os.close(fd)

    def read_text(self, path: str | os.PathLike[str]) -> str:
        """Like :meth:`read_bytes`, decoded as UTF-8 (``rule="not_text"`` if it is not)."""
        raw = to_text(path)
        data = self.read_bytes(raw)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise refuse("not_text", raw) from None

    def write_bytes(self, path: str | os.PathLike[str], data: bytes) -> int:
        """Atomically create or replace a file beneath the root; returns the bytes written.

        Missing parent directories are created (beneath the root). Refused unless
        ``policy.allow_writes``; over ``policy.max_file_bytes`` nothing is touched.
        """
        raw = to_text(path)
        if not self.policy.allow_writes:
            raise refuse("writes_disabled", raw)
        if not isinstance(data, bytes | bytearray):
            raise ToolInputError("file content must be bytes")
        check_write_size(raw, len(data), self.policy.max_file_bytes)
        raw, parts = self._split(raw)
        self._check_write_denied(parts, raw)
        if not parts or parts[-1] == "..":
            raise refuse(
                "is_directory", raw, "refused: give the path of a file to write, e.g. 'out/a.txt'"
            )
        with self._os_errors(raw, "write"):
            dir_fd = self._open_parent(raw, parts)
            try:
                write_atomic(
                    dir_fd, parts[-1], bytes(data), raw, allow_hardlinks=self.policy.allow_hardlinks
                )
            finally:
                os.close(dir_fd)
        return len(data)

    def check_write(self, path: str | os.PathLike[str]) -> None:
        """Refuse early what :meth:`write_bytes` would refuse for ``path`` whatever the data
        (a point-in-time check; ``write_bytes`` checks again when it writes)."""
        raw = to_text(path)
        if not self.policy.allow_writes:
            raise refuse("writes_disabled", raw)
        raw, parts = self._split(raw)
        self._check_write_denied(parts, raw)
        if not parts or parts[-1] == "..":
            raise refuse("is_directory", raw)
        with self._os_errors(raw, "write"), self._walk(parts, raw, follow_final=False) as found:
            names = found.names()
            self._check_resolved(names, raw)
            self._check_write_denied(names, raw)
            if found.leaf is None and not found.missing:
                raise refuse("is_directory", raw)
            if found.leaf_stat is not None:
                check_regular(found.leaf_stat, raw, allow_hardlinks=self.policy.allow_hardlinks)

    def write_text(self, path: str | os.PathLike[str], content: str) -> int:
        """Atomically write ``content`` as UTF-8; returns the bytes written."""
        try:
            data = content.encode("utf-8")
        except (UnicodeEncodeError, AttributeError):
            raise ToolInputError("file content must be valid Unicode text") from None
        return self.write_bytes(path, data)

    def list_dir(self, path: str | os.PathLike[str] = ".") -> list[DirEntry]:
        """The entries of a directory beneath the root, sorted by name.

        Entries the policy refuses (deny patterns, invalid names) are left out.
        """
        raw, parts = self._split(path)
        with self._os_errors(raw, "list"):
            fd, names = self._open_dir(raw, parts)
            try:
                return self._scan(fd, names)
            finally:
                os.close(fd)

    def read_head(self, path: str | os.PathLike[str], max_bytes: int) -> tuple[bytes, int]:
        """The first ``max_bytes`` bytes of a regular file beneath the root, and its size.

        For telling what a file is (its media type) without reading all of it: no size cap.
        """
        raw, parts = self._split(path)
        with self._os_errors(raw, "read"):
            fd = self._open_file(raw, parts)
            try:
                return os.read(fd, max(0, max_bytes)), os.fstat(fd).st_size
            finally:
                os.close(fd)

    def list_tree(
        self, path: str | os.PathLike[str] = ".", *, depth: int = 0, max_entries: int
    ) -> tuple[list[DirEntry], bool]:
        """A directory's entries and, ``depth`` levels down, its subdirectories' (depth first,
        sorted by name); and whether the listing stopped at ``max_entries``.

        Entries the policy hides are left out and never descended into; symbolic links are
        never followed into, but each says where it leads (``outside_root`` for a link that
        leaves the root, which cannot be read). At most ``MAX_DIR_SCAN`` entries are looked at
        in all, so a flood of hidden entries costs bounded work.
        """
        raw, parts = self._split(path)
        with self._os_errors(raw, "list"):
            fd, names = self._open_dir(raw, parts)
            tree = _Tree(self, max(1, max_entries))
            try:
                tree.scan(fd, names, max(0, depth))
            finally:
                os.close(fd)
        return tree.entries, tree.truncated

    def _link_entry(self, entry: DirEntry) -> DirEntry:
        """``entry`` (a symbolic link) with where it leads: inside (target and its kind) or
        outside the root. Resolved like any path the model could give: by openat2 where the
        kernel has it (one system call), else (or to explain a refusal) by the component walk."""
        quick = self._link_by_openat2(entry)
        if quick is not None:
            return quick
        parts = entry.path.split("/")
        try:
            with self._walk(parts, entry.path, follow_final=True) as hit:
                names = hit.names()
                self._check_resolved(names, entry.path)
                if hit.missing:
                    kind: Literal["file", "dir", "other", "missing", "refused"] = "missing"
                    size = None
                elif hit.leaf is None:
                    kind, size = "dir", None
                else:
                    mode = hit.leaf_stat.st_mode if hit.leaf_stat is not None else 0
                    kind = "file" if stat.S_ISREG(mode) else "other"
                    size = hit.leaf_stat.st_size if hit.leaf_stat and kind == "file" else None
        except SecurityError as exc:
            if exc.rule in ("symlink_escape", "outside_root"):
                return entry.model_copy(update={"outside_root": True})
            return entry.model_copy(update={"target_type": "refused"})
        except OSError:
            return entry.model_copy(update={"target_type": "refused"})
        target = "/".join(names) or "."
        return entry.model_copy(update={"target": target, "target_type": kind, "size": size})

    def _link_by_openat2(self, entry: DirEntry) -> DirEntry | None:
        """:meth:`_link_entry` by one openat2 call (the kernel resolves the links, cheaply);
        None when it cannot tell (no openat2, a refusal to explain, a missing target)."""
        try:
            found = self._beneath(entry.path.split("/"), os.O_PATH, entry.path)
        except SecurityError:  # a pseudo file system or another mount
            return entry.model_copy(update={"target_type": "refused"})
        if found is None:
            return None
        fd, names = found
        try:
            self._check_resolved(names, entry.path)
            st = os.fstat(fd)
        except SecurityError:
            return entry.model_copy(update={"target_type": "refused"})
        finally:
            os.close(fd)
        if stat.S_ISDIR(st.st_mode):
            kind: Literal["file", "dir", "other"] = "dir"
        else:
            kind = "file" if stat.S_ISREG(st.st_mode) else "other"
        size = st.st_size if kind == "file" else None
        target = "/".join(names) or "."
        return entry.model_copy(update={"target": target, "target_type": kind, "size": size})

    # -- checks ------------------------------------------------------------------------------
    def _split(self, path: str | os.PathLike[str]) -> tuple[str, list[str]]:
        """Lexical checks; the components of ``path`` relative to the root."""
        if self._closed:
            raise ConfigurationError("this SafeFS is closed")
        raw = to_text(path)
        parts = split_path(raw, self.root, self.policy.max_path_length)
        if sum(part != ".." for part in parts) > MAX_DEPTH:
            raise refuse("path_too_long", raw, _TOO_DEEP)
        self._check_denied(parts, raw)
        return raw, parts

    def _check_denied(self, names: list[str], raw: str) -> None:
        pattern = denied_by(names, self._deny)
        if pattern is not None:
            raise refuse(
                "deny_pattern",
                raw,
                f"refused: the policy's deny pattern {pattern!r} keeps this path off limits "
                "(secrets and version-control data); choose another file",
            )

    def _check_write_denied(self, names: list[str], raw: str) -> None:
        if names and names[-1].casefold() in _GIT_LAYOUT_FILES:
            raise refuse(
                "deny_pattern",
                raw,
                f"refused: git reads a file named {names[-1]!r} to recognise a repository, and "
                "version-control data is off limits; write another file",
            )
        pattern = denied_by(names, self._write_deny)
        if pattern is not None:
            raise refuse(
                "write_deny_pattern",
                raw,
                f"refused: the policy's write deny pattern {pattern!r} keeps this path "
                "read-only (host tools execute it); write another file",
            )

    def _check_resolved(self, names: list[str], raw: str) -> None:
        """Checks on the path a link or ``..`` actually led to."""
        size = len("/".join(names).encode("utf-8", "surrogatepass"))
        if size > self.policy.max_path_length:
            raise refuse("path_too_long", raw, "refused: the path resolves to an over-long path")
        if len(names) > MAX_DEPTH:
            raise refuse("path_too_long", raw, _TOO_DEEP)
        self._check_denied(names, raw)
        self._check_bare_repository(names, raw)

    def _check_bare_repository(self, names: list[str], raw: str) -> None:
        """Refuse the ``config`` and ``hooks`` of a bare git repository, whatever its name.

        A name pattern cannot tell ``backup/config`` from a bare repository's ``config`` (remote
        URLs with tokens, credential helpers, ``core.fsmonitor`` commands) or ``hooks/`` (run by
        git on the host), so the directory is looked at: ``HEAD``, ``objects/`` and ``refs/``.
        """
        for depth, name in enumerate(names):
            if name.casefold() in _GIT_REPO_SECRETS and self._is_bare_repository(names[:depth]):
                raise refuse(
                    "deny_pattern",
                    raw,
                    f"refused: {name!r} belongs to a bare git repository (its config and hooks "
                    "hold credentials and commands git runs); version-control data is off limits",
                )

    def _is_bare_repository(self, names: list[str]) -> bool:
        """Whether the directory ``names`` (resolved, beneath the root) is a bare repository."""
        try:
            with walk(self._root_fd, self.root, names, follow_final=False, raw="") as hit:
                if hit.leaf is not None or hit.missing:
                    return False
                for entry, is_dir in (("HEAD", False), ("objects", True), ("refs", True)):
                    st = os.stat(entry, dir_fd=hit.dir_fd, follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode) != is_dir:
                        return False
        except (OSError, SandboxError):
            return False
        return True

    @staticmethod
    @contextlib.contextmanager
    def _os_errors(raw: str, action: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise os_error(exc, raw, action) from None

    # -- locating ----------------------------------------------------------------------------
    def _walk(self, parts: list[str], raw: str, *, follow_final: bool) -> Walk:
        return walk(
            self._root_fd,
            self.root,
            parts,
            follow_final=follow_final,
            raw=raw,
            check=self._check_fd,
        )

    def _check_fd(self, fd: int, st: os.stat_result, raw: str) -> None:
        """Refuse an opened object on a pseudo file system or (by policy) on another mount."""
        check_not_pseudo(fd, raw)
        if self._mounts is not None:
            self._mounts.check(fd, st, raw)

    def _beneath(self, parts: list[str], flags: int, raw: str) -> tuple[int, list[str]] | None:
        """openat2 ``parts`` beneath the root: ``(fd, resolved names)``, or None to let the
        walk decide (it also explains refusals, where openat2 only says EXDEV)."""
        if not self._openat2:
            return None
        found = open_beneath(
            self._root_fd, self.root, parts, flags, same_mount=self._mounts is not None
        )
        if found is not None:
            try:
                self._check_fd(found[0], os.fstat(found[0]), raw)
            except BaseException:
                os.close(found[0])
                raise
        return found

    def _open_file(self, raw: str, parts: list[str]) -> int:
        """An fd open for reading on the regular file ``parts`` names."""
        hardlinks = self.policy.allow_hardlinks
        found = self._beneath(parts, os.O_PATH, raw)
        if found is not None:
            opath, names = found
            try:
                self._check_resolved(names, raw)
                st = os.fstat(opath)
                check_regular(st, raw, allow_hardlinks=hardlinks)
                # Reopen the very inode for reading; it is known to be a regular file.
                fd = os.open(f"/proc/self/fd/{opath}", _O_READ)
            finally:
                os.close(opath)
        else:
            with self._walk(parts, raw, follow_final=True) as hit:
                self._check_resolved(hit.names(), raw)
                if hit.missing:
                    raise refuse("not_found", raw)
                if hit.leaf is None or hit.leaf_stat is None:
                    raise refuse("is_directory", raw)
                st = hit.leaf_stat
                check_regular(st, raw, allow_hardlinks=hardlinks)
                fd = os.open(hit.leaf, _O_READ | os.O_NOFOLLOW, dir_fd=hit.dir_fd)
        same_file(fd, st, raw, allow_hardlinks=hardlinks)
        return fd

    def _open_dir(self, raw: str, parts: list[str]) -> tuple[int, list[str]]:
        """An fd open for listing on the directory ``parts`` names, and its resolved names."""
        found = self._beneath(parts, os.O_PATH | os.O_DIRECTORY, raw)
        if found is not None:
            opath, names = found
            try:
                self._check_resolved(names, raw)
                return os.open(".", _O_DIR, dir_fd=opath), names
            finally:
                os.close(opath)
        with self._walk(parts, raw, follow_final=True) as hit:
            names = hit.names()
            self._check_resolved(names, raw)
            if hit.missing:
                raise refuse("not_found", raw)
            if hit.leaf is not None:
                raise refuse("not_a_directory", raw, "this is a file, not a directory; read it")
            return os.open(".", _O_DIR, dir_fd=hit.dir_fd), names

    def _open_parent(self, raw: str, parts: list[str]) -> int:
        """An ``O_PATH`` fd of the directory to write ``parts[-1]`` in, creating it if needed."""
        leaf = parts[-1]
        found = self._beneath(parts[:-1], os.O_PATH | os.O_DIRECTORY, raw)
        if found is not None:
            fd, names = found
            try:
                self._check_resolved([*names, leaf], raw)
                self._check_write_denied([*names, leaf], raw)
            except BaseException:
                os.close(fd)
                raise
            return fd
        with self._walk(parts[:-1], raw, follow_final=True) as hit:
            self._check_resolved([*hit.names(), leaf], raw)
            self._check_write_denied([*hit.names(), leaf], raw)
            if hit.leaf is not None:
                raise refuse("not_a_directory", raw)
            make_dirs(hit, raw)
            return os.dup(hit.dir_fd)

    def _scan(self, fd: int, names: list[str]) -> list[DirEntry]:
        entries: list[DirEntry] = []
        with os.scandir(fd) as listing:
            for scanned, entry in enumerate(listing, start=1):
                if scanned > MAX_DIR_SCAN:  # mostly hidden entries: still bounded work
                    raise ResourceLimitExceeded(
                        "dir_entries", f"the directory has more than {MAX_DIR_SCAN} entries"
                    )
                if not self._listable(entry.name, names):
                    continue
                if len(entries) >= MAX_DIR_ENTRIES:
                    raise ResourceLimitExceeded(
                        "dir_entries", f"the directory has more than {MAX_DIR_ENTRIES} entries"
                    )
                st = entry.stat(follow_symlinks=False)
                kind = _kind(st.st_mode)
                entries.append(
                    DirEntry(
                        name=entry.name,
                        path="/".join([*names, entry.name]),
                        type=kind,
                        size=st.st_size if kind == "file" else None,
                    )
                )
        return sorted(entries, key=lambda e: e.name)

    def _listable(self, name: str, names: list[str]) -> bool:
        """Whether an entry could be named in a request at all (else it is not listed)."""
        try:
            check_name(name, name)
        except SandboxError:
            return False
        return denied_by([*names, name], self._deny) is None


def _kind(mode: int) -> Literal["file", "dir", "symlink", "other"]:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


#: Symbolic links a listing resolves to say where they lead (each may cost the kernel or the
#: walk up to 40 links' worth of components: a crafted tree must not make a listing cost
#: seconds per link); further links are listed without their target.
MAX_LINKS_RESOLVED: Final = 256


class _Tree:
    """One bounded, depth-first walk of a directory tree for :meth:`SafeFS.list_tree`."""

    def __init__(self, fs: SafeFS, max_entries: int) -> None:
        self.fs = fs
        self.max_entries = max_entries
        self.entries: list[DirEntry] = []
        self.truncated = False
        self.scanned = 0
        #: Links whose target is still looked up; later ones are listed without it.
        self.links_left = MAX_LINKS_RESOLVED

    def scan(self, fd: int, names: list[str], depth: int) -> None:
        found: list[tuple[str, os.stat_result]] = []
        with os.scandir(fd) as listing:
            for scanned in listing:
                self.scanned += 1
                if self.scanned > MAX_DIR_SCAN:
                    self.truncated = True
                    break
                if self.fs._listable(scanned.name, names):
                    found.append((scanned.name, scanned.stat(follow_symlinks=False)))
        for name, st in sorted(found, key=lambda item: item[0]):
            if len(self.entries) >= self.max_entries:
                self.truncated = True
                return
            kind = _kind(st.st_mode)
            path = "/".join([*names, name])
            entry = DirEntry(
                name=name, path=path, type=kind, size=st.st_size if kind == "file" else None
            )
            if kind == "symlink" and self.links_left > 0:
                self.links_left -= 1
                entry = self.fs._link_entry(entry)
            self.entries.append(entry)
            if kind == "dir" and depth > 0 and not self.truncated:
                self._descend(fd, name, [*names, name], depth - 1)

    def _descend(self, fd: int, name: str, names: list[str], depth: int) -> None:
        if len(names) > MAX_DEPTH:
            return
        try:  # never through a link: an entry swapped for one since the scan fails here
            child = os.open(name, _O_DIR | os.O_NOFOLLOW, dir_fd=fd)
        except OSError:
            return  # gone or unreadable since the scan: listed, not descended into
        try:
            # A pseudo file system or (by policy) another mount is listed, never entered.
            self.fs._check_fd(child, os.fstat(child), "/".join(names))
        except SecurityError:
            os.close(child)
            return
        try:
            self.scan(child, names, depth)
        finally:
            os.close(child)
