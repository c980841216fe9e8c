"""seccomp alone: no new processes, sockets, tracing, namespaces or mounts; threads still work.

Each test forks a child that sets ``no_new_privs``, installs the worker filter and attacks with
plain Python. The tests run as root: without the filter every attack below would succeed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from layers_support import outcome, run_in_child

from ai_sandbox.isolation import _syscalls, privileges, seccomp

pytestmark = pytest.mark.skipif(
    _syscalls.ARCH is None, reason="seccomp filters are built for Linux x86_64/aarch64 only"
)


def _filtered(attack: Callable[[], object]) -> Callable[[], str]:
    def body() -> str:
        privileges.set_no_new_privs()
        seccomp.install_filter(seccomp.build_filter())
        return outcome(attack)

    return body


def _attempt(attack: Callable[[], object]) -> str:
    report = run_in_child(_filtered(attack))
    assert isinstance(report.value, str), report
    return str(report.value)


def _fork_and_exit() -> None:
    if os.fork() == 0:
        os._exit(0)


def _ptrace_traceme() -> None:
    _syscalls.syscall("ptrace", 0, 0, 0, 0)  # PTRACE_TRACEME


def _mount_tmpfs() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"none", b"/mnt", b"tmpfs", 0, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _read_other_process_memory() -> None:
    _syscalls.syscall("process_vm_readv", os.getppid(), 0, 0, 0, 0, 0)


def _bpf() -> None:
    _syscalls.syscall("bpf", 0, 0, 0)


def _io_uring() -> None:
    params = ctypes.create_string_buffer(120)
    _syscalls.syscall("io_uring_setup", 1, ctypes.byref(params))


def _kill_everything() -> None:
    os.kill(-1, 0)  # signal 0: probes, harms nothing if the filter fails


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(os.fork, id="os.fork"),
        pytest.param(_fork_and_exit, id="fork-and-exit"),
        pytest.param(lambda: subprocess.run(["/bin/true"], check=False), id="subprocess"),
        pytest.param(lambda: os.execv(sys.executable, [sys.executable, "-c", "1"]), id="execv"),
        pytest.param(lambda: os.posix_spawn("/bin/true", ["true"], {}), id="posix_spawn"),
        pytest.param(socket.socket, id="socket"),
        pytest.param(lambda: socket.socket(socket.AF_UNIX), id="unix-socket"),
        pytest.param(socket.socketpair, id="socketpair"),
        pytest.param(_ptrace_traceme, id="ptrace"),
        pytest.param(_read_other_process_memory, id="process_vm_readv"),
        pytest.param(lambda: _syscalls.unshare(_syscalls.CLONE_NEWUSER), id="unshare-user"),
        pytest.param(lambda: _syscalls.unshare(_syscalls.CLONE_NEWNET), id="unshare-net"),
        pytest.param(_mount_tmpfs, id="mount"),
        pytest.param(lambda: os.chroot("/"), id="chroot"),
        pytest.param(_bpf, id="bpf"),
        pytest.param(_io_uring, id="io_uring"),
        pytest.param(_kill_everything, id="kill-minus-one"),
        pytest.param(lambda: os.killpg(os.getppid(), 0), id="killpg"),
    ],
)
def test_it_refuses(attack: Callable[[], object]) -> None:
    """It refuses the call with EPERM, so Python raises PermissionError."""
    assert _attempt(attack) == "PermissionError:EPERM"


def _raw_fchmodat2(path: str) -> None:
    _syscalls.syscall("fchmodat2", -100, path.encode(), 0o777, 0)  # AT_FDCWD


#: Changes of a file's metadata, which Landlock does not govern: a worker whose uid owns
#: files outside the root (a non-root host) could otherwise loosen their modes.
METADATA_CHANGES: list[tuple[str, Callable[[str], object]]] = [
    ("chmod", lambda p: os.chmod(p, 0o777)),
    ("chmod-nofollow", lambda p: os.chmod(p, 0o777, follow_symlinks=False)),
    ("fchmodat2", _raw_fchmodat2),
    ("fchmod", lambda p: os.fchmod(os.open(p, os.O_RDONLY), 0o777)),
    ("chown", lambda p: os.chown(p, 65534, 65534)),
    ("lchown", lambda p: os.lchown(p, 65534, 65534)),
    ("fchown", lambda p: os.fchown(os.open(p, os.O_RDONLY), 65534, 65534)),
    ("utime", lambda p: os.utime(p, (0, 0))),
    ("utime-now", lambda p: os.utime(p)),
    ("setxattr", lambda p: os.setxattr(p, "user.planted", b"x")),
    ("removexattr", lambda p: os.removexattr(p, "user.kept")),
]


@pytest.mark.parametrize(
    "change", [c for _, c in METADATA_CHANGES], ids=[i for i, _ in METADATA_CHANGES]
)
def test_it_refuses_changing_file_metadata(tmp_path: Path, change: Callable[[str], object]) -> None:
    """It refuses mode, owner, time and xattr changes, and the file keeps all of them."""
    target = tmp_path / "owned.txt"
    target.write_text("x")
    os.chmod(target, 0o600)
    os.utime(target, (1_000_000, 1_000_000))
    os.setxattr(target, "user.kept", b"1")
    before = os.stat(target)
    assert _attempt(lambda: change(str(target))) == "PermissionError:EPERM"
    after = os.stat(target)
    assert (after.st_mode, after.st_uid, after.st_gid) == (
        before.st_mode,
        before.st_uid,
        before.st_gid,
    )
    assert after.st_mtime_ns == before.st_mtime_ns
    assert os.listxattr(target) == ["user.kept"]


def _watch_tmp() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(0)
    if fd < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    if libc.inotify_add_watch(fd, b"/tmp", 0xFFF) < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _sigcont_timer() -> None:
    """A POSIX timer that would send SIGCONT (it would wake a frozen session worker)."""

    class SigEvent(ctypes.Structure):
        _fields_ = (
            ("value", ctypes.c_void_p),
            ("signo", ctypes.c_int),
            ("notify", ctypes.c_int),
            ("pad", ctypes.c_byte * 48),
        )

    event = SigEvent(signo=signal.SIGCONT, notify=0)  # SIGEV_SIGNAL
    timer = ctypes.c_void_p()
    _syscalls.syscall("timer_create", 1, ctypes.byref(event), ctypes.byref(timer))


def _memfd() -> None:
    fd = os.memfd_create("hoard")
    os.write(fd, b"x" * 4096)


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(_watch_tmp, id="inotify"),
        pytest.param(lambda: _syscalls.syscall("inotify_add_watch", 0, b"/tmp", 0xFFF), id="raw"),
        pytest.param(_memfd, id="memfd_create"),
        pytest.param(lambda: _syscalls.syscall("memfd_secret", 0), id="memfd_secret"),
        pytest.param(lambda: _syscalls.syscall("listmount", 0, 0, 0, 0), id="listmount"),
        pytest.param(lambda: _syscalls.syscall("statmount", 0, 0, 0, 0), id="statmount"),
        pytest.param(_sigcont_timer, id="timer_create"),
    ],
)
def test_it_refuses_watching_files_and_memory_outside_the_limits(
    attack: Callable[[], object],
) -> None:
    """It refuses inotify watches (Landlock does not mediate them), memory files that
    RLIMIT_AS does not count, and POSIX timers (which could send SIGCONT)."""
    assert _attempt(attack) == "PermissionError:EPERM"


def test_clone3_reports_enosys_so_libc_falls_back_to_clone() -> None:
    """It answers clone3 with ENOSYS, so libc uses clone, whose flags the filter can read."""
    assert _attempt(lambda: _syscalls.syscall("clone3", 0, 0)) == "OSError:ENOSYS"


def test_threads_still_work() -> None:
    """It still lets the worker start and join a thread."""

    def run_thread() -> None:
        seen: list[int] = []
        thread = threading.Thread(target=lambda: seen.append(threading.get_native_id()))
        thread.start()
        thread.join()
        assert len(seen) == 1
        assert seen[0] != threading.get_native_id()

    assert _attempt(run_thread) == "ok"


def test_it_still_allows_ordinary_calls() -> None:
    """It leaves ordinary calls alone: files, time, its own pid, signal 0 to itself."""

    def ordinary() -> None:
        os.getpid()
        os.kill(os.getpid(), 0)
        with open(os.devnull, "rb") as null:
            null.read(1)
        os.urandom(8)

    assert _attempt(ordinary) == "ok"


@pytest.mark.skipif(_syscalls.ARCH is None or not _syscalls.ARCH.x32_bit, reason="x86_64 only")
def test_it_kills_a_process_that_uses_the_x32_abi() -> None:
    """It kills the process outright when a call comes through the x32 ABI."""

    def x32_getpid() -> None:
        privileges.set_no_new_privs()
        seccomp.install_filter(seccomp.build_filter())
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall(ctypes.c_long(0x40000000 | 39))  # x32 getpid

    report = run_in_child(x32_getpid)
    assert report.signal == signal.SIGSYS


def test_the_program_is_whole_instructions() -> None:
    """It assembles a program of 8-byte instructions that fits the kernel's 4096 limit."""
    program = seccomp.build_filter()
    assert len(program) % 8 == 0
    assert 0 < len(program) // 8 <= 4096
