"""The bounded walk of the root that finds what a python-mode view must cover.

Deny-pattern entries (matched like the path layer matches them, not descended into) and, unless
``allow_hardlinks``, regular files with more than one link. Symbolic links are not followed, nor
are the interpreter's trees inside the root (a project's ``.venv``): those are bound read-only
at their own paths and are readable as a whole, as outside the root. The zygote walks the whole
root once; a worker passes the zygote's result as ``cached`` and re-reads only directories
whose stamp changed (same inode, mtime and ctime: any entry made, renamed or removed in a
directory changes both).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_INDEX_WALK_S", "MAX_VIEW_ENTRIES", "MAX_VIEW_WALK_S", "DirScan", "walk"]

#: A python-mode worker walks at most this many entries of the root to find what to cover.
MAX_VIEW_ENTRIES: Final = 20_000
#: ... and for at most this long; past either bound the worker refuses to start.
MAX_VIEW_WALK_S: Final = 2.0
#: The zygote's first, full walk (once per Sandbox) may take this long.
MAX_INDEX_WALK_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class DirScan:
    """One directory of the root as a walk found it."""

    #: ``(st_ino, st_mtime_ns, st_ctime_ns)`` when it was read.
    stamp: tuple[int, int, int]
    covered: tuple[tuple[str, bool], ...]
    subdirs: tuple[str, ...]


class _Matcher:
    """The path layer's deny matcher, split so a walk folds each name once: a pattern without
    a ``/`` matches any single component (the ancestors were already checked), an anchored one
    the whole path."""

    def __init__(self, patterns: Sequence[str]) -> None:
        # Imported here: restricted-mode zygotes never need it, and every module a zygote holds
        # makes each fork dearer (python-mode zygotes import it before any fork).
        from ai_sandbox.pathlayer.names import compile_deny_patterns, denied_by

        compiled = compile_deny_patterns(patterns)
        self._denied_by = denied_by
        self._loose = tuple(p for p in compiled if not p.anchored)
        self._anchored = tuple(p for p in compiled if p.anchored)

    def denied(self, names: tuple[str, ...]) -> bool:
        if self._denied_by(names[-1:], self._loose) is not None:
            return True
        return bool(self._anchored) and self._denied_by(names, self._anchored) is not None


def walk(
    root: str,
    *,
    deny_patterns: Sequence[str],
    allow_hardlinks: bool,
    skip: Collection[str],
    cached: Mapping[str, DirScan],
    budget_s: float,
) -> dict[str, DirScan]:
    """Every directory beneath ``root`` (by path relative to it) with what it holds to cover.

    ``cached`` directories whose stamp is unchanged are taken as they are; ``skip`` are
    absolute directories not walked. ``OSError`` (``E2BIG``/``ETIME``) past
    :data:`MAX_VIEW_ENTRIES` entries or ``budget_s`` seconds.
    """
    matcher = _Matcher(deny_patterns)
    policy = _Walk(root, allow_hardlinks, frozenset(skip))
    deadline = time.monotonic() + budget_s
    found: dict[str, DirScan] = {}
    pending = [""]
    seen = 0
    while pending:
        relative = pending.pop()
        path = os.path.join(root, relative) if relative else root
        info = os.lstat(path)
        stamp = (info.st_ino, info.st_mtime_ns, info.st_ctime_ns)
        scan = cached.get(relative)
        seen += 1
        if scan is None or scan.stamp != stamp:
            scan, scanned = _scan(policy, path, relative, stamp, matcher, seen, deadline)
            seen += scanned
        _check_bounds(seen, deadline)
        found[relative] = scan
        pending.extend(f"{relative}/{name}" if relative else name for name in scan.subdirs)
    return found


@dataclass(frozen=True, slots=True)
class _Walk:
    root: str
    allow_hardlinks: bool
    skip: frozenset[str]


def _scan(
    plan: _Walk,
    path: str,
    relative: str,
    stamp: tuple[int, int, int],
    matcher: _Matcher,
    seen: int,
    deadline: float,
) -> tuple[DirScan, int]:
    covered: list[tuple[str, bool]] = []
    subdirs: list[str] = []
    parts = tuple(relative.split("/")) if relative else ()
    scanned = 0
    with os.scandir(path) as listing:
        for entry in listing:
            scanned += 1
            _check_bounds(seen + scanned, deadline)
            entry_path = f"{relative}/{entry.name}" if relative else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if matcher.denied((*parts, entry.name)):
                if is_dir or entry.is_file(follow_symlinks=False):
                    covered.append((entry_path, is_dir))
            elif is_dir:
                if os.path.join(plan.root, entry_path) not in plan.skip:
                    subdirs.append(entry.name)  # (interpreter trees in the root: not walked)
            elif (
                not plan.allow_hardlinks
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_nlink > 1
            ):
                covered.append((entry_path, False))
    return DirScan(stamp, tuple(covered), tuple(subdirs)), scanned


def _check_bounds(seen: int, deadline: float) -> None:
    if seen > MAX_VIEW_ENTRIES:
        raise OSError(
            7,  # E2BIG
            f"the root has more than {MAX_VIEW_ENTRIES} entries to walk; python mode walks "
            "the root to hide what the policy denies: choose a smaller root",
        )
    if time.monotonic() > deadline:
        raise OSError(
            62,  # ETIME
            "walking the root took too long; choose a smaller root",
        )
