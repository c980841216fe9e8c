"""Thin ctypes doors to the Linux calls Python 3.11 does not wrap (no C toolchain needed).

Every wrapper raises :class:`OSError` with the kernel's errno on failure, like :mod:`os` does.
Syscall numbers are listed per architecture (x86_64 and aarch64); calls numbered 424 and up
share one number on every architecture.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

__all__ = [
    "ARCH",
    "CLONE_NEWNET",
    "CLONE_NEWUSER",
    "CLONE_THREAD",
    "NAMESPACE_CLONE_FLAGS",
    "Arch",
    "CapabilitySets",
    "capget",
    "capset",
    "clearenv",
    "prctl",
    "syscall",
    "unshare",
]

_LIBC: Final = ctypes.CDLL(None, use_errno=True)

# clone/unshare flags (linux/sched.h).
CLONE_THREAD: Final = 0x00010000
CLONE_NEWNS: Final = 0x00020000
CLONE_NEWCGROUP: Final = 0x02000000
CLONE_NEWUTS: Final = 0x04000000
CLONE_NEWIPC: Final = 0x08000000
CLONE_NEWUSER: Final = 0x10000000
CLONE_NEWPID: Final = 0x20000000
CLONE_NEWNET: Final = 0x40000000
CLONE_NEWTIME: Final = 0x00000080
#: Every flag that makes clone/unshare create a namespace.
NAMESPACE_CLONE_FLAGS: Final = (
    CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWTIME
)

# Calls 424 and above have the same number on every architecture (asm-generic unification).
_UNIFIED: Final = {
    "pidfd_send_signal": 424,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_open": 434,
    "clone3": 435,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
    "quotactl_fd": 443,
    "landlock_create_ruleset": 444,
    "landlock_add_rule": 445,
    "landlock_restrict_self": 446,
    "process_mrelease": 448,
    "memfd_secret": 447,  # nosec B105  # a system call's name, not a secret
    "set_mempolicy_home_node": 450,
    "fchmodat2": 452,
    "statmount": 457,
    "listmount": 458,
    "lsm_set_self_attr": 460,
    "setxattrat": 463,
    "removexattrat": 466,
    "open_tree_attr": 467,
}

# From asm/unistd_64.h (x86_64) and asm-generic/unistd.h (aarch64). Calls an architecture
# lacks (fork, vfork, modify_ldt... on aarch64) are simply absent.
_X86_64: Final = {
    "ioctl": 16,
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "socket": 41,
    "sendto": 44,
    "recvfrom": 45,
    "sendmsg": 46,
    "recvmsg": 47,
    "socketpair": 53,
    "clone": 56,
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "kill": 62,
    "rt_sigqueueinfo": 129,
    "tkill": 200,
    "tgkill": 234,
    "rt_tgsigqueueinfo": 297,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "shmdt": 67,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "fcntl": 72,
    "chmod": 90,
    "fchmod": 91,
    "chown": 92,
    "fchown": 93,
    "lchown": 94,
    "ptrace": 101,
    "syslog": 103,
    "capget": 125,
    "capset": 126,
    "utime": 132,
    "uselib": 134,
    "personality": 135,
    "setpriority": 141,
    "sched_setparam": 142,
    "sched_setscheduler": 144,
    "vhangup": 153,
    "modify_ldt": 154,
    "pivot_root": 155,
    "prctl": 157,
    "adjtimex": 159,
    "chroot": 161,
    "sync": 162,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "setxattr": 188,
    "lsetxattr": 189,
    "fsetxattr": 190,
    "removexattr": 197,
    "lremovexattr": 198,
    "fremovexattr": 199,
    "sched_setaffinity": 203,
    "io_setup": 206,
    "io_destroy": 207,
    "io_getevents": 208,
    "io_submit": 209,
    "io_cancel": 210,
    "lookup_dcookie": 212,
    "semtimedop": 220,
    "timer_create": 222,
    "clock_settime": 227,
    "utimes": 235,
    "mbind": 237,
    "set_mempolicy": 238,
    "mq_open": 240,
    "mq_unlink": 241,
    "mq_timedsend": 242,
    "mq_timedreceive": 243,
    "mq_notify": 244,
    "mq_getsetattr": 245,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "ioprio_set": 251,
    "inotify_init": 253,
    "inotify_add_watch": 254,
    "migrate_pages": 256,
    "fchownat": 260,
    "futimesat": 261,
    "fchmodat": 268,
    "unshare": 272,
    "splice": 275,
    "tee": 276,
    "vmsplice": 278,
    "move_pages": 279,
    "utimensat": 280,
    "inotify_init1": 294,
    "perf_event_open": 298,
    "recvmmsg": 299,
    "fanotify_init": 300,
    "prlimit64": 302,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "syncfs": 306,
    "sendmmsg": 307,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "sched_setattr": 314,
    "seccomp": 317,
    "memfd_create": 319,
    "kexec_file_load": 320,
    "bpf": 321,
    "execveat": 322,
    "userfaultfd": 323,
    "io_pgetevents": 333,
}

_AARCH64: Final = {
    "io_setup": 0,
    "io_destroy": 1,
    "io_submit": 2,
    "io_cancel": 3,
    "io_getevents": 4,
    "setxattr": 5,
    "lsetxattr": 6,
    "fsetxattr": 7,
    "removexattr": 14,
    "lremovexattr": 15,
    "fremovexattr": 16,
    "lookup_dcookie": 18,
    "fcntl": 25,
    "inotify_init1": 26,
    "inotify_add_watch": 27,
    "ioctl": 29,
    "ioprio_set": 30,
    "umount2": 39,
    "mount": 40,
    "pivot_root": 41,
    "chroot": 51,
    "fchmod": 52,
    "fchmodat": 53,
    "fchownat": 54,
    "fchown": 55,
    "vhangup": 58,
    "quotactl": 60,
    "vmsplice": 75,
    "splice": 76,
    "tee": 77,
    "sync": 81,
    "utimensat": 88,
    "acct": 89,
    "capget": 90,
    "capset": 91,
    "personality": 92,
    "unshare": 97,
    "kexec_load": 104,
    "init_module": 105,
    "delete_module": 106,
    "timer_create": 107,
    "clock_settime": 112,
    "syslog": 116,
    "ptrace": 117,
    "sched_setparam": 118,
    "sched_setscheduler": 119,
    "sched_setaffinity": 122,
    "kill": 129,
    "tkill": 130,
    "tgkill": 131,
    "rt_sigqueueinfo": 138,
    "rt_tgsigqueueinfo": 240,
    "setpriority": 140,
    "reboot": 142,
    "sethostname": 161,
    "setdomainname": 162,
    "prctl": 167,
    "settimeofday": 170,
    "adjtimex": 171,
    "mq_open": 180,
    "mq_unlink": 181,
    "mq_timedsend": 182,
    "mq_timedreceive": 183,
    "mq_notify": 184,
    "mq_getsetattr": 185,
    "msgget": 186,
    "msgctl": 187,
    "msgrcv": 188,
    "msgsnd": 189,
    "semget": 190,
    "semctl": 191,
    "semtimedop": 192,
    "semop": 193,
    "shmget": 194,
    "shmctl": 195,
    "shmat": 196,
    "shmdt": 197,
    "socket": 198,
    "socketpair": 199,
    "sendto": 206,
    "recvfrom": 207,
    "sendmsg": 211,
    "recvmsg": 212,
    "add_key": 217,
    "request_key": 218,
    "keyctl": 219,
    "clone": 220,
    "execve": 221,
    "swapon": 224,
    "swapoff": 225,
    "mbind": 235,
    "set_mempolicy": 237,
    "migrate_pages": 238,
    "move_pages": 239,
    "perf_event_open": 241,
    "recvmmsg": 243,
    "prlimit64": 261,
    "fanotify_init": 262,
    "name_to_handle_at": 264,
    "open_by_handle_at": 265,
    "clock_adjtime": 266,
    "syncfs": 267,
    "setns": 268,
    "sendmmsg": 269,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kcmp": 272,
    "finit_module": 273,
    "sched_setattr": 274,
    "seccomp": 277,
    "memfd_create": 279,
    "bpf": 280,
    "execveat": 281,
    "userfaultfd": 282,
    "io_pgetevents": 292,
    "kexec_file_load": 294,
}


@dataclass(frozen=True, slots=True)
class Arch:
    """One CPU architecture's system-call ABI, as seccomp sees it."""

    name: str
    #: ``AUDIT_ARCH_*`` value the kernel puts in ``seccomp_data.arch``.
    audit_arch: int
    #: Syscall name -> number for this ABI.
    numbers: MappingProxyType[str, int]
    #: x86_64 also accepts x32 calls (``nr | 0x40000000``) under the same audit arch.
    x32_bit: bool


