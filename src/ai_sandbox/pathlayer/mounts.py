"""What file system an fd lies on: pseudo file systems are refused, mounts are not crossed.

Two rules, checked on the fd of every object the path layer opens (so nothing is re-resolved):

* **pseudo file systems** (``fstatfs`` magic in :data:`PSEUDO_FILESYSTEMS`: procfs, sysfs, cgroup,
  debugfs, ...) are refused always. Their "regular files" are live views of the *host* process
  and kernel (``proc/self/environ`` would be the host's environment, API keys included), because
  the path layer runs in the host.
* **mount crossing**: an object on another mount than the root (a bind mount, a tmpfs, a FUSE or
  network file system mounted beneath the root) is refused unless the policy's
  ``allow_mount_crossing`` is on. openat2 enforces it with ``RESOLVE_NO_XDEV``; the component walk
  compares each fd's mount id (``statx(STATX_MNT_ID)``) with the root's, or its ``st_dev`` where
  the kernel has no mount ids (which also refuses, safely, an overlay's or a btrfs subvolume's
  other devices).
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from types import MappingProxyType
from typing import Final, NamedTuple

from ai_sandbox.pathlayer.errors import refuse

__all__ = [
    "PSEUDO_FILESYSTEMS",
    "MountGuard",
    "MountSupport",
    "check_not_pseudo",
    "fs_magic",
    "mount_id",
    "support",
]

#: ``f_type`` magic (``<linux/magic.h>``) -> name, for file systems that are views of the
#: running system rather than storage. A path on one of them is never a project file.
PSEUDO_FILESYSTEMS: Final = MappingProxyType(
    {
        0x9FA0: "proc",
        0x62656572: "sysfs",
        0x64626720: "debugfs",
        0x74726163: "tracefs",
        0x73636673: "securityfs",
        0x27E0EB: "cgroup",
        0x63677270: "cgroup2",
        0x62656570: "configfs",
        0xDE5E81E4: "efivarfs",
        0xF97CFF8C: "selinuxfs",
        0x43415D53: "smackfs",
        0xCAFE4A11: "bpf",
        0x1CD1: "devpts",
        0x6165676C: "pstore",
        0x65735543: "fusectl",
        0x958458F6: "hugetlbfs",
        0x19800202: "mqueue",
        0x42494E4D: "binfmt_misc",
        0x6E736673: "nsfs",
        0x0187: "autofs",
        0x7655821: "resctrl",
        0x50494446: "pidfs",
        0x09041934: "anon_inodefs",
        0x50495045: "pipefs",
        0x534F434B: "sockfs",
        0x62646576: "bdev",
        0x454D444D: "devmem",
        0x444D4142: "dmabuf",
        0x5345434D: "secretmem",
        0xABBA1974: "xenfs",
        0x9FA1: "openpromfs",
        0x9FA2: "usbdevfs",
        0xAEE71EE7: "gadgetfs",
        0xA0B4D889: "functionfs",
    }
)

_STATFS_SIZE: Final = 256  # struct statfs is 120 bytes on 64-bit Linux; f_type comes first
_AT_EMPTY_PATH: Final = 0x1000
_STATX_MNT_ID: Final = 0x1000
_STATX_SIZE: Final = 256
_STX_MASK: Final = 0  # u32 stx_mask at offset 0
_STX_MNT_ID: Final = 0x90  # u64 stx_mnt_id


@functools.cache
def _libc_function(name: str) -> Callable[..., int] | None:
    """A libc function by name (errno captured), or None where there is none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    func: Callable[..., int] | None = getattr(libc, name, None)
    return func


def fs_magic(fd: int) -> int:
    """The ``f_type`` of the file system ``fd`` lies on (``fstatfs``); ``OSError`` on failure."""
    func = _libc_function("fstatfs")
    if func is None:
        raise OSError(38, "fstatfs is not available here")  # ENOSYS: refused by the caller
    buf = ctypes.create_string_buffer(_STATFS_SIZE)
    if func(ctypes.c_int(fd), buf) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


def check_not_pseudo(fd: int, raw: str) -> None:
    """Refuse (``rule="pseudo_filesystem"``) an fd on a pseudo file system; fails closed."""
    try:
        magic = fs_magic(fd)
    except OSError:
        raise refuse(
            "pseudo_filesystem", raw, "refused: the file system of this path cannot be checked"
        ) from None
    name = PSEUDO_FILESYSTEMS.get(magic)
    if name is not None:
        raise refuse(
            "pseudo_filesystem",
            raw,
            f"refused: this path lies on a {name} file system, a live view of the host system, "
            "not project files; choose a project file",
        )


def mount_id(fd: int) -> int | None:
    """The id of the mount ``fd`` lies on (``statx``), or None where the kernel cannot say."""
    func = _libc_function("statx")
    if func is None:
        return None
    buf = ctypes.create_string_buffer(_STATX_SIZE)
    done = func(
        ctypes.c_int(fd),
        ctypes.c_char_p(b""),
        ctypes.c_int(_AT_EMPTY_PATH),
        ctypes.c_uint(_STATX_MNT_ID),
        buf,
    )
    if done != 0 or not ctypes.c_uint32.from_buffer(buf, _STX_MASK).value & _STATX_MNT_ID:
        return None
    return int(ctypes.c_uint64.from_buffer(buf, _STX_MNT_ID).value)


class MountGuard:
    """Refuse fds that lie on another mount than the root's (``rule="mount_crossing"``)."""

    def __init__(self, root_fd: int, *, use_mount_ids: bool = True) -> None:
        """``use_mount_ids=False`` (for tests) compares devices only, as on kernels before 5.8."""
        self._mount = mount_id(root_fd) if use_mount_ids else None
        self._dev = os.fstat(root_fd).st_dev

    def check(self, fd: int, st: os.stat_result, raw: str) -> None:
        """Refuse ``fd`` (whose ``fstat`` is ``st``) unless it is on the root's mount."""
        # Without mount ids, another device counts as another mount (fail closed).
        same = st.st_dev == self._dev if self._mount is None else mount_id(fd) == self._mount
        if not same:
            raise refuse("mount_crossing", raw)


class MountSupport(NamedTuple):
    """How this machine lets the path layer tell file systems and mounts apart (for doctor)."""

    #: ``fstatfs`` works: pseudo file systems are recognised (without it every open is refused).
    fstatfs: bool
    #: ``statx(STATX_MNT_ID)`` works: bind mounts of the same device are told apart; without it
    #: the walk compares ``st_dev`` (and misses a bind mount of the root's own file system).
    mount_ids: bool


def support(path: str = "/") -> MountSupport:
    """What :class:`MountSupport` says about this machine, probed on ``path``."""
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        try:
            fs_magic(fd)
        except OSError:
            fstatfs = False
        else:
            fstatfs = True
        return MountSupport(fstatfs=fstatfs, mount_ids=mount_id(fd) is not None)
    finally:
        os.close(fd)
