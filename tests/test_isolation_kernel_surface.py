"""The kernel surface a compromised worker can reach: every test switches RestrictedPython OFF.

The worker runs plain Python (``_language_guard=False``) and calls the kernel through ctypes
``syscall(2)``, as escaped code would. What is refused here is refused by the seccomp filter:
calls that reach machine-wide budgets or shared kernel objects, ``prctl`` options outside the
allow-list (above all clearing the parent-death signal), risky ``fcntl``/``ioctl`` commands and
out-of-band data on the channel.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from layers_support import FIND_CHANNEL, orphan_dies_with_its_parent, outcome, run_in_child

from ai_sandbox import SandboxPolicy
from ai_sandbox.isolation import _syscalls, hygiene, privileges, seccomp
from ai_sandbox.isolation.protocol import wait_readable
from ai_sandbox.isolation.worker_backend import WorkerBackend

ARCH = _syscalls.ARCH
pytestmark = pytest.mark.skipif(
    ARCH is None, reason="seccomp filters are built for Linux x86_64/aarch64 only"
)
POLICY = SandboxPolicy(timeout_s=5.0, pool_size=1)

#: Worker-side helpers: ``sc(nr, *args)`` is a raw system call, ``pr(option, *args)`` a raw
#: prctl; both return "ok" or the errno's name.
PRELUDE = """
import ctypes, errno
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
def _name(r):
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
def sc(nr, *args):
    ctypes.set_errno(0)
    return _name(_libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args]))
def pr(option, a2=0, a3=0, a4=0, a5=0):
    ctypes.set_errno(0)
    args = [ctypes.c_ulong(a) for a in (a2, a3, a4, a5)]
    return _name(_libc.syscall(ctypes.c_long(PRCTL), ctypes.c_long(option), *args))
"""


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBackend]:
    """A strict backend whose workers run with RestrictedPython switched off."""
    backend = WorkerBackend(tmp_path_factory.mktemp("surface"), POLICY, _language_guard=False)
    yield backend
    backend.close()


def _run(backend: WorkerBackend, code: str) -> Any:
    assert ARCH is not None
    prelude = PRELUDE.replace("PRCTL", str(ARCH.numbers["prctl"]))
    result = backend.execute(prelude + code)
    assert result.status == "ok", result.error
    return result.result


@pytest.fixture(scope="module")
def denied_outcomes(unguarded: WorkerBackend) -> dict[str, str]:
    """Every denied call, made once with all-zero arguments in one guard-off worker."""
    assert ARCH is not None
    calls = {name: ARCH.numbers[name] for name in seccomp.DENIED_SYSCALLS if name in ARCH.numbers}
    code = f"result = {{name: sc(nr, 0, 0, 0, 0, 0, 0) for name, nr in {calls!r}.items()}}"
    outcomes: dict[str, str] = _run(unguarded, code)
    return outcomes


#: The calls this round adds to the filter, by group (each group in seccomp.py says why).
NEWLY_DENIED = [
    *("io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents"),
    *("sync", "syncfs"),
    *("mbind", "set_mempolicy", "set_mempolicy_home_node"),
    *("splice", "tee", "vmsplice"),
]
#: Machine-wide budgets and shared kernel objects the review named; denied before this round.
REVIEWED = [
    *("shmget", "msgget", "semget", "mq_open", "fanotify_init", "userfaultfd"),
    *("perf_event_open", "keyctl", "add_key", "request_key", "process_vm_readv"),
    *("process_vm_writev", "kcmp", "name_to_handle_at", "open_by_handle_at", "pidfd_getfd"),
    *("sched_setattr", "sched_setscheduler", "ioprio_set", "setpriority", "personality"),
    *("quotactl", "quotactl_fd", "fsopen", "fsmount", "fspick", "fsconfig", "open_tree"),
    *("move_mount", "migrate_pages", "move_pages", "swapon", "swapoff", "reboot"),
    *("io_uring_setup", "bpf", "memfd_create", "inotify_init1"),
]


@pytest.mark.parametrize("name", [*NEWLY_DENIED, *REVIEWED])
def test_it_refuses_the_call_in_a_guard_off_worker(
    denied_outcomes: dict[str, str], name: str
) -> None:
    """It refuses each call that reaches a machine-wide budget or shared kernel object (EPERM)."""
    assert ARCH is not None
    if name not in ARCH.numbers:
        pytest.skip(f"{ARCH.name} has no {name} system call")
    assert name in seccomp.DENIED_SYSCALLS
    assert denied_outcomes[name] == "EPERM"


@pytest.mark.parametrize("arch", list(_syscalls._ARCHES.values()), ids=lambda a: a.name)
def test_the_filter_assembles_for_every_architecture(arch: _syscalls.Arch) -> None:
    """It builds the whole filter, argument rules included, for each architecture it knows."""
    program = seccomp.build_filter(arch)
    assert len(program) % 8 == 0
    assert 0 < len(program) // 8 <= 4096
    for name in ("prctl", "fcntl", "ioctl", "sendto", "recvfrom", "sendmsg", "recvmsg"):
        assert name in arch.numbers
    assert {"io_setup", "io_submit", "io_getevents"} <= set(arch.numbers)


def test_every_denied_call_is_refused(denied_outcomes: dict[str, str]) -> None:
    """It answers EPERM for every call on the deny list, whatever its arguments."""
    assert {name: o for name, o in denied_outcomes.items() if o != "EPERM"} == {}


def _aio_budget_after_io_setup() -> dict[str, object]:
    """In a filtered child: the machine's AIO use before and after asking for 4096 events."""
    import ctypes

    def in_use() -> int:
        return int(Path("/proc/sys/fs/aio-nr").read_text())

    privileges.set_no_new_privs()
    seccomp.install_filter(seccomp.build_filter())
    before = in_use()
    context = ctypes.c_ulong(0)
    attempt = outcome(lambda: _syscalls.syscall("io_setup", 4096, ctypes.byref(context)))
    return {"attempt": attempt, "before": before, "after": in_use()}


