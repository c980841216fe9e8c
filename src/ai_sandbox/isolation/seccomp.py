"""seccomp: a classic-BPF filter, assembled here (no libseccomp, no C toolchain).

The filter first kills the process on a foreign system-call ABI (i386 or x32 on x86_64, arm32 on
aarch64), so no call can slip past under another number. Then it refuses, with ``EPERM`` so
Python raises a clean ``PermissionError``:

- process creation: ``execve``, ``execveat``, ``fork``, ``vfork`` and ``clone`` unless it creates
  a thread (``CLONE_THREAD``) without new namespaces; ``clone3`` gets ``ENOSYS`` so libc falls back
  to ``clone``, whose flags a filter can read (``clone3`` passes them in memory);
- reaching other processes: ``ptrace``, ``process_vm_*``, ``pidfd_*``, ``kcmp``, ``move_pages``,
  ``kill`` of a process group or of everything (pid < 0), ``prlimit64`` of another process,
  scheduling and I/O priority calls, System V and POSIX message-queue IPC;
- namespaces and mounts, the new mount API, ``chroot``;
- kernel attack surface: ``bpf``, keyrings, ``userfaultfd``, ``perf_event_open``, ``io_uring``,
  ``modify_ldt``, ``personality``, file handles (``open_by_handle_at``);
- administration: modules, ``kexec``, ``reboot``, swap, ``acct``, clocks, host names;
- ``socket`` and ``socketpair``: the worker's channel is inherited; it never needs a new socket;
- file metadata: ``chmod``/``chown``/``utime`` and extended-attribute changes (Landlock does not
  cover them, so without this a worker could loosen the modes of files its uid owns anywhere);
- watching and anonymous memory files: ``inotify`` (Landlock does not mediate watches: a worker
  could watch the host's file activity outside the root), ``memfd_create`` and ``memfd_secret``
  (shared memory that ``RLIMIT_AS`` does not count), ``statmount``/``listmount``;
- ``timer_create``: a POSIX timer can send the process ``SIGCONT``, undoing the freeze of a
  session's worker between runs (``setitimer`` and ``alarm`` signals cannot resume it).

Everything else is allowed (the filter is a deny list on top of Landlock, rlimits and the uid
drop, not the only wall).
"""

from __future__ import annotations

import ctypes
import errno
import struct
from typing import Final

from ai_sandbox.isolation._syscalls import (
    ARCH,
    CLONE_THREAD,
    NAMESPACE_CLONE_FLAGS,
    Arch,
    prctl,
    syscall,
)

__all__ = ["DENIED_SYSCALLS", "build_filter", "install_filter"]

#: Calls refused outright with ``EPERM`` (those an architecture lacks are skipped).
DENIED_SYSCALLS: Final = (
    # process creation
    "execve",
    "execveat",
    "fork",
    "vfork",
    # other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_open",
    "pidfd_getfd",
    "pidfd_send_signal",
    "process_madvise",
    "process_mrelease",
    "kcmp",
    "move_pages",
    "migrate_pages",
    "setpriority",
    "sched_setparam",
    "sched_setscheduler",
    "sched_setaffinity",
    "sched_setattr",
    "ioprio_set",
    "shmget",
    "shmat",
    "shmctl",
    "shmdt",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    # namespaces and mounts
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "open_tree_attr",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # kernel attack surface
    "bpf",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "perf_event_open",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "modify_ldt",
    "uselib",
    "personality",
    "lookup_dcookie",
    "syslog",
    "fanotify_init",
    "open_by_handle_at",
    "name_to_handle_at",
    "lsm_set_self_attr",
    # administration
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "vhangup",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    # network
    "socket",
    "socketpair",
    # file metadata (Landlock governs reading and writing, not modes, owners or xattrs)
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "setxattrat",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "removexattrat",
    # POSIX timers can deliver SIGCONT: a session's worker would wake itself between runs
    "timer_create",
    # watching files, memory outside RLIMIT_AS, mount listings
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "memfd_create",
    "memfd_secret",
    "statmount",
    "listmount",
)

# Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
_LD_W_ABS: Final = 0x00 | 0x00 | 0x20
_JEQ: Final = 0x05 | 0x10
_JGE: Final = 0x05 | 0x30
_JSET: Final = 0x05 | 0x40
_RET: Final = 0x06
_KILL_PROCESS: Final = 0x80000000
_ERRNO: Final = 0x00050000
_ALLOW: Final = 0x7FFF0000
_EPERM: Final = _ERRNO | errno.EPERM
_ENOSYS: Final = _ERRNO | errno.ENOSYS
# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (little endian).
_OFFSET_NR: Final = 0
_OFFSET_ARCH: Final = 4
_OFFSET_ARG0_LOW: Final = 16
_X32_SYSCALL_BIT: Final = 0x40000000
_SIGN_BIT: Final = 0x80000000

_SECCOMP_SET_MODE_FILTER: Final = 1
_SECCOMP_FILTER_FLAG_TSYNC: Final = 1
_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2

_Insn = tuple[int, int, int, int]


def _load(offset: int) -> _Insn:
    return (_LD_W_ABS, 0, 0, offset)


def _jump(op: int, value: int, if_true: int, if_false: int) -> _Insn:
    return (op, if_true, if_false, value)


def _ret(value: int) -> _Insn:
    return (_RET, 0, 0, value)


def _deny(nr: int, action: int) -> list[_Insn]:
    return [_jump(_JEQ, nr, 0, 1), _ret(action)]


def _clone_rule(nr: int) -> list[_Insn]:
    """Allow ``clone`` only for a thread that creates no namespace (flags are args[0])."""
    return [
        _jump(_JEQ, nr, 0, 5),
        _load(_OFFSET_ARG0_LOW),
        _jump(_JSET, NAMESPACE_CLONE_FLAGS, 2, 0),
        _jump(_JSET, CLONE_THREAD, 0, 1),
        _ret(_ALLOW),
        _ret(_EPERM),
    ]


def _kill_rule(nr: int) -> list[_Insn]:
    """Refuse ``kill`` with pid < 0 (a process group, or -1: every process we may signal)."""
    return [
        _jump(_JEQ, nr, 0, 4),
        _load(_OFFSET_ARG0_LOW),
        _jump(_JSET, _SIGN_BIT, 0, 1),
        _ret(_EPERM),
        _ret(_ALLOW),
    ]


def _prlimit_rule(nr: int) -> list[_Insn]:
    """Allow ``prlimit64`` on the caller itself only (pid 0, what libc's setrlimit passes)."""
    return [
        _jump(_JEQ, nr, 0, 4),
        _load(_OFFSET_ARG0_LOW),
        _jump(_JEQ, 0, 0, 1),
        _ret(_ALLOW),
        _ret(_EPERM),
    ]


def build_filter(arch: Arch | None = None) -> bytes:
    """The worker filter for ``arch`` (default: this machine) as ``struct sock_filter[]`` bytes.

    Raises ``OSError(ENOSYS)`` on an architecture we have no syscall table for.
    """
    arch = arch or ARCH
    if arch is None:
        raise OSError(errno.ENOSYS, "seccomp filters are only built for Linux x86_64/aarch64")
    numbers = arch.numbers
    program: list[_Insn] = [
        _load(_OFFSET_ARCH),
        _jump(_JEQ, arch.audit_arch, 1, 0),
        _ret(_KILL_PROCESS),
        _load(_OFFSET_NR),
    ]
    if arch.x32_bit:
        program += [_jump(_JGE, _X32_SYSCALL_BIT, 0, 1), _ret(_KILL_PROCESS)]
    for name in DENIED_SYSCALLS:
        if name in numbers:
            program += _deny(numbers[name], _EPERM)
    program += _deny(numbers["clone3"], _ENOSYS)
    # The argument rules reload the accumulator, so they come last, each ending in a return.
    program += _clone_rule(numbers["clone"])
    program += _kill_rule(numbers["kill"])
    program += _prlimit_rule(numbers["prlimit64"])
    program.append(_ret(_ALLOW))
    return b"".join(struct.pack("=HBBI", *insn) for insn in program)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install_filter(program: bytes) -> None:
    """Install ``program`` on every thread of the process (``TSYNC``); irreversible.

    Needs ``no_new_privs`` (or ``CAP_SYS_ADMIN``). Raises ``OSError`` if the kernel refuses.
    """
    if not program or len(program) % 8:
        raise OSError(errno.EINVAL, "not a BPF program")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    try:
        syscall(
            "seccomp", _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(fprog)
        )
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise
        prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