def _arch(name: str, audit_arch: int, table: dict[str, int], *, x32_bit: bool) -> Arch:
    return Arch(name, audit_arch, MappingProxyType({**table, **_UNIFIED}), x32_bit)


_ARCHES: Final = MappingProxyType(
    {
        "x86_64": _arch("x86_64", 0xC000003E, _X86_64, x32_bit=True),
        "aarch64": _arch("aarch64", 0xC00000B7, _AARCH64, x32_bit=False),
    }
)

#: The architecture this interpreter runs on, or ``None`` off Linux / on an unsupported CPU.
ARCH: Final[Arch | None] = (
    _ARCHES.get(platform.machine()) if sys.platform == "linux" and sys.maxsize > 2**32 else None
)


def _c_function(name: str, restype: type, argtypes: list[type] | None) -> Any:
    """A libc function with its C signature declared once (``None`` if libc lacks it)."""
    func = getattr(_LIBC, name, None)
    if func is not None:
        func.restype = restype
        if argtypes is not None:
            func.argtypes = argtypes
    return func


_SYSCALL: Final = _c_function("syscall", ctypes.c_long, None)
_PRCTL: Final = _c_function("prctl", ctypes.c_int, [ctypes.c_int] + [ctypes.c_ulong] * 4)
_UNSHARE: Final = _c_function("unshare", ctypes.c_int, [ctypes.c_int])
_CLEARENV: Final = _c_function("clearenv", ctypes.c_int, [])


