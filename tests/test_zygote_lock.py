"""The locked zygote: the layers every worker shares are applied to the zygote once, and each
worker adds its own nested Landlock domain and stacked seccomp filter (see ``zygote_lock``).

Nothing may be moved out of a worker's reach: the zygote's own state is read from the host's
``/proc``; a worker (RestrictedPython off) must still reach neither the zygote nor a sibling,
which now share its uid, and make nothing only the zygote may make. Each of the two worker
layers is also tested alone, without the other.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from layers_support import outcome, run_in_child

from ai_sandbox.isolation import landlock, privileges, seccomp
from ai_sandbox.isolation._syscalls import ARCH, prctl, syscall
from ai_sandbox.isolation.doctor_zygote import process_state, worker_attacks, zygote_state_checks
from ai_sandbox.isolation.protocol import wait_readable
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.isolation.zygote_lock import fast_fork
from ai_sandbox.policy import SandboxPolicy

POLICY = SandboxPolicy(timeout_s=5.0, pool_size=2)
_CAN_SCOPE = landlock.abi_version() >= 6
pytestmark = pytest.mark.skipif(
    ARCH is None or not os.path.exists("/proc/self/status"),
    reason="the locked zygote needs Linux seccomp on x86_64/aarch64",
)


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBackend]:
    backend = WorkerBackend(tmp_path_factory.mktemp("root"), POLICY, _language_guard=False)
    yield backend
    backend.close()


def test_a_restricted_zygote_locks_itself_once(unguarded: WorkerBackend) -> None:
    """It reports the layers the zygote holds itself: every layer a worker inherits."""
    locked = set(unguarded._zygote.info.locked)
    assert {"clean_env", "rlimits", "no_privileges", "no_new_privs", "seccomp"} <= locked
    assert {"landlock_fs", "landlock_net"} <= locked
    assert set(unguarded.layers) >= locked  # every worker still reports each of them


def test_the_zygote_holds_no_privilege_and_one_filter(unguarded: WorkerBackend) -> None:
    """It runs the zygote without root or capabilities, with no_new_privs, exactly one seccomp
    filter and one thread, also after many workers were forked."""
    for n in range(20):
        assert unguarded.execute(f"result = {n}").result == n
    state = process_state(unguarded._zygote.pid)
    assert state is not None
    assert state.uid != 0
    assert not any(state.capabilities.values()), state.capabilities
    assert state.no_new_privs
    assert (state.seccomp_mode, state.seccomp_filters) == (2, 1)
    assert state.threads == 1


def test_a_worker_stacks_its_own_filter(unguarded: WorkerBackend) -> None:
    """It gives each worker the zygote's filter and one of its own (two in all), no privilege."""
    worker = unguarded._pool.take()
    try:
        state = process_state(worker.pid)
    finally:
        worker.close()
    assert state is not None
    assert state.uid != 0
    assert not any(state.capabilities.values())
    assert state.no_new_privs
    assert (state.seccomp_mode, state.seccomp_filters) == (2, 2)
    assert state.threads == 1


def test_doctors_state_checks_hold(unguarded: WorkerBackend) -> None:
    """It proves the zygote's and a worker's state in ``doctor``, every check held."""
    checks = zygote_state_checks(unguarded)
    assert len(checks) == 8
    assert all(held for held, _, _ in checks), checks


def test_a_worker_reaches_neither_the_zygote_nor_a_sibling(unguarded: WorkerBackend) -> None:
    """It refuses every signal and pidfd a worker aims at the zygote or a sibling worker, and
    socket pairs, threads and forks; the zygote and the sibling stay alive (doctor's attacks)."""
    results = worker_attacks(unguarded)
    assert len(results) == 11
    assert all(held for held, _, _ in results), [r for r in results if not r[0]]
    assert unguarded.execute("result = 'still serving'").result == "still serving"


@pytest.mark.parametrize(
    "code",
    [
        "import socket\nsocket.socketpair()",
        "import socket\nsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
        "import os\nos.fork()",
        "import os\nos.posix_spawn('/bin/true', ['true'], {})",
        "import threading\nthreading.Thread(target=print).start()",
        "import os, signal\nos.killpg(os.getppid(), signal.SIGKILL)",
        "import os, signal\nos.kill(-1, signal.SIGKILL)",
        "import signal, os\nsignal.pidfd_send_signal(os.pidfd_open(os.getppid()), 9)",
    ],
    ids=["socketpair", "socket", "fork", "posix_spawn", "thread", "killpg", "kill-all", "pidfd"],
)
def test_a_worker_cannot_do_what_only_the_zygote_may(unguarded: WorkerBackend, code: str) -> None:
    """It refuses, in a worker, each thing the zygote's own filter allows the zygote."""
    zygote = unguarded._zygote.pid
    result = unguarded.execute(code)
    assert result.status == "error", result
    assert process_state(zygote) is not None
    assert unguarded.execute("result = 1").result == 1


