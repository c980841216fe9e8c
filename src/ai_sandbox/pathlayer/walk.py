"""Resolve a path beneath a directory fd one component at a time (no openat2 needed).

This is the fallback where ``openat2`` is missing, and the authority on *why* a path is refused
(``openat2`` only says ``EXDEV``). Each component is opened with ``O_PATH | O_NOFOLLOW``
relative to the fd of the directory above it, so there is no window between check and use:

* a symlink's target is read from the very inode that was opened, and then walked again from a
  directory fd beneath the root (an absolute target is rebased on the root fd if it names a place
  beneath the root, and refused otherwise);
* ``..`` returns to the fd held for the parent directory, never to whatever ``..`` names now, so
  moving a directory out of the root mid-walk cannot lead out;
* ``O_PATH`` never opens a device or FIFO for I/O, so looking at one has no side effect;
* every fd opened is shown to the caller's ``check`` (pseudo file systems, mount crossing)
  before the walk goes on from it.

Components that do not exist are kept lexically (``missing``) so new files can be created.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final

from ai_sandbox.pathlayer.errors import refuse

__all__ = ["MAX_DEPTH", "MAX_LINK_STEPS", "MAX_SYMLINKS", "FdCheck", "Walk", "make_dirs", "walk"]

#: Symlinks followed per path, as the kernel allows (ELOOP beyond).
MAX_SYMLINKS: Final = 40
#: Directory levels held open at once (each costs one fd while the walk lasts). ``SafeFS``
#: holds given and resolved paths to the same depth, so openat2 and the walk agree.
MAX_DEPTH: Final = 128
#: Components that links' targets may add to a path's resolution, all links together. The
#: kernel allows 40 links of up to 4095 bytes each (about 80,000 components, ``a/../a/../``),
#: cheap in C but seconds of host CPU here (several system calls per component): a project
#: tree of crafted links (a cloned repository's) made each listing that shows where its links
#: lead cost minutes. Natural link targets are a few components each.
MAX_LINK_STEPS: Final = 512

_TOO_DEEP: Final = f"refused: the path is nested more than {MAX_DEPTH} directories deep"
_O_LOOK: Final = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC

#: ``check(fd, fstat of fd, raw path)``: raise ``SecurityError`` to refuse what ``fd`` is on.
FdCheck = Callable[[int, os.stat_result, str], None]


def _no_check(fd: int, st: os.stat_result, raw: str) -> None:
    """The default :data:`FdCheck`: accept every fd."""


@dataclass
class Walk:
    """Where a path led: open directories from the root down, then what lies below the last."""

    #: ``(O_PATH fd, name)`` from the root (a dup of its fd, name ``""``) to the deepest directory.
    dirs: list[tuple[int, str]]
    #: The final entry when it is not a directory (a file, a special file, an unfollowed link).
    leaf: str | None = None
    leaf_stat: os.stat_result | None = None
    #: Trailing components that do not exist (yet).
    missing: list[str] = field(default_factory=list)
    #: Shown every fd opened (also by :func:`make_dirs`).
    check: FdCheck = _no_check

    @property
    def dir_fd(self) -> int:
        """The fd of the deepest directory reached."""
        return self.dirs[-1][0]

    def names(self) -> list[str]:
        """The resolved path, as components relative to the root (no ``..``, no links)."""
        names = [name for _, name in self.dirs[1:]]
        if self.leaf is not None:
            names.append(self.leaf)
        return names + self.missing

    def close(self) -> None:
        """Close every fd the walk holds."""
        while self.dirs:
            os.close(self.dirs.pop()[0])

    def __enter__(self) -> Walk:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def walk(
    root_fd: int,
    root: Path,
    parts: Sequence[str],
    *,
    follow_final: bool,
    raw: str,
    check: FdCheck = _no_check,
) -> Walk:
    """Resolve ``parts`` beneath ``root_fd`` (whose path is ``root``); the caller closes it.

    ``follow_final=False`` leaves a final symlink as the ``leaf`` (writes never follow one).
    ``check`` sees every fd the walk opens. Raises ``SecurityError`` for an escape, a loop or
    a file used as a directory, and lets other ``OSError``s through for the caller to map.
    """
    result = Walk([(os.dup(root_fd), "")], check=check)
    try:
        _descend(result, root, parts, follow_final=follow_final, raw=raw)
    except BaseException:
        result.close()
        raise
    return result


def _descend(
    result: Walk, root: Path, parts: Sequence[str], *, follow_final: bool, raw: str
) -> None:
    pending = deque(p for p in parts if p not in ("", "."))
    links = 0
    link_steps = 0
    escape = "outside_root"  # becomes "symlink_escape" once a link has been followed
    while pending:
        name = pending.popleft()
        if result.missing:  # below a missing directory everything is lexical
            if name == "..":
                result.missing.pop()
            else:
                result.missing.append(name)
            continue
        if name == "..":
            if len(result.dirs) == 1:
                raise refuse(escape, raw)
            os.close(result.dirs.pop()[0])
            continue
        try:
            fd = os.open(name, _O_LOOK, dir_fd=result.dir_fd)
        except FileNotFoundError:
            result.missing.append(name)
            continue
        try:
            st = os.fstat(fd)
            result.check(fd, st, raw)
            if stat.S_ISLNK(st.st_mode) and (follow_final or pending):
                target = os.readlink("", dir_fd=fd)  # readlinkat(fd, ""): this very link
        except BaseException:
            os.close(fd)
            raise
        if stat.S_ISDIR(st.st_mode):
            if len(result.dirs) > MAX_DEPTH:
                os.close(fd)
                raise refuse("path_too_long", raw, _TOO_DEEP)
            result.dirs.append((fd, name))
            continue
        os.close(fd)
        if stat.S_ISLNK(st.st_mode) and (follow_final or pending):
            links += 1
            if links > MAX_SYMLINKS:
                raise refuse("symlink_loop", raw)
            escape = "symlink_escape"
            target_parts = [p for p in target.split("/") if p not in ("", ".")]
            link_steps += len(target_parts)
            if link_steps > MAX_LINK_STEPS:
                raise refuse(
                    "symlink_loop",
                    raw,
                    f"refused: the links on this path lead through more than {MAX_LINK_STEPS} "
                    "path components; use the path the links lead to",
                )
            if target.startswith("/"):
                target_parts = _rebase(target_parts, root, raw)
                while len(result.dirs) > 1:
                    os.close(result.dirs.pop()[0])
            pending.extendleft(reversed(target_parts))
            continue
        if pending:
            raise refuse(
                "not_a_directory", raw, f"{name!r} is a file, not a directory; check the path"
            )
        result.leaf, result.leaf_stat = name, st


def _rebase(target_parts: list[str], root: Path, raw: str) -> list[str]:
    """An absolute link target as components below the root; refuse one that is not beneath it."""
    root_parts = list(root.parts[1:])
    if target_parts[: len(root_parts)] != root_parts:
        raise refuse("symlink_escape", raw)
    return target_parts[len(root_parts) :]


def make_dirs(result: Walk, raw: str) -> None:
    """Create ``result.missing`` as directories, one level at a time, and descend into them.

    Each new directory is opened with ``O_NOFOLLOW | O_DIRECTORY``: if something swaps in a
    symlink between ``mkdir`` and the open, the open fails instead of following it.
    """
    while result.missing:
        name = result.missing.pop(0)
        if len(result.dirs) > MAX_DEPTH:
            raise refuse("path_too_long", raw, _TOO_DEEP)
        # Created meanwhile? The O_NOFOLLOW open below checks what it is.
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o777, dir_fd=result.dir_fd)
        fd = os.open(
            name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=result.dir_fd
        )
        result.dirs.append((fd, name))
        result.check(fd, os.fstat(fd), raw)