@pytest.mark.skipif(not Path("/proc/sys/fs/aio-nr").exists(), reason="no native AIO in kernel")
def test_native_aio_leaves_the_machine_wide_budget_untouched() -> None:
    """It refuses io_setup, so the machine-wide AIO count (fs.aio-nr) does not move."""
    report = run_in_child(_aio_budget_after_io_setup).value
    assert report["attempt"] == "PermissionError:EPERM", report
    assert report["after"] == report["before"], report


# -- prctl: an allow-list ----------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_SET_DUMPABLE = 4

REFUSED_PRCTL = [
    pytest.param((PR_SET_PDEATHSIG, 0), id="clear-pdeathsig"),
    pytest.param((PR_SET_PDEATHSIG, int(signal.SIGTERM)), id="pdeathsig-sigterm"),
    pytest.param((PR_SET_PDEATHSIG, int(signal.SIGCONT)), id="pdeathsig-sigcont"),
    pytest.param((PR_SET_DUMPABLE, 1), id="dumpable-on"),
    pytest.param((0x59616D61, 0xFFFFFFFFFFFFFFFF), id="PR_SET_PTRACER-any"),
    pytest.param((36, 1), id="PR_SET_CHILD_SUBREAPER"),
    pytest.param((35, 1, 0), id="PR_SET_MM"),
    pytest.param((8, 1), id="PR_SET_KEEPCAPS"),
    pytest.param((28, 0), id="PR_SET_SECUREBITS"),
    pytest.param((24, 0), id="PR_CAPBSET_DROP"),
    pytest.param((53, 0, 8), id="PR_SET_SPECULATION_CTRL"),
    pytest.param((62, 0), id="PR_SCHED_CORE"),
    pytest.param((57, 1), id="PR_SET_IO_FLUSHER"),
    pytest.param((59, 0), id="PR_SET_SYSCALL_USER_DISPATCH"),
    pytest.param((26, 1), id="PR_SET_TSC"),
    pytest.param((33, 0), id="PR_MCE_KILL"),
    pytest.param((41, 1), id="PR_SET_THP_DISABLE"),
    pytest.param((31,), id="PR_TASK_PERF_EVENTS_DISABLE"),
    pytest.param((0x7A5B0001,), id="unknown-option"),
]


@pytest.mark.parametrize("call", REFUSED_PRCTL)
def test_it_refuses_prctl_options_outside_the_allow_list(
    unguarded: WorkerBackend, call: tuple[int, ...]
) -> None:
    """It refuses prctl options that are not on the allow-list (EPERM), pdeathsig left as is."""
    assert _run(unguarded, f"result = pr(*{call!r})") == "EPERM"


