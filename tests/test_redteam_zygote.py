"""Red team of the locked zygote and its batched, lazily verified, fast-forked workers (issue 13).

The zygote now runs as its workers' uid, forks with libc's ``fork`` (no CPython after-fork
hooks), forks batches whose socket ends every child inherits until its lockdown, builds the
job's namespace once, and reaps lazily; the host verifies pooled workers when it takes them.
Each attack class below runs in real workers with RestrictedPython off (only the OS layers hold
it), aimed at the zygote or a sibling worker. The first tests are holes that were found (each
failed before its fix); the parametrized tables record the attacks that held.
"""

from __future__ import annotations

import os
import resource
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from layers_support import FIND_CHANNEL, run_in_child

from ai_sandbox.isolation import zygote_client
from ai_sandbox.isolation._syscalls import ARCH
from ai_sandbox.isolation.doctor_zygote import process_state
from ai_sandbox.isolation.protocol import wait_readable
from ai_sandbox.isolation.worker_backend import WorkerBackend, _job
from ai_sandbox.policy import SandboxPolicy

POLICY = SandboxPolicy(timeout_s=5.0, pool_size=2)
pytestmark = pytest.mark.skipif(
    ARCH is None or not os.path.exists("/proc/self/status"),
    reason="the locked zygote needs Linux seccomp on x86_64/aarch64",
)


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBackend]:
    backend = WorkerBackend(tmp_path_factory.mktemp("red"), POLICY, _language_guard=False)
    yield backend
    backend.close()


def _nr(name: str) -> int:
    assert ARCH is not None
    return ARCH.numbers.get(name, -1)


def _alive(pid: int) -> bool:
    return process_state(pid) is not None


def _set_nproc(pid: int, soft: int) -> int:
    """Set ``pid``'s soft RLIMIT_NPROC as a process of its uid may (CAP_SYS_RESOURCE may be
    missing here); the previous soft limit."""
    text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    uid, gid = int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])

    def change() -> int:  # pragma: no cover - runs in the child
        if os.getuid() != uid:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        old, hard = resource.prlimit(pid, resource.RLIMIT_NPROC)
        resource.prlimit(pid, resource.RLIMIT_NPROC, (soft, hard))
        return int(old)

    report = run_in_child(change)
    assert isinstance(report.value, int), report
    return report.value


# -- holes found (each test failed before its fix) ------------------------------------------


