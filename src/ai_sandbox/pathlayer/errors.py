"""The path layer's refusals: one rule name each, with a message a model can act on.

Every refusal is a :class:`~ai_sandbox.exceptions.SecurityError` whose ``rule`` is one of the keys
of :data:`RULES`; the message says what to do instead. Operating-system errors met while doing
an allowed operation are mapped by :func:`os_error` (never a traceback of our internals).
"""

from __future__ import annotations

import errno
from types import MappingProxyType
from typing import Final

from ai_sandbox.exceptions import ResourceLimitExceeded, SandboxError, SecurityError

__all__ = ["RULES", "os_error", "refuse", "shorten"]

_ROOT_HINT: Final = "use a path relative to the project root, e.g. 'data/file.txt'"

#: rule name -> the reason given to the model (``detail`` may be prepended by the caller).
RULES: Final = MappingProxyType(
    {
        "outside_root": f"refused: this path leads outside the project root; {_ROOT_HINT}",
        "home_dir": f"refused: '~' (a home directory) is outside the project root; {_ROOT_HINT}",
        "symlink_escape": (
            "refused: a symbolic link on this path points outside the project root; only links "
            "that stay inside the root are followed"
        ),
        "symlink_loop": (
            "refused: too many symbolic links on this path (a loop?); use the real path"
        ),
        "symlink_write": (
            "refused: this path is a symbolic link and writes never go through a link; "
            "write to the path of its target instead"
        ),
        "deny_pattern": "refused: the policy keeps this path off limits; choose another file",
        "write_deny_pattern": (
            "refused: the policy keeps this path read-only (host tools execute it); write "
            "another file"
        ),
        "invalid_name": "refused: invalid file name",
        "path_too_long": "refused: path too long; use a shorter path",
        "special_file": (
            "refused: not a regular file (device, FIFO or socket); only regular files can be "
            "read or written"
        ),
        "hardlink": (
            "refused: this file has more than one hard link, so its content may live outside "
            "the project root (the policy's allow_hardlinks is off)"
        ),
        "pseudo_filesystem": (
            "refused: this path lies on a pseudo file system (proc, sysfs, cgroup, ...), a live "
            "view of the host system, not project files; choose a project file"
        ),
        "mount_crossing": (
            "refused: this path crosses into another file system mounted beneath the project "
            "root (the policy's allow_mount_crossing is off); use the project's own files"
        ),
        "not_found": (
            "no such file or directory under the project root; list the directory to see what "
            "exists"
        ),
        "is_directory": "this is a directory, not a file; list it to see its contents",
        "not_a_directory": "a component of this path is a file, not a directory",
        "writes_disabled": (
            "refused: writing files is disabled by the sandbox policy (allow_writes is off); "
            "return the content in your answer instead"
        ),
        "not_text": "this file is not UTF-8 text; only text files can be read as text",
        "race": "the path changed while it was being opened; try again",
        "permission_denied": "the operating system denied access to this path",
    }
)

_MAX_SHOWN: Final = 200


def shorten(path: str) -> str:
    """The offending path as shown in a message: capped so a huge path cannot flood it."""
    return path if len(path) <= _MAX_SHOWN else path[:_MAX_SHOWN] + "...(truncated)"


def refuse(rule: str, path: str, detail: str | None = None) -> SecurityError:
    """Build the :class:`SecurityError` for ``rule`` (``detail`` replaces the stock reason)."""
    reason = detail if detail is not None else RULES[rule]
    return SecurityError(reason, path=shorten(path), rule=rule)


def os_error(exc: OSError, path: str, action: str) -> SandboxError:
    """Map an ``OSError`` met while doing ``action`` on ``path`` to our hierarchy."""
    code = exc.errno
    if code == errno.ENOENT:
        return refuse("not_found", path)
    if code == errno.EISDIR:
        return refuse("is_directory", path)
    if code == errno.ENOTDIR:
        return refuse("not_a_directory", path)
    if code in (errno.EACCES, errno.EPERM):
        return refuse("permission_denied", path)
    if code == errno.ELOOP:
        return refuse("race", path)
    if code == errno.EBUSY:  # e.g. a rename over a mount point
        return refuse("mount_crossing", path, "refused: this path is a mount point or busy")
    if code == errno.ENAMETOOLONG:
        return refuse("path_too_long", path)
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return ResourceLimitExceeded(
            "disk",
            f"could not {action} {shorten(path)!r}: {exc.strerror} (disk or file-size limit)",
        )
    return SandboxError(f"could not {action} {shorten(path)!r}: {exc.strerror or exc}")
