"""Workers forked in batches and warmed up in the pool (issue 13's job path).

The zygote forks every worker of one request back to back; a call that finds the pool empty
asks for its own worker and what the pool lacks in one request; a worker is verified (every
required layer in its hello) when it is taken, and fails closed there. Single-use workers run
in a namespace the zygote built once, each in its own copy, with nothing left of a warm-up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from layers_support import wait_for

from ai_sandbox import SandboxPolicy
from ai_sandbox.exceptions import IsolationUnavailable, WorkerError
from ai_sandbox.isolation.pool import WorkerPool
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.isolation.zygote_client import Worker, ZygoteInfo

POLICY = SandboxPolicy(timeout_s=5.0, pool_size=2)


@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBackend]:
    backend = WorkerBackend(tmp_path_factory.mktemp("batch"), POLICY, _language_guard=False)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBackend]:
    backend = WorkerBackend(tmp_path_factory.mktemp("guarded"), POLICY)
    yield backend
    backend.close()


def test_one_request_forks_a_batch_of_verified_workers(unguarded: WorkerBackend) -> None:
    """It starts three workers from one request to the zygote; each holds every required
    layer once verified, and runs its own job."""
    workers = unguarded._zygotes.start_workers(3, now=1)
    try:
        assert len(workers) == 3
        assert len({worker.pid for worker in workers}) == 3
        for worker in workers:
            assert set(unguarded.required) <= set(worker.ready().layers)
        results = [
            unguarded._run_on(worker, _job(f"result = {n} * 2")).result
            for n, worker in enumerate(workers)
        ]
    finally:
        for worker in workers:
            worker.close()
    assert [r.result for r in results] == [0, 2, 4]


def _job(code: str) -> Any:
    from ai_sandbox.isolation.worker_backend import _job as encode

    return encode(code, None)


def test_a_call_on_an_empty_pool_fills_it_in_the_same_request(tmp_path: Path) -> None:
    """It asks the zygote once for the caller's worker and what the pool lacks, when a call
    finds no worker waiting (the refill thread is not running here); none of them warms up,
    since calls come faster than the pool refills."""
    backend = WorkerBackend(tmp_path, POLICY.model_copy(update={"pool_size": 0}))
    requests: list[tuple[int, int]] = []

    def start(count: int, *, now: int = 0) -> list[Worker]:
        requests.append((count, now))
        return backend._zygotes.start_workers(count, now=now)

    pool = WorkerPool(start, backend._discard, size=3)  # not started: no refill thread
    try:
        first = pool.take()
        assert requests == [(4, 4)]
        assert pool.ready_count() == 3
        second = pool.take()  # from the pool: no request
        assert requests == [(4, 4)]
        assert set(backend.required) <= set(second.layers)
        for worker in (first, second):
            worker.close()
    finally:
        pool.close()
        backend.close()


def test_a_pooled_worker_missing_a_layer_fails_closed_when_taken(tmp_path: Path) -> None:
    """It refuses (IsolationUnavailable) to run on a worker whose hello lacks a required layer:
    verification moved from the spawn to the take, not away. Waiting workers that fail it are
    dropped, and the fresh one started instead fails it too and says which layer."""
    backend = WorkerBackend(tmp_path, POLICY)
    try:
        assert wait_for(lambda: backend._pool.ready_count() == POLICY.pool_size)
        backend._pool.take().close()  # the first worker, verified when the backend started
        backend._pool.refill()
        assert wait_for(lambda: backend._pool.ready_count() == POLICY.pool_size)
        info = backend._zygote.info
        backend._zygote.info = ZygoteInfo(
            info.required | {"imaginary_layer"}, info.probe, info.locked
        )
        # The waiting workers were started before the change: their checks use the zygote's
        # required set when they run, that is now.
        with pytest.raises(IsolationUnavailable, match="imaginary_layer"):
            backend._pool.take()
        result = backend.execute("result = 1")
    finally:
        backend.close()
    assert result.status == "error"
    assert result.error is not None
    assert "imaginary_layer" in result.error.message


@pytest.mark.parametrize(
    "failure",
    [
        WorkerError("a new worker sent a malformed greeting"),
        IsolationUnavailable("fs_view", "the walk of the root took longer than its budget"),
    ],
    ids=["died", "lockdown-failed"],
)
def test_a_waiting_worker_that_fails_its_check_is_dropped(
    unguarded: WorkerBackend, failure: Exception
) -> None:
    """It drops a waiting worker that fails its check (it died, or could not apply a layer
    this time) and hands out the next one, which passed it: as a failed refill always was."""
    gone, good = unguarded._zygotes.start_workers(2)

    def died(worker: Worker) -> tuple[str, ...]:
        raise failure

    gone.check = died
    served = iter([[gone, good]])
    pool = WorkerPool(lambda count, now=0: next(served), unguarded._discard, size=2)
    try:
        pool._ready.extend(next(served))
        taken = pool.take()
        assert taken is good
        assert gone.closed
        assert set(unguarded.required) <= set(taken.layers)
    finally:
        pool.close()
        good.close()


def test_nothing_of_the_warm_up_is_left_in_the_jobs_namespace(
    unguarded: WorkerBackend, tmp_path: Path
) -> None:
    """It gives the job a namespace holding exactly what a namespace built for it holds: the
    warm-up's names are gone (a warmed pool worker, RestrictedPython off)."""
    code = "result = sorted(k for k in globals() if k not in ('__builtins__',))"
    assert wait_for(lambda: unguarded._pool.ready_count() == POLICY.pool_size)
    time.sleep(0.2)  # the pooled workers have warmed up meanwhile
    warmed = unguarded.execute(code)
    from ai_sandbox.executor.runtime import execute_payload
    from ai_sandbox.security import SafeFS

    fresh = execute_payload(
        code, None, policy=POLICY, fs=SafeFS(tmp_path, POLICY), language_guard=False
    )
    assert warmed.result == fresh["result"]
    assert "warm" not in warmed.result
    assert "warm_up" not in warmed.result


@pytest.mark.parametrize("pause_s", [0.0, 0.2], ids=["taken-at-once", "warmed-in-the-pool"])
def test_each_worker_has_its_own_namespace_and_random(
    guarded: WorkerBackend, pause_s: float
) -> None:
    """It gives each call a namespace of its own copy (a name set by one call is unknown to
    the next) and its own random sequence, whether its worker warmed up or not."""
    time.sleep(pause_s)
    first = guarded.execute("import random\nleft_behind = 1\nresult = random.random()")
    time.sleep(pause_s)
    second = guarded.execute(
        "import random\n"
        "try:\n    left_behind\n    seen = True\nexcept NameError:\n    seen = False\n"
        "result = [seen, random.random()]"
    )
    assert first.status == "ok", first.error
    assert second.status == "ok", second.error
    assert second.result[0] is False
    assert second.result[1] != first.result
