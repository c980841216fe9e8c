"""``Sandbox.session()``: a long-lived locked-down worker that keeps variables between runs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from layers_support import FIND_CHANNEL

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.backend import ExecutionSession
from ai_sandbox.isolation.layers import LAYER_NAMES
from ai_sandbox.isolation.worker_backend import WorkerBackend, WorkerSession

POLICY = SandboxPolicy(timeout_s=1.0, memory_limit_mb=128, pool_size=1)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A strict Sandbox shared by the session tests."""
    root = tmp_path_factory.mktemp("session")
    (root / "data.txt").write_text("42", encoding="utf-8")
    with Sandbox(root, POLICY) as box:
        yield box


@pytest.fixture
def session(sandbox: Sandbox) -> Iterator[ExecutionSession]:
    """A fresh session, closed after the test."""
    live = sandbox.session()
    yield live
    live.close()


def test_variables_persist(session: ExecutionSession) -> None:
    """It keeps variables, functions and imports from one run to the next."""
    assert session.run("import math\ntotal = 40\ndef add(x):\n    return x + total").ok
    result = session.run("result = add(2) + int(math.sqrt(0))")
    assert result.status == "ok"
    assert result.result == 42


def test_inputs_arrive_in_each_run(session: ExecutionSession) -> None:
    """It passes each run's inputs into the kept namespace."""
    session.run("seen = []")
    for n in range(3):
        session.run("seen.append(n)", {"n": n})
    assert session.run("result = seen").result == [0, 1, 2]


def test_a_session_runs_in_an_isolated_worker(session: ExecutionSession) -> None:
    """It reports the same layers as a single-use run: every OS layer and the guard."""
    result = session.run("result = 1")
    assert result.layers == (*LAYER_NAMES, "wall_clock_kill", "restricted_python")
    assert result.isolation == "strict"


def test_reads_files_through_the_host(session: ExecutionSession) -> None:
    """It reads files beneath the root through the host, like single-use runs."""
    assert session.run("result = open('data.txt').read()").result == "42"


def test_sessions_do_not_share_state(sandbox: Sandbox) -> None:
    """It keeps two sessions (and single-use runs) apart."""
    with closing(sandbox.session()) as one, closing(sandbox.session()) as two:
        one.run("x = 'one'")
        assert two.run("result = x").status == "error"
        assert sandbox.run("result = x").status == "error"
        assert one.run("result = x").result == "one"


def test_an_error_does_not_end_the_session(session: ExecutionSession) -> None:
    """It keeps the session alive after the code raises."""
    session.run("kept = 1")
    assert session.run("1 / 0").status == "error"
    assert session.run("result = kept").result == 1


def test_a_timeout_ends_the_session(session: ExecutionSession) -> None:
    """It kills the worker at the timeout; later runs say the session ended."""
    start = time.monotonic()
    result = session.run("while True:\n    pass")
    assert result.status == "timeout"
    assert time.monotonic() - start < 1.5
    later = session.run("result = 1")
    assert later.status == "error"
    assert later.error is not None
    assert later.error.type == "SessionClosed"
    assert "timeout" in later.error.message


def test_a_memory_kill_ends_only_the_session(sandbox: Sandbox) -> None:
    """It reports a memory bomb as a limit; the Sandbox keeps working."""
    with closing(sandbox.session()) as live:
        live.run("blocks = []")
        result = live.run("while True:\n    blocks.append('x' * (8 * 1024 * 1024))")
        assert result.status == "limit"
    assert sandbox.run("result = 2").result == 2


def test_a_closed_session_says_so(session: ExecutionSession) -> None:
    """It answers runs after close with a SessionClosed error, not an exception."""
    session.close()
    session.close()  # idempotent
    result = session.run("result = 1")
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "SessionClosed"


def test_a_session_is_thread_safe(session: ExecutionSession) -> None:
    """It serialises runs from many threads on one session without losing any."""
    session.run("count = []")
    with ThreadPoolExecutor(max_workers=4) as threads:
        list(threads.map(lambda n: session.run("count.append(n)", {"n": n}), range(20)))
    assert sorted(session.run("result = count").result) == list(range(20))


def test_closing_the_sandbox_ends_its_sessions(tmp_path: Path) -> None:
    """It ends every open session when the Sandbox closes."""
    box = Sandbox(tmp_path, POLICY)
    live = box.session()
    live.run("x = 1")
    box.close()
    result = live.run("result = x")
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "SessionClosed"


def test_a_long_session_outlives_the_cpu_budget_of_one_run(session: ExecutionSession) -> None:
    """It lets a session spend more CPU in total than one run's limit allows."""
    spin = "n = 0\nfor i in range(200_000):\n    n += i\nresult = n"
    start = time.monotonic()
    while time.monotonic() - start < 3.5:  # more than RLIMIT_CPU (timeout + 2 s) in total
        result = session.run(spin)
        assert result.status == "ok", result
    assert session.run("result = 'alive'").result == "alive"