def _checked(result: int) -> int:
    if result == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def _missing(name: str) -> OSError:
    return OSError(38, f"{name} is not available on this platform")  # ENOSYS


def syscall(name: str, *args: object) -> int:
    """Call a Linux system call by name on this architecture; ``OSError`` on failure.

    Integer arguments are passed as C ``long``; pass pointers as ``ctypes.byref(...)``.
    """
    if ARCH is None or _SYSCALL is None or name not in ARCH.numbers:
        raise _missing(name)
    c_args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return _checked(int(_SYSCALL(ctypes.c_long(ARCH.numbers[name]), *c_args)))


def clearenv() -> None:
    """Empty the C library's ``environ`` (where libc offers ``clearenv``)."""
    if _CLEARENV is not None:
        _CLEARENV()


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """``prctl(2)``; ``OSError`` on failure."""
    if _PRCTL is None:
        raise _missing("prctl")
    return _checked(int(_PRCTL(option, arg2, arg3, arg4, arg5)))


def unshare(flags: int) -> None:
    """``unshare(2)`` (``os.unshare`` only exists from Python 3.12)."""
    if _UNSHARE is None:
        raise _missing("unshare")
    _checked(int(_UNSHARE(flags)))


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


_CAP_VERSION_3: Final = 0x20080522


@dataclass(frozen=True, slots=True)
class CapabilitySets:
    """The calling thread's capability sets, as 64-bit masks."""

    effective: int
    permitted: int
    inheritable: int


def capget() -> CapabilitySets:
    """The calling thread's effective, permitted and inheritable capabilities."""
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    syscall("capget", ctypes.byref(header), ctypes.byref(data))
    return CapabilitySets(
        effective=data[0].effective | data[1].effective << 32,
        permitted=data[0].permitted | data[1].permitted << 32,
        inheritable=data[0].inheritable | data[1].inheritable << 32,
    )


def capset(sets: CapabilitySets) -> None:
    """Set the calling thread's capabilities (lowering is always allowed)."""
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    for index, shift in enumerate((0, 32)):
        data[index].effective = (sets.effective >> shift) & 0xFFFFFFFF
        data[index].permitted = (sets.permitted >> shift) & 0xFFFFFFFF
        data[index].inheritable = (sets.inheritable >> shift) & 0xFFFFFFFF
    syscall("capset", ctypes.byref(header), ctypes.byref(data))