def test_a_worker_can_still_signal_itself(unguarded: WorkerBackend) -> None:
    """It lets a worker send signals to itself, as before the zygote was locked."""
    code = (
        "import os, signal\n"
        "got = []\n"
        "signal.signal(signal.SIGUSR1, lambda *a: got.append(1))\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "signal.raise_signal(signal.SIGUSR1)\n"
        "result = len(got)"
    )
    assert unguarded.execute(code).result == 2


# -- each worker layer alone ---------------------------------------------------------------


def _fork_grandchildren(
    setup: object, worker_setup: object, attack: object
) -> dict[str, str]:  # pragma: no cover - runs in the child
    """In the calling (forked) child: ``setup()`` as a zygote would, fork a sibling that sleeps
    and a worker that runs ``worker_setup()`` then ``attack(zygote, sibling)``; the attack's
    outcomes, and whether the zygote could still kill the sibling."""
    setup()  # type: ignore[operator]
    zygote = os.getpid()
    sibling = os.fork()
    if sibling == 0:
        worker_setup()  # type: ignore[operator]
        signal.pause()
        os._exit(0)
    read_end, write_end = os.pipe()
    worker = os.fork()
    if worker == 0:
        os.close(read_end)
        worker_setup()  # type: ignore[operator]
        report = attack(zygote, sibling)  # type: ignore[operator]
        os.write(write_end, repr(report).encode())
        os._exit(0)
    os.close(write_end)
    raw = os.read(read_end, 4096).decode()
    os.waitpid(worker, 0)
    killed = outcome(lambda: os.kill(sibling, signal.SIGKILL))
    os.waitpid(sibling, 0)
    import ast

    found: dict[str, str] = ast.literal_eval(raw)
    found["zygote kills its worker"] = killed
    return found


def _signal_attacks(zygote: int, sibling: int) -> dict[str, str]:  # pragma: no cover - child
    return {
        "kill zygote": outcome(lambda: os.kill(zygote, 0)),
        "kill sibling": outcome(lambda: os.kill(sibling, 0)),
        "tgkill sibling": outcome(lambda: syscall("tgkill", sibling, sibling, 0)),
        "kill itself": outcome(lambda: os.kill(os.getpid(), 0)),
    }


@pytest.mark.skipif(not _CAN_SCOPE, reason="Landlock signal scoping needs ABI >= 6")
def test_the_nested_landlock_domain_alone_keeps_signals_in() -> None:
    """It keeps a worker from signalling the zygote or a sibling with its nested scope-only
    Landlock domain alone (no seccomp), while the zygote can still kill its workers."""
    scope = landlock.create_scope_ruleset(landlock.abi_version())

    def zygote_setup() -> None:
        privileges.set_no_new_privs()
        landlock.restrict_self_keep(scope)

    report = run_in_child(
        lambda: _fork_grandchildren(
            zygote_setup, lambda: landlock.restrict_self_keep(scope), _signal_attacks
        )
    )
    assert report.value == {
        "kill zygote": "PermissionError:EPERM",
        "kill sibling": "PermissionError:EPERM",
        "tgkill sibling": "PermissionError:EPERM",
        "kill itself": "ok",
        "zygote kills its worker": "ok",
    }


def test_the_stacked_filter_alone_keeps_signals_and_processes_in() -> None:
    """It keeps a worker from signalling the zygote or a sibling, and from making socket pairs,
    pidfds, threads or processes, with the zygote's and the worker's filters alone (no
    Landlock), while the zygote under its own filter still forks and kills."""
    zygote_filter = seccomp.build_zygote_filter()
    stack = seccomp.PreparedFilter(seccomp.build_worker_stack())

    def zygote_setup() -> None:
        privileges.set_no_new_privs()
        seccomp.install_filter(zygote_filter)

    def attacks(zygote: int, sibling: int) -> dict[str, str]:  # pragma: no cover - child
        found = _signal_attacks(zygote, sibling)
        found["socketpair"] = outcome(socket.socketpair)
        found["pidfd_open"] = outcome(lambda: os.pidfd_open(zygote))
        found["fork"] = outcome(lambda: os._exit(0) if os.fork() == 0 else None)
        found["thread"] = outcome(lambda: threading.Thread(target=print).start())
        return found

    report = run_in_child(
        lambda: _fork_grandchildren(zygote_setup, lambda: stack.install(os.getpid()), attacks)
    )
    assert report.value == {
        "kill zygote": "PermissionError:EPERM",
        "kill sibling": "PermissionError:EPERM",
        "tgkill sibling": "PermissionError:EPERM",
        "kill itself": "ok",
        "socketpair": "PermissionError:EPERM",
        "pidfd_open": "PermissionError:EPERM",
        "fork": "PermissionError:EPERM",
        "thread": "RuntimeError",
        "zygote kills its worker": "ok",
    }


