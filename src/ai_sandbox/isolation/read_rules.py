"""What a worker may read: the Landlock read rules, computed from the interpreter's real paths.

A worker reads only what the interpreter needs to import (it has preloaded almost everything;
these rules cover what the stdlib and extension modules still load lazily):

- ``READ_FILE | READ_DIR`` beneath the standard library (``stdlib``, ``platstdlib`` with
  ``lib-dynload``) and the ``site-packages`` of both prefixes, every ``sys.path`` entry under a
  prefix's ``lib*`` directory or named ``site-packages``/``dist-packages``, and the
  ``ai_sandbox`` package directory itself (never the directory that *contains* it: for a
  flat-layout or vendored install that is the application's own tree, ``.env`` included);
- ``READ_FILE`` (no listing) on the interpreter's executable and beneath the system library
  directories the dynamic loader searches.

Every path is resolved (symlinks followed) first, since Landlock binds rules to the real
directory. A candidate that would grant a whole tree is refused: ``/``, a top-level directory
(``/usr``, ``/home``, ``/opt``...), a home directory or any directory containing one. Doctor
lists the rules and the refusals (:func:`plan_read_rules`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

__all__ = ["ReadRule", "ReadRulePlan", "RefusedPath", "plan_read_rules", "too_wide"]

_SYSTEM_LIBRARY_PATHS: Final = (
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/etc/ld.so.cache",
)
_SITE_NAMES: Final = frozenset({"site-packages", "dist-packages"})
#: uids below this are system accounts (login.defs' UID_MIN); their homes are system paths.
_FIRST_USER_UID: Final = 1000

Access = Literal["read", "read-files"]


@dataclass(frozen=True, slots=True)
class ReadRule:
    """``path`` (resolved) is readable by workers: ``"read"`` files and listings beneath it,
    ``"read-files"`` file contents only; ``source`` says why it is needed."""

    path: str
    access: Access
    source: str


@dataclass(frozen=True, slots=True)
class RefusedPath:
    """A candidate left out because it would grant too much (``why``)."""

    path: str
    source: str
    why: str


@dataclass(frozen=True, slots=True)
class ReadRulePlan:
    """The read rules for this interpreter, and the candidates refused."""

    rules: tuple[ReadRule, ...]
    refused: tuple[RefusedPath, ...]

    def paths(self, access: Access) -> tuple[str, ...]:
        """The paths granted with ``access``."""
        return tuple(rule.path for rule in self.rules if rule.access == access)


def plan_read_rules() -> ReadRulePlan:
    """The read rules of a worker forked from this interpreter (nothing is opened or changed)."""
    homes = _home_directories()
    rules: dict[str, ReadRule] = {}
    refused: dict[str, RefusedPath] = {}

    def consider(candidate: str, access: Access, source: str, *, check_width: bool) -> None:
        path = Path(candidate).resolve()
        key = str(path)
        if key in rules or key in refused or not path.exists():
            return
        why = _too_wide(path, homes) if check_width else None
        if why is not None:
            refused[key] = RefusedPath(key, source, why)
        else:
            rules[key] = ReadRule(key, access, source)

    for source, candidate in _interpreter_candidates():
        consider(candidate, "read", source, check_width=True)
    consider(
        str(Path(__file__).resolve().parents[1]), "read", "the ai_sandbox package", check_width=True
    )
    consider(os.path.realpath(sys.executable), "read-files", "the interpreter", check_width=True)
    for candidate in _SYSTEM_LIBRARY_PATHS:
        consider(candidate, "read-files", "shared libraries", check_width=False)
    return ReadRulePlan(tuple(rules.values()), tuple(refused.values()))


def too_wide(path: str) -> str | None:
    """Why granting ``path`` (resolved) to workers would expose a whole tree (``/``, a
    top-level directory, a home directory or one containing a home), or ``None``. For any
    other code that adds read rules (python mode's extra paths)."""
    return _too_wide(Path(path).resolve(), _home_directories())


def _interpreter_candidates() -> list[tuple[str, str]]:
    """(source, path) for the standard library, lib-dynload and site-packages."""
    candidates: list[tuple[str, str]] = []
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        # The standard library lives in the base interpreter; a venv adds only site-packages.
        bases = (sys.base_prefix,) if "stdlib" in key else (sys.base_prefix, sys.prefix)
        for base in bases:
            with contextlib.suppress(KeyError):
                path = sysconfig.get_path(key, vars={"base": base, "platbase": base})
                source = "the standard library" if "stdlib" in key else "site-packages"
                candidates.append((source, path))
                if key == "platstdlib":
                    candidates.append(("extension modules", os.path.join(path, "lib-dynload")))
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    for entry in sys.path:
        if not entry or not os.path.isabs(entry):
            continue
        resolved = Path(entry).resolve()
        if resolved.name in _SITE_NAMES or Path(entry).name in _SITE_NAMES:
            candidates.append(("site-packages on sys.path", str(resolved)))
        elif any(_under_lib_of(resolved, prefix) for prefix in prefixes):
            candidates.append(("the interpreter's sys.path", str(resolved)))
    return candidates


def _under_lib_of(path: Path, prefix: Path) -> bool:
    """Whether ``path`` lies in a ``lib*`` directory of ``prefix`` (``lib/python3.11``...)."""
    if not path.is_relative_to(prefix) or path == prefix:
        return False
    return path.relative_to(prefix).parts[0].lower().startswith("lib")


def _home_directories() -> frozenset[Path]:
    """The home directories of root, of every user account and of the current user."""
    homes: set[Path] = set()
    with contextlib.suppress(KeyError, RuntimeError):
        homes.add(Path.home())
    try:
        accounts = pwd.getpwall()
    except OSError:  # pragma: no cover - an unreadable user database
        accounts = []
    for account in accounts:
        is_user = account.pw_uid == 0 or account.pw_uid >= _FIRST_USER_UID
        if is_user and account.pw_dir and os.path.isabs(account.pw_dir):
            homes.add(Path(account.pw_dir))
    resolved = set()
    for home in homes:
        with contextlib.suppress(OSError, RuntimeError):
            resolved.add(home.resolve())
    return frozenset(resolved)


def _too_wide(path: Path, homes: frozenset[Path]) -> str | None:
    """Why granting ``path`` would expose a whole tree, or ``None`` when it is narrow enough."""
    if path == Path(path.anchor):
        return "the filesystem root"
    for home in homes:
        if home == path:
            return "a home directory"
        if home.is_relative_to(path):
            return f"it contains the home directory {home}"
    if len(path.parts) <= 2:
        return "a top-level directory"
    return None