@pytest.mark.parametrize(
    "value",
    [0, int(signal.SIGTERM), (1 << 32) | int(signal.SIGKILL)],
    ids=["clear", "sigterm", "sigkill-with-high-bits"],
)
def test_the_parent_death_signal_stays_sigkill(unguarded: WorkerBackend, value: int) -> None:
    """It leaves the parent-death signal at SIGKILL after any attempt to change it."""
    code = (
        "sig = ctypes.c_int(-1)\n"
        f"attempt = pr({PR_SET_PDEATHSIG}, {value})\n"
        f"_libc.prctl({PR_GET_PDEATHSIG}, ctypes.byref(sig), 0, 0, 0)\n"
        "result = [attempt, sig.value]\n"
    )
    attempt, signal_now = _run(unguarded, code)
    assert attempt in {"EPERM", "EINVAL"}  # EINVAL: the kernel's own check on the high bits
    assert signal_now == int(signal.SIGKILL)


ALLOWED_PRCTL = [
    pytest.param((PR_SET_PDEATHSIG, int(signal.SIGKILL)), id="pdeathsig-sigkill-again"),
    pytest.param((PR_SET_DUMPABLE, 0), id="dumpable-off-again"),
    pytest.param((3,), id="PR_GET_DUMPABLE"),
    pytest.param((38, 1), id="PR_SET_NO_NEW_PRIVS"),
    pytest.param((39,), id="PR_GET_NO_NEW_PRIVS"),
    pytest.param((21,), id="PR_GET_SECCOMP"),
    pytest.param((47, 1, 0), id="PR_CAP_AMBIENT-is-set"),
    pytest.param((30,), id="PR_GET_TIMERSLACK"),
]


@pytest.mark.parametrize("call", ALLOWED_PRCTL)
def test_it_allows_harmless_prctl_options(unguarded: WorkerBackend, call: tuple[int, ...]) -> None:
    """It lets the worker query itself and restate its own locked-down settings."""
    assert _run(unguarded, f"result = pr(*{call!r})") == "ok"


def test_it_lets_the_worker_name_its_thread(unguarded: WorkerBackend) -> None:
    """It allows PR_SET_NAME/PR_GET_NAME (threading libraries name their threads)."""
    code = (
        "buf = ctypes.create_string_buffer(b'renamed', 16)\n"
        "_libc.prctl(15, buf, 0, 0, 0)\n"
        "out = ctypes.create_string_buffer(16)\n"
        "_libc.prctl(16, out, 0, 0, 0)\n"
        "result = out.value.decode()\n"
    )
    assert _run(unguarded, code) == "renamed"


def _arm_then_clear_pdeathsig(_ready_fd: int) -> None:
    """In the worker: pdeathsig, no_new_privs and the filter (as lockdown does), then the
    attack: clear the parent-death signal to outlive the zygote."""
    hygiene.die_with_parent()
    privileges.set_no_new_privs()
    seccomp.install_filter(seccomp.build_filter())
    with contextlib.suppress(OSError):
        _syscalls.prctl(PR_SET_PDEATHSIG, 0)


def test_a_worker_that_clears_its_pdeathsig_still_dies_with_its_parent() -> None:
    """It kills a worker that tried to clear its parent-death signal when its parent dies."""
    assert orphan_dies_with_its_parent(_arm_then_clear_pdeathsig)


def test_a_real_worker_that_clears_its_pdeathsig_dies_with_its_zygote(tmp_path: Path) -> None:
    """It kills a guard-off session worker that tried to clear pdeathsig when the zygote dies."""
    backend = WorkerBackend(tmp_path, POLICY, _language_guard=False)
    try:
        session = backend.session()
        result = session.run(PRELUDE.replace("PRCTL", str(_prctl_nr())) + "result = pr(1, 0)")
        assert result.result == "EPERM"
        pidfd = session._worker.pidfd
        os.kill(backend._zygote.pid, signal.SIGKILL)
        died = wait_readable(pidfd, 5.0)
        session.close()
    finally:
        backend.close()
    assert died, "the worker outlived its zygote"


def _prctl_nr() -> int:
    assert ARCH is not None
    return ARCH.numbers["prctl"]


# -- fcntl, ioctl and MSG_OOB: refused by argument --------------------------------------------