def test_the_zygote_filter_allows_a_fork_and_nothing_else_that_clones() -> None:
    """It lets the zygote fork (os.fork and libc's fork) and refuses it threads, namespaces,
    sockets other than pairs, and every call the worker filter refuses."""

    def body() -> dict[str, str]:  # pragma: no cover - runs in the child
        privileges.set_no_new_privs()
        seccomp.install_filter(seccomp.build_zygote_filter())

        def fork_with(fork: object) -> None:
            pid = fork()  # type: ignore[operator]
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)

        return {
            "os.fork": outcome(lambda: fork_with(os.fork)),
            "fast_fork": outcome(lambda: fork_with(fast_fork)),
            "socketpair": outcome(lambda: [s.close() for s in socket.socketpair()]),
            "thread": outcome(lambda: threading.Thread(target=print).start()),
            "unshare": outcome(lambda: syscall("unshare", 0x40000000)),  # CLONE_NEWNET
            "socket": outcome(socket.socket),
            "execve": outcome(lambda: os.execv("/bin/true", ["true"])),
        }

    assert run_in_child(body).value == {
        "os.fork": "ok",
        "fast_fork": "ok",
        "socketpair": "ok",
        "thread": "RuntimeError",
        "unshare": "PermissionError:EPERM",
        "socket": "PermissionError:EPERM",
        "execve": "PermissionError:EPERM",
    }


def test_the_two_filters_together_refuse_what_the_worker_filter_refuses() -> None:
    """It leaves a worker under the zygote's filter plus its own with no call the single
    worker filter refuses (the set of refused call numbers, compared by running them)."""
    numbers = ARCH.numbers if ARCH is not None else {}
    single = set(seccomp.DENIED_SYSCALLS)
    zygote_allows = set(seccomp.ZYGOTE_NEEDS)
    stack_refuses = {"clone", *seccomp.ZYGOTE_NEEDS}
    assert zygote_allows <= stack_refuses
    assert {n for n in single if n in numbers} <= (single - zygote_allows) | stack_refuses


def test_fast_fork_reseeds_the_shared_random_generator() -> None:
    """It gives each fast-forked child its own ``random`` sequence (CPython's own after-fork
    hook, which it skips, would have reseeded it)."""

    def body() -> list[float]:  # pragma: no cover - runs in the child
        values = []
        for _ in range(3):
            read_end, write_end = os.pipe()
            pid = fast_fork()
            if pid == 0:
                os.write(write_end, repr(random.random()).encode())
                os._exit(0)
            os.close(write_end)
            values.append(float(os.read(read_end, 64)))
            os.close(read_end)
            os.waitpid(pid, 0)
        values.append(random.random())
        return values

    values = run_in_child(body).value
    assert len(set(values)) == 4, values


def test_a_zygote_with_a_second_thread_is_not_locked(tmp_path: Path) -> None:
    """It never locks (nor fast-forks) a zygote that has a second thread: each worker then
    locks itself down whole, as before."""
    from ai_sandbox.isolation import layers
    from ai_sandbox.isolation.worker_policy import WorkerPolicy

    def body() -> dict[str, object]:  # pragma: no cover - runs in the child
        os.chdir(tmp_path)
        uid = os.geteuid()
        policy = WorkerPolicy.from_json(POLICY.model_dump(mode="json"))
        plan = layers.prepare_zygote(policy, required=frozenset())
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait)
        thread.start()
        try:
            locked = layers.lock_zygote(plan)
        finally:
            stop.set()
            thread.join()
        return {
            "locked": list(locked.locked),
            "seccomp mode": prctl(21),  # PR_GET_SECCOMP: the view hides /proc
            "same uid": os.geteuid() == uid,
        }

    assert run_in_child(body).value == {"locked": [], "seccomp mode": 0, "same uid": True}


def test_workers_of_a_locked_zygote_die_with_it(tmp_path: Path) -> None:
    """It kills a waiting worker when its (locked) zygote is killed (pdeathsig, set by the
    worker itself after the fork)."""
    backend = WorkerBackend(tmp_path, POLICY)
    try:
        worker = backend._pool.take()
        os.kill(backend._zygote.pid, signal.SIGKILL)
        assert wait_readable(worker.pidfd, 5.0)
        worker.close()
    finally:
        backend.close()
