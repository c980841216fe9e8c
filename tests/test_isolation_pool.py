"""Single-use workers from a pre-forked pool: no state survives a call; calls run in parallel."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.isolation import zygote_client
from ai_sandbox.isolation.exchange import Job, Outcome
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.isolation.zygote_client import Worker

POLICY = SandboxPolicy(timeout_s=2.0, pool_size=2)


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBackend]:
    """A strict backend without RestrictedPython (to try to leave state behind)."""
    backend = WorkerBackend(tmp_path_factory.mktemp("pool"), POLICY, _language_guard=False)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A default (strict, guarded) Sandbox."""
    with Sandbox(tmp_path_factory.mktemp("pool-sandbox"), POLICY) as box:
        yield box


def _wait_for(predicate: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.01)
    return False


def _kill_zygote(backend: WorkerBackend) -> None:
    """SIGKILL the backend's current zygote if it still runs, and wait until it is seen dead.

    A zygote that already died may have been reaped (``alive`` polls it), so its pid may be
    gone or even reused: the pid is pinned with a pidfd only while the zygote is still alive.
    """
    zygote = backend._zygote
    if zygote.alive:
        with contextlib.suppress(ProcessLookupError):
            pidfd = os.pidfd_open(zygote.pid)
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            finally:
                os.close(pidfd)
    assert _wait_for(lambda: not zygote.alive)


def test_each_call_gets_a_fresh_process(unguarded: WorkerBackend) -> None:
    """It runs every call in a different process that has never run other code."""
    pids = {unguarded.execute("import os\nresult = os.getpid()").result for _ in range(5)}
    assert len(pids) == 5
    assert os.getpid() not in pids


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("import math\nmath.pi = 3", "import math\nresult = math.pi", 3.141592653589793),
        ("import builtins\nbuiltins.len = lambda x: 0", "result = len('abc')", 3),
        ("import json\njson.dumps = None", "import json\nresult = json.dumps([1])", "[1]"),
        ("import sys\nsys.modules['math'] = None", "import math\nresult = math.e > 2", True),
    ],
    ids=["module-attribute", "builtins", "stdlib-function", "sys-modules"],
)
def test_no_mutation_survives_a_call(
    unguarded: WorkerBackend, first: str, second: str, expected: object
) -> None:
    """It shows no module or builtin mutation of one call in the next."""
    unguarded.execute(first)  # may fail once it has broken its own interpreter: no matter
    result = unguarded.execute(second)
    assert result.status == "ok"
    assert result.result == expected


def test_no_variable_survives_a_call(unguarded: WorkerBackend) -> None:
    """It starts every call with none of the previous call's variables."""
    assert unguarded.execute("leak = 41").ok
    result = unguarded.execute("result = leak + 1")
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "NameError"


def test_guarded_state_does_not_survive(sandbox: Sandbox) -> None:
    """It starts every guarded call with a fresh namespace too."""
    assert sandbox.run("secret = 'one'").ok
    result = sandbox.run("result = secret")
    assert result.status == "error"


def test_the_pool_refills_in_the_background(unguarded: WorkerBackend) -> None:
    """It replaces a used worker so the pool is back to pool_size ready workers."""
    unguarded.execute("result = 1")
    assert _wait_for(lambda: unguarded._pool.ready_count() == POLICY.pool_size)


def test_an_empty_pool_forks_on_demand(tmp_path: Path) -> None:
    """It still runs calls with pool_size=0, forking a worker per call."""
    backend = WorkerBackend(tmp_path, POLICY.model_copy(update={"pool_size": 0}))
    try:
        results = [backend.execute(f"result = {n}") for n in range(3)]
    finally:
        backend.close()
    assert [r.result for r in results] == [0, 1, 2]


def test_concurrent_calls_run_in_parallel_workers(unguarded: WorkerBackend) -> None:
    """It runs concurrent calls from threads at the same time, each in its own worker."""
    code = "import os, time\ntime.sleep(0.5)\nresult = [os.getpid(), n]"
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as threads:
        results = list(threads.map(lambda n: unguarded.execute(code, {"n": n}), range(4)))
    elapsed = time.monotonic() - start
    assert [r.result[1] for r in results] == [0, 1, 2, 3]
    assert len({r.result[0] for r in results}) == 4
    assert elapsed < 1.6  # four 0.5 s sleeps, not in series


