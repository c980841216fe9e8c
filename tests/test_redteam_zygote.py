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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from layers_support import run_in_child

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
