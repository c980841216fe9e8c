"""seccomp: a classic-BPF filter, assembled here (no libseccomp, no C toolchain).

The filter first kills the process on a foreign system-call ABI (i386 or x32 on x86_64, arm32 on
aarch64), so no call can slip past under another number. Then it refuses, with ``EPERM`` so
Python raises a clean ``PermissionError``:

- process creation: ``execve``, ``execveat``, ``fork``, ``vfork`` and ``clone`` unless it creates
  a thread (``CLONE_THREAD``) without new namespaces; ``clone3`` gets ``ENOSYS`` so libc falls back
  to ``clone``, whose flags a filter can read (``clone3`` passes them in memory);
- reaching other processes: ``ptrace``, ``process_vm_*``, ``pidfd_*``, ``kcmp``, ``move_pages``,
  a signal to any process but the worker itself (``kill``, ``tkill``, ``tgkill``,
  ``rt_sigqueueinfo``, ``rt_tgsigqueueinfo``: the zygote builds the filter with
  :data:`PID_PLACEHOLDER`, each worker puts its pid in with :func:`with_pid`; built without a
  pid, only ``kill`` of a process group or of everything), ``prlimit64`` of another process,
  scheduling and I/O priority calls, System V and POSIX message-queue IPC;
- namespaces and mounts, the new mount API, ``chroot``;
- kernel attack surface: ``bpf``, keyrings, ``userfaultfd``, ``perf_event_open``, ``io_uring``,
  native AIO, ``modify_ldt``, ``personality``, file handles (``open_by_handle_at``);
- machine-wide budgets and shared kernel objects: native AIO contexts (``fs.aio-max-nr``), pipe
  resizing, whole-machine writeback (``sync``), NUMA policy, page splicing;
- administration: modules, ``kexec``, ``reboot``, swap, ``acct``, clocks, host names;
- ``socket`` and ``socketpair``: the worker's channel is inherited; it never needs a new socket;
- file metadata: ``chmod``/``chown``/``utime`` and extended-attribute changes (Landlock does not
  cover them, so without this a worker could loosen the modes of files its uid owns anywhere);
- watching and anonymous memory files: ``inotify`` (Landlock does not mediate watches: a worker
  could watch the host's file activity outside the root), ``memfd_create`` and ``memfd_secret``
  (shared memory that ``RLIMIT_AS`` does not count), ``statmount``/``listmount``;
- ``timer_create``: a POSIX timer can send the process ``SIGCONT``, undoing the freeze of a
  session's worker between runs (``setitimer`` and ``alarm`` signals cannot resume it).

Some calls are judged by their arguments (the filter reads the low 32 bits of an argument; every
argument judged here is a C ``int``/``unsigned int`` or rejected by the kernel when its high bits
are set):

- ``prctl``: an allow-list of options (queries, naming the thread or its memory, adding seccomp
  filters or ``no_new_privs``); ``PR_SET_PDEATHSIG`` only with ``SIGKILL`` (a worker can never
  clear or weaken the signal that kills it with its zygote) and ``PR_SET_DUMPABLE`` only with 0;
  every other option is refused (:data:`ALLOWED_PRCTL_OPTIONS`);
- ``fcntl``: ``F_SETPIPE_SZ`` (pipe memory is a per-user budget every worker shares),
  ``F_NOTIFY`` (directory watches, as with inotify), ``F_SETLEASE`` (blocks other openers of a
  file), and ``F_SETOWN``/``F_SETOWN_EX``/``F_SETSIG`` (signals sent to another process);
- ``ioctl``: ``TIOCSTI``/``TIOCLINUX`` (typing into a terminal) and ``FIOSETOWN``/``SIOCSPGRP``;
- ``sendto``/``sendmsg``/``sendmmsg``/``recvfrom``/``recvmsg``/``recvmmsg`` with ``MSG_OOB``:
  out-of-band data on unix sockets is rarely used kernel code with a history of use-after-free
  bugs reached from sandboxes (CVE-2025-38236); the channel never needs it.

Everything else is allowed (the filter is a deny list on top of Landlock, rlimits and the uid
drop, not the only wall). The program finds a call's rule by a binary search on its number
(:func:`._bpf.dispatch`), so its cost does not grow with the lists: about 20 instructions per
call instead of up to 390 for a linear list, and a cheaper install (the kernel runs the filter
for every call number then, to cache the calls it always allows).

Calls a worker may keep, after review: ``mlock*`` (``RLIMIT_MEMLOCK``
is 0 and no capability remains), ``pipe2`` (pipes cost open files, bounded by ``RLIMIT_NOFILE``,
and cannot grow), ``epoll``/``eventfd``/``timerfd``/``signalfd`` (descriptors, bounded the same
way), ``flock``/``fcntl`` record locks (only on files the worker may open, released when it
dies), ``landlock_*`` and ``seccomp`` (they can only restrict the caller further),
``membarrier``, ``get_mempolicy``, ``sched_get*``, ``getpriority``.
"""