def test_a_sandbox_is_thread_safe(sandbox: Sandbox) -> None:
    """It answers many calls from many threads, each with its own right result."""
    with ThreadPoolExecutor(max_workers=8) as threads:
        results = list(threads.map(lambda n: sandbox.run("result = n * n", {"n": n}), range(40)))
    assert [r.result for r in results] == [n * n for n in range(40)]


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    """It never runs more workers at once than its bound, however many threads call."""
    backend = WorkerBackend(tmp_path, POLICY, _language_guard=False)
    running = 0
    peak = 0
    lock = threading.Lock()
    original = backend._run_on

    def counting(worker: Worker, job: Job) -> Outcome:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return original(worker, job)
        finally:
            with lock:
                running -= 1

    backend._run_on = counting  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(max_workers=3 * backend.max_parallel) as threads:
            list(threads.map(lambda _: backend.execute("import time\ntime.sleep(0.05)"), range(40)))
    finally:
        backend.close()
    assert 1 < peak <= backend.max_parallel


def test_close_stops_every_process(tmp_path: Path) -> None:
    """It leaves no zygote or worker behind after close."""
    backend = WorkerBackend(tmp_path, POLICY)
    assert _wait_for(lambda: backend._pool.ready_count() == POLICY.pool_size)
    zygote = backend._zygote.pid
    children = _children_of(zygote)
    assert len(children) >= POLICY.pool_size
    backend.close()
    assert not os.path.exists(f"/proc/{zygote}")
    assert not any(os.path.exists(f"/proc/{pid}") for pid in children)


def test_a_closed_sandbox_refuses_to_run(tmp_path: Path) -> None:
    """It refuses calls after close with a clear error."""
    box = Sandbox(tmp_path, POLICY)
    box.close()
    with pytest.raises(ConfigurationError, match="closed"):
        box.run("result = 1")


def test_a_killed_zygote_is_replaced_transparently(tmp_path: Path) -> None:
    """It starts a new zygote when the old one was killed, and the next run succeeds."""
    backend = WorkerBackend(tmp_path, POLICY)
    try:
        old = backend._zygote.pid
        os.kill(old, signal.SIGKILL)
        assert _wait_for(lambda: not backend._zygote.alive)
        time.sleep(0.1)  # let the pooled workers die with it (pdeathsig)
        result = backend.execute("result = 6 * 7")
        new = backend._zygote.pid
    finally:
        backend.close()
    assert result.status == "ok", result.error
    assert result.result == 42
    assert new != old
    assert set(backend.required) <= set(result.layers)


def test_a_zygote_that_keeps_dying_fails_closed(tmp_path: Path) -> None:
    """It stops restarting a zygote that keeps dying and says so, instead of looping."""
    backend = WorkerBackend(tmp_path, POLICY.model_copy(update={"pool_size": 0}))
    results = []
    try:
        for _ in range(6):
            _kill_zygote(backend)  # after the supervisor gives up, it is already dead
            time.sleep(0.05)
            results.append(backend.execute("result = 1"))
        restarts = backend._zygotes.restarts
    finally:
        backend.close()
    last = results[-1]
    assert last.status == "error"
    assert last.error is not None
    assert last.error.type == "WorkerError"
    assert "not restarted again" in last.error.message
    assert restarts == 3


def test_a_zygote_that_cannot_start_again_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It reports a zygote that dies at start-up as an error result, a bounded number of times."""
    backend = WorkerBackend(tmp_path, POLICY.model_copy(update={"pool_size": 0}))
    try:
        backend.execute("result = 1")  # the one worker forked at start
        monkeypatch.setattr(zygote_client, "BOOTSTRAP", "import os; os._exit(3)")
        _kill_zygote(backend)
        results = [backend.execute("result = 1") for _ in range(5)]
    finally:
        backend.close()
    assert all(r.status == "error" for r in results)
    assert all(r.error is not None and r.error.type == "WorkerError" for r in results)
    assert results[0].error is not None
    assert "exited during startup" in results[0].error.message
    assert results[-1].error is not None
    assert "not restarted again" in results[-1].error.message


def _children_of(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(name))
    return found