FCNTL = [
    pytest.param(1031, id="F_SETPIPE_SZ"),
    pytest.param(1026, id="F_NOTIFY"),
    pytest.param(1024, id="F_SETLEASE"),
    pytest.param(8, id="F_SETOWN"),
    pytest.param(15, id="F_SETOWN_EX"),
    pytest.param(10, id="F_SETSIG"),
]


@pytest.mark.parametrize("command", FCNTL)
def test_it_refuses_fcntl_commands_on_shared_budgets_and_signals(
    unguarded: WorkerBackend, command: int
) -> None:
    """It refuses pipe resizing, leases, directory watches and I/O signal targets (EPERM)."""
    assert ARCH is not None
    code = (
        "import os\nr, w = os.pipe()\n"
        f"result = sc({ARCH.numbers['fcntl']}, r, {command}, 1 << 20)\n"
        "os.close(r); os.close(w)\n"
    )
    assert _run(unguarded, code) == "EPERM"


def test_pipes_keep_their_default_size(unguarded: WorkerBackend) -> None:
    """It leaves ordinary pipe use and fcntl queries alone."""
    code = (
        "import os, fcntl\nr, w = os.pipe()\nos.write(w, b'x')\n"
        "result = [os.read(r, 1).decode(), fcntl.fcntl(r, 1032) > 0]\n"  # F_GETPIPE_SZ
    )
    assert _run(unguarded, code) == ["x", True]


@pytest.mark.parametrize(
    "request_",
    [0x5412, 0x541C, 0x8901, 0x8902],
    ids=["TIOCSTI", "TIOCLINUX", "FIOSETOWN", "SIOCSPGRP"],
)
def test_it_refuses_terminal_injection_and_owner_ioctls(
    unguarded: WorkerBackend, request_: int
) -> None:
    """It refuses ioctls that type into a terminal or point I/O signals elsewhere (EPERM)."""
    assert ARCH is not None
    code = FIND_CHANNEL + (
        f"arg = ctypes.c_int(0)\n"
        f"result = sc({ARCH.numbers['ioctl']}, CHANNEL_FD, {request_}, ctypes.addressof(arg))\n"
    )
    assert _run(unguarded, code) == "EPERM"


OOB_ATTEMPTS = [
    pytest.param("s.send(b'!', socket.MSG_OOB)", id="send"),
    pytest.param("raw(SENDTO, CHANNEL_FD, BUF, 1, socket.MSG_OOB, 0, 0)", id="sendto"),
    pytest.param("raw(RECVFROM, CHANNEL_FD, BUF, 1, socket.MSG_OOB, 0, 0)", id="recvfrom"),
    pytest.param("s.sendmsg([b'!'], [], socket.MSG_OOB)", id="sendmsg"),
    pytest.param("s.recv(1, socket.MSG_OOB)", id="recv"),
    pytest.param("s.recvmsg(1, 0, socket.MSG_OOB)", id="recvmsg"),
    pytest.param("raw(SENDMMSG, CHANNEL_FD, 0, 0, socket.MSG_OOB)", id="sendmmsg"),
    pytest.param("raw(RECVMMSG, CHANNEL_FD, 0, 0, socket.MSG_OOB, 0)", id="recvmmsg"),
]


@pytest.mark.parametrize("attempt", OOB_ATTEMPTS)
def test_it_refuses_out_of_band_data_on_the_channel(unguarded: WorkerBackend, attempt: str) -> None:
    """It refuses MSG_OOB on the channel in every send/receive call (EPERM)."""
    assert ARCH is not None
    for name in ("sendmmsg", "recvmmsg", "sendto", "recvfrom"):
        attempt = attempt.replace(name.upper(), str(ARCH.numbers[name]))
    code = FIND_CHANNEL + (
        "import socket\n"
        "def raw(*args):\n"
        "    if sc(*args) != 'ok':\n"
        "        raise OSError(ctypes.get_errno(), 'raw call')\n"
        "s = socket.socket(fileno=os.dup(CHANNEL_FD))\n"
        "BUF = ctypes.addressof(ctypes.create_string_buffer(b'!', 8))\n"
        f"try:\n    {attempt}\n    result = 'ok'\n"
        "except OSError as exc:\n    result = errno.errorcode.get(exc.errno, str(exc.errno))\n"
        "s.close()\n"
    )
    assert _run(unguarded, code) == "EPERM"