from __future__ import annotations

import ctypes
import errno
import struct
from collections.abc import Mapping
from typing import Final

from ai_sandbox.isolation import _bpf as bpf
from ai_sandbox.isolation._syscalls import (
    ARCH,
    CLONE_THREAD,
    NAMESPACE_CLONE_FLAGS,
    Arch,
    prctl,
    syscall,
)

__all__ = [
    "ALLOWED_PRCTL_OPTIONS",
    "CONDITIONAL_PRCTL_OPTIONS",
    "DENIED_FCNTL_COMMANDS",
    "DENIED_IOCTL_REQUESTS",
    "DENIED_SYSCALLS",
    "FORK_CLONE_FLAGS",
    "MSG_OOB",
    "PID_PLACEHOLDER",
    "SIGNAL_CALLS",
    "ZYGOTE_NEEDS",
    "PreparedFilter",
    "build_filter",
    "build_worker_stack",
    "build_zygote_filter",
    "install_filter",
    "with_pid",
]

#: Calls refused outright with ``EPERM`` (those an architecture lacks are skipped).
DENIED_SYSCALLS: Final = (
    # process creation: the worker runs one interpreter, forever alone
    "execve",
    "execveat",
    "fork",
    "vfork",
    # other processes: reading or steering them, and kernel objects shared with them
    # (System V IPC and POSIX message queues are machine-wide namespaces with machine-wide
    # budgets: kernel.shmall/msgmni/sem, fs.mqueue.*); priorities that would take CPU or I/O
    # from the host (setpriority can only lower without CAP_SYS_NICE, but nothing needs it)
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
    # namespaces and mounts, including the new mount API (fsopen family)
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
    # kernel attack surface: rarely used kernel code reachable without privileges
    # (keyrings also hold a per-user quota shared by every worker of the uid)
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
    # machine-wide budgets: native AIO contexts count against fs.aio-max-nr for the whole
    # machine (one worker could take all of it, and a frozen session keep it)
    "io_setup",
    "io_destroy",
    "io_submit",
    "io_cancel",
    "io_getevents",
    "io_pgetevents",
    # writeback of every dirty page on the machine (or a whole filesystem): I/O storms
    "sync",
    "syncfs",
    # NUMA placement: memory policy and page moves (migrate_pages/move_pages above)
    "mbind",
    "set_mempolicy",
    "set_mempolicy_home_node",
    # moving pages between pipes and memory (pins pages; the Dirty Pipe bug class); pipes
    # themselves stay (bounded by RLIMIT_NOFILE; F_SETPIPE_SZ is refused by argument below)
    "splice",
    "tee",
    "vmsplice",
    # administration (most need capabilities the worker lacks: refused here as well)
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
    # network: the channel is inherited, nothing else is needed (MSG_OOB: see below)
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

# -- calls judged by an argument ------------------------------------------------------------

_PR_SET_PDEATHSIG: Final = 1
_PR_SET_DUMPABLE: Final = 4
#: ``prctl`` options a worker may use with any arguments: queries, naming its thread or memory,
#: and changes that only restrict it further. Everything else is refused, among them
#: ``PR_SET_PTRACER`` (Yama: let a process trace us), ``PR_SET_CHILD_SUBREAPER``, ``PR_SET_MM``,
#: ``PR_SET_KEEPCAPS``/``PR_SET_SECUREBITS``/``PR_CAPBSET_DROP``, ``PR_SET_SPECULATION_CTRL``,
#: ``PR_SCHED_CORE`` (shares core-scheduling cookies with other processes),
#: ``PR_SET_IO_FLUSHER``, ``PR_SET_SYSCALL_USER_DISPATCH``, ``PR_SET_TSC``, ``PR_MCE_KILL``,
#: ``PR_SET_THP_DISABLE``/``PR_SET_MEMORY_MERGE``, ``PR_TASK_PERF_EVENTS_*`` and options newer
#: than this list (deny by default).
ALLOWED_PRCTL_OPTIONS: Final = (
    2,  # PR_GET_PDEATHSIG
    3,  # PR_GET_DUMPABLE
    5,  # PR_GET_UNALIGN
    7,  # PR_GET_KEEPCAPS
    9,  # PR_GET_FPEMU
    11,  # PR_GET_FPEXC
    13,  # PR_GET_TIMING
    15,  # PR_SET_NAME (the calling thread's name)
    16,  # PR_GET_NAME
    19,  # PR_GET_ENDIAN
    21,  # PR_GET_SECCOMP
    22,  # PR_SET_SECCOMP (another filter can only refuse more)
    23,  # PR_CAPBSET_READ
    25,  # PR_GET_TSC
    27,  # PR_GET_SECUREBITS
    29,  # PR_SET_TIMERSLACK (its own timers)
    30,  # PR_GET_TIMERSLACK
    34,  # PR_MCE_KILL_GET
    37,  # PR_GET_CHILD_SUBREAPER
    38,  # PR_SET_NO_NEW_PRIVS (irreversible, only restricts)
    39,  # PR_GET_NO_NEW_PRIVS
    40,  # PR_GET_TID_ADDRESS
    42,  # PR_GET_THP_DISABLE
    46,  # PR_GET_FP_MODE
    47,  # PR_CAP_AMBIENT (no capability remains to raise: it can only query or clear)
    51,  # PR_SVE_GET_VL
    52,  # PR_GET_SPECULATION_CTRL
    56,  # PR_GET_TAGGED_ADDR_CTRL
    58,  # PR_GET_IO_FLUSHER
    64,  # PR_SME_GET_VL
    65,  # PR_SET_MDWE (forbids writable+executable mappings: only restricts)
    66,  # PR_GET_MDWE
    68,  # PR_GET_MEMORY_MERGE
    74,  # PR_GET_SHADOW_STACK_STATUS
    0x53564D41,  # PR_SET_VMA (names its own anonymous memory; glibc's malloc may)
    0x41555856,  # PR_GET_AUXV
)
#: ``prctl`` options allowed with one value only: ``(argument index, value)``. The parent-death
#: signal stays SIGKILL (clearing or changing it would let a worker outlive a killed zygote);
#: dumpable stays off (on, it would let processes of the worker's uid trace it and read its
#: ``/proc`` files).
CONDITIONAL_PRCTL_OPTIONS: Final = {
    _PR_SET_PDEATHSIG: (1, 9),  # SIGKILL
    _PR_SET_DUMPABLE: (1, 0),
}
#: ``fcntl`` commands refused: F_SETLEASE (a lease blocks every other opener of the file for
#: lease-break-time), F_NOTIFY (dnotify: watching directories, like inotify), F_SETPIPE_SZ (pipe
#: memory is a per-user budget, fs.pipe-user-pages-*, shared by every worker of the uid),
#: F_SETOWN/F_SETOWN_EX/F_SETSIG (I/O signals delivered to another process).
DENIED_FCNTL_COMMANDS: Final = (1024, 1026, 1031, 8, 15, 10)
#: ``ioctl`` requests refused on any descriptor: TIOCSTI and TIOCLINUX (typing into, or
#: driving, a terminal the worker might hold), FIOSETOWN and SIOCSPGRP (as F_SETOWN).
DENIED_IOCTL_REQUESTS: Final = (0x5412, 0x541C, 0x8901, 0x8902)
#: ``MSG_OOB``: out-of-band data on unix stream sockets is rarely used kernel code with a record
#: of use-after-free bugs reachable from sandboxes (CVE-2025-38236); the channel never needs it.
MSG_OOB: Final = 0x1
#: Socket calls and the index of their ``flags`` argument.
_SOCKET_FLAG_ARGUMENT: Final = (
    ("sendto", 3),
    ("recvfrom", 3),
    ("sendmsg", 2),
    ("recvmsg", 2),
    ("sendmmsg", 3),
    ("recvmmsg", 3),
)

# -- the program -----------------------------------------------------------------------------

_X32_SYSCALL_BIT: Final = 0x40000000
_SIGN_BIT: Final = 0x80000000

_SECCOMP_SET_MODE_FILTER: Final = 1
_SECCOMP_FILTER_FLAG_TSYNC: Final = 1
_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2


#: Stands for the worker's pid in a filter built before the worker exists (in the zygote);
#: :func:`with_pid` puts the real one in. Above any ``pid_max`` (at most 2**22): it never
#: names a process.
PID_PLACEHOLDER: Final = 0x7FFFFFF0


def _clone_rule(nr: int) -> list[bpf.Insn]:
    """Allow ``clone`` only for a thread that creates no namespace (flags are args[0])."""
    return [
        bpf.jump(bpf.JEQ, nr, 0, 5),
        bpf.load_arg(0),
        bpf.jump(bpf.JSET, NAMESPACE_CLONE_FLAGS, 2, 0),
        bpf.jump(bpf.JSET, CLONE_THREAD, 0, 1),
        bpf.ret(bpf.ALLOW),
        bpf.ret(bpf.EPERM),
    ]


def _kill_rule(nr: int) -> list[bpf.Insn]:
    """Refuse ``kill`` with pid < 0 (a process group, or -1: every process we may signal)."""
    return bpf.deny_flags(nr, 0, _SIGN_BIT)


def _prlimit_rule(nr: int) -> list[bpf.Insn]:
    """Allow ``prlimit64`` on the caller itself only (pid 0, what libc's setrlimit passes)."""
    return bpf.allow_values(nr, 0, (0,), only_with={})


#: Mode and time changes, allowed only to a worker whose filesystem view leaves nothing of the
#: host's writable (python mode: read-only mounts, a private overlay and ``/tmp``).
FILE_MODE_SYSCALLS: frozenset[str] = frozenset(
    {"chmod", "fchmod", "fchmodat", "fchmodat2", "utime", "utimes", "futimesat", "utimensat"}
)


def build_filter(
    arch: Arch | None = None, *, pid: int | None = None, file_modes: bool = False
) -> bytes:
    """The worker filter for ``arch`` (default: this machine) as ``struct sock_filter[]`` bytes.

    ``file_modes`` allows :data:`FILE_MODE_SYSCALLS` (only for a worker inside a filesystem
    view whose every host path is a read-only mount); owners and xattrs stay refused.

    With ``pid`` (or :data:`PID_PLACEHOLDER`, see :func:`with_pid`) the process may signal
    only itself; without it, any process but a group (the filter alone, for tests and probes).

    Raises ``OSError(ENOSYS)`` on an architecture we have no syscall table for.
    """
    arch = _arch(arch)
    numbers = arch.numbers
    denied = [n for n in DENIED_SYSCALLS if not (file_modes and n in FILE_MODE_SYSCALLS)]
    rules = [
        _clone_rule(numbers["clone"]),
        *(_signal_rules(numbers, pid) if pid is not None else [_kill_rule(numbers["kill"])]),
        *_common_rules(numbers),
    ]
    return _program(arch, denied, rules)


#: What a locked zygote needs that its workers must not have (:func:`build_zygote_filter`).
ZYGOTE_NEEDS: Final = ("socketpair", "pidfd_open")
#: ``clone`` flags of a plain ``fork()`` (glibc's, on every architecture we build for):
#: the only ``clone`` a locked zygote may make (no thread, no namespace, no shared memory).
FORK_CLONE_FLAGS: Final = 0x01200011  # CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD


def build_zygote_filter(arch: Arch | None = None) -> bytes:
    """The filter a locked zygote installs on itself, once; every worker inherits it.

    It is the worker filter with the zygote's own needs added back: ``socketpair`` (a
    worker's channel), ``pidfd_open`` (the host's handle on it), ``clone`` with exactly
    :data:`FORK_CLONE_FLAGS` (a fork: never a thread, so the zygote stays single-threaded and
    safe to fork without CPython's after-fork work) and signals to other processes (killing its
    workers; Landlock's signal scope and the uid still bound whom). Each worker stacks
    :func:`build_worker_stack` on top, which takes exactly those back: the two filters together
    allow a worker no more than :func:`build_filter` with its pid.
    """
    arch = _arch(arch)
    numbers = arch.numbers
    denied = [n for n in DENIED_SYSCALLS if n not in ZYGOTE_NEEDS]
    rules = [
        bpf.allow_values(numbers["clone"], 0, (FORK_CLONE_FLAGS,), only_with={}),
        *_common_rules(numbers),
    ]
    return _program(arch, denied, rules)


def build_worker_stack(arch: Arch | None = None, *, pid: int = PID_PLACEHOLDER) -> bytes:
    """The small filter a locked zygote's worker stacks on the zygote's (:func:`with_pid`
    puts the worker's pid in): no ``clone`` at all (no process, no thread), no ``socketpair``
    or ``pidfd_open``, and signals only to itself. Short, so installing it is cheap (the kernel
    runs a new filter for every call number at install time, to cache what it always allows).
    """
    arch = _arch(arch)
    numbers = arch.numbers
    denied = [*ZYGOTE_NEEDS, "clone"]
    return _program(arch, denied, _signal_rules(numbers, pid))


def _arch(arch: Arch | None) -> Arch:
    arch = arch or ARCH
    if arch is None:
        raise OSError(errno.ENOSYS, "seccomp filters are only built for Linux x86_64/aarch64")
    return arch


def _common_rules(numbers: Mapping[str, int]) -> list[list[bpf.Insn]]:
    """The argument rules the worker and the zygote filter share."""
    return [
        _prlimit_rule(numbers["prlimit64"]),
        bpf.allow_values(
            numbers["prctl"], 0, ALLOWED_PRCTL_OPTIONS, only_with=CONDITIONAL_PRCTL_OPTIONS
        ),
        bpf.deny_values(numbers["fcntl"], 1, DENIED_FCNTL_COMMANDS),
        bpf.deny_values(numbers["ioctl"], 1, DENIED_IOCTL_REQUESTS),
        *(bpf.deny_flags(numbers[name], arg, MSG_OOB) for name, arg in _SOCKET_FLAG_ARGUMENT),
    ]


def _program(arch: Arch, denied: list[str], rules: list[list[bpf.Insn]]) -> bytes:
    """Kill on a foreign ABI; ``denied`` get EPERM, ``clone3`` ENOSYS, each rule its own
    checks; everything else is allowed."""
    numbers = arch.numbers
    program: list[bpf.Insn] = [
        bpf.load(bpf.OFFSET_ARCH),
        bpf.jump(bpf.JEQ, arch.audit_arch, 1, 0),
        bpf.ret(bpf.KILL_PROCESS),
        bpf.load(bpf.OFFSET_NR),
    ]
    if arch.x32_bit:
        program += [bpf.jump(bpf.JGE, _X32_SYSCALL_BIT, 0, 1), bpf.ret(bpf.KILL_PROCESS)]
    targets: dict[int, bpf.Target] = {
        numbers[name]: bpf.EPERM for name in denied if name in numbers
    }
    targets[numbers["clone3"]] = bpf.ENOSYS
    # Calls judged by an argument: each rule's body without its leading number check.
    for rule in rules:
        nr = rule[0][3]
        if nr in targets:
            raise ValueError(f"system call {nr} has two rules")
        targets[nr] = tuple(rule[1:])
    program += bpf.dispatch(targets, bpf.ALLOW)
    return b"".join(struct.pack("=HBBI", *insn) for insn in program)


#: Calls that send a signal, each to the process (or thread group) named by its first argument.
SIGNAL_CALLS: Final = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")


def _signal_rules(numbers: Mapping[str, int], pid: int) -> list[list[bpf.Insn]]:
    """Signals only to the process ``pid`` itself (and ``kill(0, ...)``, its own process group,
    which holds only itself): never to the zygote, a sibling or another process of the uid."""
    own = pid & 0xFFFFFFFF
    return [
        bpf.allow_values(numbers[name], 0, (0, own) if name == "kill" else (own,), only_with={})
        for name in SIGNAL_CALLS
    ]


def with_pid(program: bytes, pid: int) -> bytes:
    """``program`` (built with ``pid=PID_PLACEHOLDER``) with the placeholder replaced by
    ``pid``: the worker's filter, without building it again (or installing a second one)."""
    patched = bytearray(program)
    for at in _pid_offsets(program):
        struct.pack_into("=I", patched, at, pid & 0xFFFFFFFF)
    return bytes(patched)


def _pid_offsets(program: bytes) -> list[int]:
    """Where :data:`PID_PLACEHOLDER` is the value a ``JEQ`` compares with."""
    placeholder = struct.pack("=I", PID_PLACEHOLDER)
    found = []
    at = program.find(placeholder)
    while at != -1:
        if at % 8 == 4 and struct.unpack_from("=H", program, at - 4)[0] == bpf.JEQ:
            found.append(at)
        at = program.find(placeholder, at + 1)
    return found


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


class PreparedFilter:
    """A filter built with :data:`PID_PLACEHOLDER`, laid out once (in the zygote) for installing
    in each worker with its pid: the worker only writes its pid into the buffer and makes one
    call, instead of copying and searching the program and building the C structures anew
    (every page a forked worker touches costs it a copy-on-write fault)."""

    __slots__ = ("_buffer", "_fprog", "_offsets")

    def __init__(self, program: bytes) -> None:
        if not program or len(program) % 8:
            raise OSError(errno.EINVAL, "not a BPF program")
        self._offsets = tuple(_pid_offsets(program))
        self._buffer = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.cast(self._buffer, ctypes.c_void_p))

    def install(self, pid: int) -> None:
        """Put ``pid`` in and install the filter (as :func:`install_filter`); irreversible."""
        for offset in self._offsets:
            struct.pack_into("=I", self._buffer, offset, pid & 0xFFFFFFFF)
        _install(self._fprog)


def install_filter(program: bytes) -> None:
    """Install ``program`` on every thread of the process (``TSYNC``); irreversible.

    Needs ``no_new_privs`` (or ``CAP_SYS_ADMIN``). Raises ``OSError`` if the kernel refuses.
    """
    if not program or len(program) % 8:
        raise OSError(errno.EINVAL, "not a BPF program")
    buffer = ctypes.create_string_buffer(program, len(program))
    _install(_SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p)))


def _install(fprog: _SockFprog) -> None:
    try:
        syscall(
            "seccomp", _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(fprog)
        )
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise
        prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog))
