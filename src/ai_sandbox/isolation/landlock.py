"""Landlock: read-only access to the interpreter's own files, no TCP, no signals out.

One ruleset covers three layers:

- ``landlock_fs``: every filesystem right the kernel's ABI knows is *handled* (denied unless
  a rule grants it); the only rules grant ``READ_FILE | READ_DIR`` beneath the directories the
  interpreter imports from (the standard library, site-packages, the ``ai_sandbox`` package
  itself), and ``READ_FILE`` (no listing) on the executable and beneath the system library
  directories extension modules load shared libraries from (:mod:`.read_rules`). Nothing is
  writable or executable anywhere. The worker never opens files of the sandbox root itself:
  its ``open()`` is brokered to the host.
- ``landlock_net`` (ABI >= 4): ``BIND_TCP`` and ``CONNECT_TCP`` are handled with no rule.
- ``landlock_scope`` (ABI >= 6): abstract unix sockets and signals are scoped to the domain,
  so a worker cannot signal the host, the zygote or another Sandbox's workers.

The ruleset is built once (in the zygote); each worker calls :func:`restrict_self` itself, so
each gets its own nested domain. Landlock binds the calling thread only: restrict a
single-threaded process. Only access bits the running kernel's ABI knows are requested
(best effort, as in the kernel documentation).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ai_sandbox.isolation._syscalls import syscall
from ai_sandbox.isolation.read_rules import plan_read_rules

__all__ = [
    "FS_READ",
    "FS_WRITE",
    "LandlockRuleset",
    "abi_version",
    "add_fd_rule",
    "add_read_paths",
    "create_ruleset",
    "create_scope_ruleset",
    "interpreter_read_paths",
    "restrict_self",
    "restrict_self_keep",
    "system_library_paths",
]

_CREATE_RULESET_VERSION: Final = 1
_RULE_PATH_BENEATH: Final = 1

FS_READ_FILE: Final = 1 << 2
FS_READ_DIR: Final = 1 << 3
# Bits each ABI added: v1 has 0..12, v2 REFER, v3 TRUNCATE, v5 IOCTL_DEV.
_FS_BY_ABI: Final = ((1, (1 << 13) - 1), (2, 1 << 13), (3, 1 << 14), (5, 1 << 15))
_NET_BIND_TCP: Final = 1 << 0
_NET_CONNECT_TCP: Final = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET: Final = 1 << 0
_SCOPE_SIGNAL: Final = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


@dataclass(frozen=True, slots=True)
class LandlockRuleset:
    """A prepared ruleset: ``fd`` is inherited by forked workers and consumed by them."""

    fd: int
    abi: int
    handled_fs: int
    handled_net: int
    scoped: int
    read_paths: tuple[str, ...]

    @property
    def layers(self) -> tuple[str, ...]:
        """The layer names this ruleset enforces once applied."""
        names = ["landlock_fs"]
        if self.handled_net:
            names.append("landlock_net")
        if self.scoped:
            names.append("landlock_scope")
        return tuple(names)


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is missing or disabled."""
    try:
        return syscall("landlock_create_ruleset", 0, 0, _CREATE_RULESET_VERSION)
    except OSError:
        return 0


def handled_fs_access(abi: int) -> int:
    """Every filesystem access right ABI ``abi`` knows."""
    mask = 0
    for since, bits in _FS_BY_ABI:
        if abi >= since:
            mask |= bits
    return mask


def interpreter_read_paths() -> tuple[str, ...]:
    """Directories (and zip files) workers may read and list: the standard library, the
    site-packages and the ``ai_sandbox`` package itself (see :mod:`.read_rules`)."""
    return plan_read_rules().paths("read")


def system_library_paths() -> tuple[str, ...]:
    """Files workers may read but whose directories they may not list: the interpreter's
    executable and the shared libraries extension modules link against (``libbz2`` for
    ``_bz2``...) beneath the system library directories (see :mod:`.read_rules`)."""
    return plan_read_rules().paths("read-files")