def test_a_pooled_worker_taken_after_its_spawn_deadline_is_used(
    unguarded: WorkerBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It refuses to drop a pooled worker whose hello came in time but which is taken after its
    spawn deadline (every pooled worker of an idle Sandbox was killed and replaced cold)."""
    monkeypatch.setattr(zygote_client, "SPAWN_TIMEOUT_S", 1.0)
    workers, failure = unguarded._zygote.start_workers(1)
    assert failure is None
    worker = workers[0]
    try:
        assert wait_readable(worker.channel.sock.fileno(), 5.0)  # its hello has come
        time.sleep(1.2)  # taken after the deadline, as an idle pool's worker is
        assert set(unguarded.required) <= set(worker.ready().layers)
        result = unguarded._run_on(worker, _job("result = 7", None)).result
    finally:
        worker.close()
    assert result.status == "ok", result.error
    assert result.result == 7


def test_a_failed_fork_fails_the_spawn_not_the_zygote(tmp_path: Path) -> None:
    """It refuses to let a fork the kernel refuses (RLIMIT_NPROC counts every process of the
    workers' uid, which the zygote now shares) kill the zygote and every live session."""
    backend = WorkerBackend(
        tmp_path, POLICY.model_copy(update={"pool_size": 0}), _language_guard=False
    )
    try:
        session = backend.session()
        assert session.run("kept = 41\nresult = kept").result == 41
        assert backend.execute("result = 1").result == 1  # the first worker: no fork left
        zygote = backend._zygote.pid
        soft = _set_nproc(zygote, 1)
        try:
            refused = backend.execute("result = 2")
        finally:
            if _alive(zygote):
                _set_nproc(zygote, soft)
        assert refused.status == "error"
        assert backend._zygote.pid == zygote
        assert _alive(zygote)
        assert session.run("result = kept + 1").result == 42  # its worker lives on
        assert backend.execute("result = 3").result == 3
        assert backend._zygotes.restarts == 0
    finally:
        backend.close()


# -- attacks that held: a worker against the zygote or a sibling -----------------------------

_LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"


def _call(name: str, args: str, setup: str = "") -> str:
    """Code making the raw system call ``name(args)``; raises ``OSError`` if refused."""
    return (
        f"{_LIBC}{setup}if libc.syscall({_nr(name)}, {args}) < 0:\n"
        f"    raise OSError(ctypes.get_errno(), {name!r})\n"
        "result = 'escaped'"
    )


_SIGINFO = (
    "info = ctypes.create_string_buffer(b'\\x0a\\0\\0\\0\\0\\0\\0\\0\\xff\\xff\\xff\\xff', 128)\n"
)
_IOVEC = (
    "class Iov(ctypes.Structure):\n"
    "    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n"
    "buf = ctypes.create_string_buffer(64)\n"
    "local = Iov(ctypes.addressof(buf), 64)\nremote = Iov(0x400000, 64)\n"
)

#: ``(id, code)``: ``{T}`` is the target's pid (the zygote, or an idle sibling worker).
TARGETED = [
    ("kill", "import os\nos.kill({T}, 9)\nresult = 'escaped'"),
    ("kill-probe", "import os\nos.kill({T}, 0)\nresult = 'escaped'"),
    ("sigstop", "import os\nos.kill({T}, 19)\nresult = 'escaped'"),
    ("killpg", "import os\nos.killpg({T}, 9)\nresult = 'escaped'"),
    ("tkill", _call("tkill", "{T}, 19")),
    ("tgkill", _call("tgkill", "{T}, {T}, 19")),
    ("rt_sigqueueinfo", _call("rt_sigqueueinfo", "{T}, 10, info", _SIGINFO)),
    ("rt_tgsigqueueinfo", _call("rt_tgsigqueueinfo", "{T}, {T}, 10, info", _SIGINFO)),
    ("pidfd_open", _call("pidfd_open", "{T}, 0")),
    ("ptrace-attach", _call("ptrace", "16, {T}, 0, 0")),
    ("ptrace-seize", _call("ptrace", "0x4206, {T}, 0, 0")),
    (
        "process_vm_readv",
        _call(
            "process_vm_readv", "{T}, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0", _IOVEC
        ),
    ),
    (
        "prlimit",
        "import resource\nresource.prlimit({T}, resource.RLIMIT_NOFILE, (3, 3))\n"
        "result = 'escaped'",
    ),
    ("sched_setaffinity", "import os\nos.sched_setaffinity({T}, {{0}})\nresult = 'escaped'"),
    ("setpriority", "import os\nos.setpriority(os.PRIO_PROCESS, {T}, 19)\nresult = 'escaped'"),
    ("ioprio_set", _call("ioprio_set", "1, {T}, (3 << 13)")),
    ("kcmp", _call("kcmp", "os.getpid(), {T}, 0, 0, 0")),
    ("migrate_pages", _call("migrate_pages", "{T}, 64, 0, 0")),
    ("proc-mem", "open('/proc/{T}/mem', 'rb').read(1)\nresult = 'escaped'"),
    ("proc-environ", "open('/proc/{T}/environ', 'rb').read()\nresult = 'escaped'"),
    ("proc-fd", "import os\nresult = os.listdir('/proc/{T}/fd')"),
    ("setpgid-join", "import os\nos.setpgid(0, os.getpgid({T}))\nresult = 'escaped'"),
]


#: How a refused attack ends: the kernel said no (EPERM, ENOSYS for clone3), or the path is
#: not there (``/proc`` is outside the worker's view). Anything else means the attack's code
#: is broken, not that it was refused.
_REFUSALS = frozenset({"PermissionError", "OSError", "FileNotFoundError"})


def _assert_refused(attack: str, result: Any) -> None:
    assert result.status == "error", (attack, result.result)
    assert result.error is not None
    assert result.error.type in _REFUSALS, (attack, result.error)


@pytest.fixture(scope="module")
def sibling(unguarded: WorkerBackend) -> Iterator[Any]:
    worker = unguarded._pool.take()  # verified, idle: waiting for a job that never comes
    yield worker
    worker.close()


def _state(pid: int) -> str | None:
    """``pid``'s state letter (``T`` when stopped), ``None`` once it has gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return None


@pytest.mark.parametrize("target", ["zygote", "sibling"])
@pytest.mark.parametrize(("attack", "code"), TARGETED, ids=[name for name, _ in TARGETED])
def test_a_worker_cannot_reach_the_zygote_or_a_sibling(
    unguarded: WorkerBackend, sibling: Any, target: str, attack: str, code: str
) -> None:
    """It refuses each way a worker could signal, trace, read, throttle or regroup the zygote
    or an idle sibling (which share its uid); both live on, neither stopped."""
    zygote = unguarded._zygote.pid
    pid = zygote if target == "zygote" else sibling.pid
    result = unguarded.execute(code.format(T=pid))
    _assert_refused(attack, result)
    for who in (zygote, sibling.pid):
        assert _state(who) not in (None, "T", "t", "Z"), (attack, who, _state(who))
    assert not wait_readable(sibling.pidfd, 0)


_FORK_FLAGS = "0x01200011"  # what the zygote's own filter lets it clone with
#: ``(id, code)``: what only the zygote may do, or what would let a worker out of its group.
UNTARGETED = [
    ("kill-all", "import os\nos.kill(-1, 0)\nresult = 'escaped'"),
    ("clone-fork-flags", _call("clone", f"{_FORK_FLAGS}, 0, 0, 0, 0")),
    ("clone-sigchld", _call("clone", "17, 0, 0, 0, 0")),
    ("clone-thread", _call("clone", "0x00050f00, 0, 0, 0, 0")),
    ("fork", _call("fork", "")),
    ("vfork", _call("vfork", "")),
    ("clone3", _call("clone3", "0, 0")),
    ("socketpair", "import socket\nresult = str(socket.socketpair())"),
    (
        "abstract-unix",
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0ai-sandbox')\n"
        "result = 'escaped'",
    ),
    ("pidfd_open-self", _call("pidfd_open", "os.getpid(), 0")),
    ("setsid-again", "import os\nos.setsid()\nresult = 'escaped'"),
    (
        "f_setown-zygote",
        FIND_CHANNEL + "import fcntl\nfcntl.fcntl(CHANNEL_FD, fcntl.F_SETOWN, os.getppid())\n"
        "result = 'escaped'",
    ),
    (
        "f_setsig",
        FIND_CHANNEL + "import fcntl\nfcntl.fcntl(CHANNEL_FD, 10, 9)\nresult = 'escaped'",
    ),
    (
        "fiosetown",
        FIND_CHANNEL + "import fcntl, struct\n"
        "fcntl.ioctl(CHANNEL_FD, 0x8901, struct.pack('i', os.getppid()))\nresult = 'escaped'",
    ),
    ("timer_create", _call("timer_create", "1, 0, ctypes.byref(ctypes.c_int())")),
    ("io_uring_setup", _call("io_uring_setup", "4, ctypes.create_string_buffer(120)")),
    ("pdeathsig-cleared", _call("prctl", "1, 0, 0, 0, 0")),
    ("dumpable-again", _call("prctl", "4, 1, 0, 0, 0")),
    ("subreaper", _call("prctl", "36, 1, 0, 0, 0")),
    ("setuid-root", "import os\nos.setresuid(0, 0, 0)\nresult = 'escaped'"),
    ("unshare-user", _call("unshare", "0x10000000")),
]


@pytest.mark.parametrize(("attack", "code"), UNTARGETED, ids=[name for name, _ in UNTARGETED])
def test_a_worker_cannot_do_what_only_the_zygote_may(
    unguarded: WorkerBackend, sibling: Any, attack: str, code: str
) -> None:
    """It refuses, in a worker, what the zygote's own filter allows it (a fork's clone,
    socket pairs, pidfds, signals out) and every way to leave the worker's own group."""
    zygote = unguarded._zygote.pid
    result = unguarded.execute(code)
    _assert_refused(attack, result)
    assert _state(zygote) not in (None, "T", "t", "Z")
    assert not wait_readable(sibling.pidfd, 0)


# -- held: descriptors, the fork's window, the fast fork, reaping, the warm-up --------------

_OPEN_FDS = """
import os, stat
def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
result = [[fd, stat.S_IFMT(os.fstat(fd).st_mode)] for fd in range(4096) if is_open(fd)]
"""


@pytest.mark.parametrize("now", [4, 0], ids=["taken-at-once", "warmed-in-the-pool"])
def test_a_batch_forked_worker_holds_no_siblings_descriptor(
    unguarded: WorkerBackend, now: int
) -> None:
    """It refuses every descriptor a batch's worker inherited (its siblings' socket ends, the
    zygote's control socket, the scope ruleset) to the job: stdio on /dev/null and its own
    channel only, whatever its place in the batch."""
    workers, failure = unguarded._zygote.start_workers(4, now=now)
    assert failure is None
    try:
        found = [
            unguarded._run_on(worker.ready(), _job(_OPEN_FDS, None)).result.result
            for worker in workers
        ]
    finally:
        for worker in workers:
            worker.close()
    for fds in found:
        assert [mode for _, mode in fds] == [stat.S_IFCHR] * 3 + [stat.S_IFSOCK], fds
        assert [fd for fd, _ in fds][:3] == [0, 1, 2]


_SIGNAL_SWEEP = """
import errno, os, time
me, first = os.getpid(), os.getppid()
reached = {}
end = time.monotonic() + 0.4
while time.monotonic() < end:
    for pid in range(first, first + 400):
        if pid == me:
            continue
        try:
            os.kill(pid, 19)
            reached[pid] = 'stopped'
        except OSError as exc:
            if exc.errno != errno.EPERM:
                reached[pid] = errno.errorcode[exc.errno]
result = reached
"""


def test_a_worker_cannot_signal_siblings_forked_while_it_runs(unguarded: WorkerBackend) -> None:
    """It refuses a running worker's SIGSTOP to every pid near the zygote's while a batch of
    siblings is forked and locks down (the window before their own domain and filter): the
    kernel never even looks the pid up (EPERM for each, never ESRCH)."""
    import threading

    started: list[Any] = []
    session = unguarded.session()
    try:
        assert session.run("result = 1").result == 1
        spawner = threading.Timer(
            0.1, lambda: started.extend(unguarded._zygote.start_workers(8, now=8)[0])
        )
        spawner.start()
        swept = session.run(_SIGNAL_SWEEP)
        spawner.join()
    finally:
        session.close()
    try:
        assert started
        for worker in started:
            assert set(unguarded.required) <= set(worker.ready().layers)
            assert _state(worker.pid) not in (None, "T", "t")
    finally:
        for worker in started:
            worker.close()
    assert swept.status == "ok", swept.error
    assert swept.result == {}


_FORK_STATE = """
import _imp, logging, random, signal, threading
result = {
    'import lock held': _imp.lock_held(),
    'logging lock free': logging._lock.acquire(blocking=False),
    'main thread': threading.main_thread() is threading.current_thread(),
    'threads': threading.active_count(),
    'pending': sorted(signal.sigpending()),
    'blocked': sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    'wakeup fd': signal.set_wakeup_fd(-1),
    'random': random.getrandbits(64),
}
"""


def test_a_fast_forked_worker_inherits_no_lock_signal_or_random_state(
    unguarded: WorkerBackend,
) -> None:
    """It refuses a fast-forked worker any state CPython's after-fork hooks would have reset:
    no lock held (import, logging), one thread that is the main one, no pending or blocked
    signal, no wakeup descriptor, and a random sequence of its own."""
    runs = [unguarded.execute(_FORK_STATE) for _ in range(3)]
    for run in runs:
        assert run.status == "ok", run.error
        state = dict(run.result)
        state.pop("random")
        assert state == {
            "import lock held": False,
            "logging lock free": True,
            "main thread": True,
            "threads": 1,
            "pending": [],
            "blocked": [],
            "wakeup fd": -1,
        }
    assert len({run.result["random"] for run in runs}) == 3


def test_exited_workers_do_not_pile_up_as_zombies(unguarded: WorkerBackend) -> None:
    """It refuses to let the lazily reaping zygote keep exited workers as zombies (they would
    count against the workers' uid's RLIMIT_NPROC) beyond its one-second reaping interval."""
    zygote = unguarded._zygote.pid
    for n in range(20):
        assert unguarded.execute(f"result = {n}").result == n
    time.sleep(1.3)
    children = Path(f"/proc/{zygote}/task/{zygote}/children").read_text().split()
    assert [pid for pid in children if _state(int(pid)) == "Z"] == []


def test_a_guarded_job_sees_nothing_of_the_warm_up(tmp_path: Path) -> None:
    """It refuses a job in a warmed pool worker (RestrictedPython on) any trace of the
    warm-up: its names, its output, its result; a job that is the warm-up's own source runs
    as itself."""
    from ai_sandbox.isolation.worker import WARM_UP_CODE

    backend = WorkerBackend(tmp_path, POLICY)
    try:
        backend.execute("result = 0")  # the first worker, not warmed in the pool
        time.sleep(0.3)  # the pooled workers have warmed up meanwhile
        seen = backend.execute(
            "try:\n    warm_up\n    seen = True\nexcept NameError:\n    seen = False\n"
            "try:\n    warm\n    seen = True\nexcept NameError:\n    pass\n"
            "try:\n    result\n    seen = True\nexcept NameError:\n    pass\n"
            "result = seen"
        )
        same = backend.execute(WARM_UP_CODE)
    finally:
        backend.close()
    assert seen.status == "ok", seen.error
    assert seen.result is False
    assert seen.stdout == ""
    assert same.status == "ok", same.error
    assert same.result == {"total": 15, "count": 5, "squares": [1, 9, 25], "text": "15"}