# -- between runs: the worker is frozen (the OS alone; RestrictedPython off) ------------------
LEFT_RUNNING = """
import signal
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
def burn(*_):
    n = 0
    for i in range(2_000_000):
        n += i
signal.signal(signal.SIGALRM, burn)
signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
result = 'left a timer running'
"""

QUEUE_A_FRAME = FIND_CHANNEL + """
import json, socket, struct
channel = socket.socket(fileno=CHANNEL_FD)
body = json.dumps({"type": "result", "payload": {"status": "ok", "result": "forged"}}).encode()
channel.sendall(struct.pack('>I', len(body)) + body)
channel.detach()  # the worker's own channel stays open
result = 'queued'
"""


@pytest.fixture
def unguarded_session(tmp_path: Path) -> Iterator[WorkerSession]:
    """A session whose worker runs plain Python (the language guard off)."""
    backend = WorkerBackend(tmp_path, POLICY, _language_guard=False)
    live = backend.session()
    assert isinstance(live, WorkerSession)
    yield live
    live.close()
    backend.close()


def _proc_stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat_file:
        return stat_file.read().rsplit(")", 1)[1].split()


def test_the_worker_is_frozen_between_runs(unguarded_session: WorkerSession) -> None:
    """It stops the worker (SIGSTOP) once a run has answered, and wakes it for the next."""
    pid = unguarded_session._worker.pid
    assert unguarded_session.run("result = 1").result == 1
    assert _wait_until(lambda: _proc_stat(pid)[0] == "T")
    assert unguarded_session.run("result = 2").result == 2


def test_code_left_running_burns_no_cpu_between_runs(unguarded_session: WorkerSession) -> None:
    """It keeps a timer handler the code left behind from running while no run is active."""
    pid = unguarded_session._worker.pid
    assert unguarded_session.run(LEFT_RUNNING).status == "ok"
    assert _wait_until(lambda: _proc_stat(pid)[0] == "T")
    before = _proc_stat(pid)
    time.sleep(1.0)
    after = _proc_stat(pid)
    # Fields 14 and 15 of /proc/<pid>/stat (here 11 and 12): user and system CPU ticks.
    assert int(after[11]) + int(after[12]) == int(before[11]) + int(before[12])


def test_a_result_frame_for_another_job_ends_the_session(
    unguarded_session: WorkerSession,
) -> None:
    """It refuses a result frame that does not carry the run's job id (one the code forged or
    left queued) and ends the session: a stale frame is never read as a later run's result."""
    forged = unguarded_session.run(QUEUE_A_FRAME)
    assert forged.status == "error"
    assert forged.error is not None
    assert forged.error.type == "WorkerError"
    assert "another job" in forged.error.message
    later = unguarded_session.run("result = 'fresh'")
    assert later.status == "error"
    assert later.error is not None
    assert later.error.type == "SessionClosed"


def test_each_run_answers_its_own_job(unguarded_session: WorkerSession) -> None:
    """It pairs every result with its run, run after run."""
    assert [unguarded_session.run(f"result = {n}").result for n in range(5)] == list(range(5))


RESUMES_ITSELF = """
import os, signal
def burn(*_):
    n = 0
    for i in range(3_000_000):
        n += i
    os.kill(os.getpid(), signal.SIGSTOP)  # and look frozen again
signal.signal(signal.SIGCONT, burn)
result = 'armed'
"""


def test_a_worker_that_ran_while_frozen_ends_the_session(
    unguarded_session: WorkerSession,
) -> None:
    """It ends the session when the worker's CPU time grew while it was frozen: a worker that
    found a way to wake itself (here the test sends the SIGCONT) is caught at the next run."""
    pid = unguarded_session._worker.pid
    assert unguarded_session.run(RESUMES_ITSELF).result == "armed"
    assert _wait_until(lambda: _proc_stat(pid)[0] == "T")
    os.kill(pid, signal.SIGCONT)
    time.sleep(0.1)
    assert _wait_until(lambda: _proc_stat(pid)[0] == "T")
    later = unguarded_session.run("result = 1")
    assert later.status == "error"
    assert later.error is not None
    assert later.error.type == "SessionClosed"
    assert "ran between runs" in later.error.message


def test_a_worker_gone_between_runs_is_reported_as_gone(
    unguarded_session: WorkerSession,
) -> None:
    """It says the worker has gone when it died while frozen (not that it could not be
    frozen)."""
    pid = unguarded_session._worker.pid
    assert unguarded_session.run("result = 1").result == 1
    os.kill(pid, signal.SIGKILL)
    later = unguarded_session.run("result = 2")
    assert later.status == "error"
    assert later.error is not None
    assert later.error.type == "SessionClosed"
    assert "has gone" in later.error.message


def _wait_until(predicate: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