def create_ruleset(
    read_paths: Iterable[str],
    *,
    library_paths: Iterable[str] = (),
    abi: int | None = None,
) -> LandlockRuleset:
    """Build the worker ruleset; ``OSError`` when Landlock is unavailable or a rule is refused.

    ``read_paths`` get ``READ_FILE | READ_DIR`` beneath them, ``library_paths`` only
    ``READ_FILE``. ``abi`` caps the ABI used (tests); by default the kernel's own.
    """
    kernel_abi = abi_version()
    if kernel_abi < 1:
        raise OSError(errno.EOPNOTSUPP, "Landlock is not supported or not enabled by the kernel")
    used = kernel_abi if abi is None else min(abi, kernel_abi)
    attr = _RulesetAttr(
        handled_access_fs=handled_fs_access(used),
        handled_access_net=(_NET_BIND_TCP | _NET_CONNECT_TCP) if used >= 4 else 0,
        scoped=(_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if used >= 6 else 0,
    )
    fd = syscall("landlock_create_ruleset", ctypes.byref(attr), ctypes.sizeof(attr), 0)
    fd = _above_stdio(fd)
    added: list[str] = []
    try:
        for path in read_paths:
            if _add_rule(fd, path, FS_READ_FILE | FS_READ_DIR):
                added.append(path)
        for path in library_paths:
            if _add_rule(fd, path, FS_READ_FILE):
                added.append(path)
    except OSError:
        os.close(fd)
        raise
    return LandlockRuleset(
        fd=fd,
        abi=used,
        handled_fs=attr.handled_access_fs,
        handled_net=attr.handled_access_net,
        scoped=attr.scoped,
        read_paths=tuple(added),
    )


def create_scope_ruleset(abi: int) -> LandlockRuleset:
    """A ruleset that only scopes signals and abstract unix sockets (ABI >= 6, else
    ``OSError``). A locked zygote's worker enforces it on top of the zygote's domain: a domain
    of its own, nested in the zygote's, so it can signal neither the zygote nor a sibling,
    while the zygote (its parent domain) can still signal it. Filesystem and network rules
    stay those of the zygote's domain, inherited."""
    if abi < 6:
        raise OSError(errno.EOPNOTSUPP, f"scoped rulesets need Landlock ABI >= 6, not {abi}")
    attr = _RulesetAttr(scoped=_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
    fd = _above_stdio(
        syscall("landlock_create_ruleset", ctypes.byref(attr), ctypes.sizeof(attr), 0)
    )
    return LandlockRuleset(
        fd=fd, abi=abi, handled_fs=0, handled_net=0, scoped=attr.scoped, read_paths=()
    )


def restrict_self_keep(ruleset: LandlockRuleset) -> None:
    """Enforce ``ruleset`` on the calling thread, keeping its descriptor open (for a ruleset
    the zygote made once and every worker enforces)."""
    syscall("landlock_restrict_self", ruleset.fd, 0)


def _above_stdio(fd: int) -> int:
    """Move ``fd`` above 0-2, which workers point at ``/dev/null``."""
    if fd > 2:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return moved


def _add_rule(ruleset_fd: int, path: str, access: int) -> bool:
    """Allow ``access`` beneath ``path``; ``False`` if it vanished or cannot be opened."""
    try:
        path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISDIR(os.fstat(path_fd).st_mode):
            access &= FS_READ_FILE  # directory rights on a file are refused (EINVAL)
        rule = _PathBeneathAttr(allowed_access=access, parent_fd=path_fd)
        syscall("landlock_add_rule", ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
    finally:
        os.close(path_fd)
    return True


def restrict_self(ruleset: LandlockRuleset) -> None:
    """Enforce ``ruleset`` on the calling thread (and its future children), then close it.

    Needs ``no_new_privs`` (or ``CAP_SYS_ADMIN``). Raises ``OSError`` if the kernel refuses.
    """
    try:
        syscall("landlock_restrict_self", ruleset.fd, 0)
    finally:
        with contextlib.suppress(OSError):
            os.close(ruleset.fd)


# -- python mode: rules on the filesystem view's mount points (additive) ----------------------
FS_WRITE_FILE: Final = 1 << 1
FS_REMOVE_DIR: Final = 1 << 4
FS_REMOVE_FILE: Final = 1 << 5
FS_MAKE_DIR: Final = 1 << 7
FS_MAKE_REG: Final = 1 << 8
FS_TRUNCATE: Final = 1 << 14
#: Reading beneath a directory.
FS_READ: Final = FS_READ_FILE | FS_READ_DIR
#: Creating, changing and removing regular files and directories; never links, devices,
#: sockets, FIFOs, renames across directories (``REFER``) or execution.
FS_WRITE: Final = (
    FS_WRITE_FILE | FS_REMOVE_DIR | FS_REMOVE_FILE | FS_MAKE_DIR | FS_MAKE_REG | FS_TRUNCATE
)
_FILE_RIGHTS: Final = (1 << 0) | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | (1 << 15)


def add_fd_rule(ruleset: LandlockRuleset, path_fd: int, access: int) -> None:
    """Allow ``access`` beneath the directory (or file) ``path_fd`` refers to (any open fd).

    For rules that must name an inode a path no longer reaches, such as a mount point of the
    filesystem view before something is mounted on it: the rule then covers whatever is
    mounted there later, in any worker. Rights the ruleset does not handle are dropped.
    ``OSError`` if the kernel refuses.
    """
    access &= ruleset.handled_fs
    if not stat.S_ISDIR(os.fstat(path_fd).st_mode):
        access &= _FILE_RIGHTS
    rule = _PathBeneathAttr(allowed_access=access, parent_fd=path_fd)
    syscall("landlock_add_rule", ruleset.fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)


def add_read_paths(ruleset: LandlockRuleset, paths: Iterable[str]) -> tuple[str, ...]:
    """Allow reading beneath each of ``paths`` (python mode's extra reads); those added."""
    added: list[str] = []
    for path in paths:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            add_fd_rule(ruleset, fd, FS_READ)
        finally:
            os.close(fd)
        added.append(path)
    return tuple(added)
