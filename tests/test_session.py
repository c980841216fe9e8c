"""``Sandbox.session()``: a long-lived locked-down worker that keeps variables between runs."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from layers_support import FIND_CHANNEL, wait_for

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.backend_protocol import ExecutionSession
from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.isolation import worker_backend
from ai_sandbox.isolation.layers import LAYER_NAMES
from ai_sandbox.isolation.worker_backend import WorkerBackend, WorkerSession
from ai_sandbox.session import Session

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


def test_a_timeout_interrupts_and_keeps_the_state(session: ExecutionSession) -> None:
    """It interrupts a run at the timeout (KeyboardInterrupt) and keeps the variables."""
    session.run("kept = 41")
    start = time.monotonic()
    result = session.run("while True:\n    pass")
    assert result.status == "timeout"
    assert time.monotonic() - start < 1.5
    assert result.error is not None
    assert "interrupted" in result.error.message
    assert result.notice is None
    assert session.run("result = kept + 1").result == 42


def test_an_interrupt_keeps_the_output_printed_so_far(session: ExecutionSession) -> None:
    """It returns what the interrupted run printed before its deadline."""
    result = session.run("print('started')\nwhile True:\n    pass")
    assert result.status == "timeout"
    assert result.stdout.startswith("started")


def test_an_interrupt_during_file_reads_leaves_the_channel_usable(
    session: ExecutionSession,
) -> None:
    """It holds the interrupt back while a file request is on the channel, so the session
    goes on after a run that was reading files at its deadline."""
    session.run("kept = 'still here'")
    result = session.run("while True:\n    open('data.txt').read()")
    assert result.status == "timeout"
    assert result.notice is None
    assert session.run("result = kept").result == "still here"
    assert session.run("result = open('data.txt').read()").result == "42"


IGNORES_THE_INTERRUPT = """
while True:
    try:
        while True:
            pass
    except KeyboardInterrupt:
        pass
"""


def test_code_that_ignores_the_interrupt_is_killed_and_the_session_starts_clean(
    session: ExecutionSession,
) -> None:
    """It kills a worker that catches the interrupt and runs on (the wall clock is the
    authority); the result says the state was reset, and the next run starts clean."""
    session.run("kept = 1")
    start = time.monotonic()
    result = session.run(IGNORES_THE_INTERRUPT)
    assert time.monotonic() - start < 3.0
    assert result.status == "timeout"
    assert result.notice is not None
    assert "the Python state was reset because" in result.notice
    assert "gone" in result.notice
    later = session.run("result = kept")
    assert later.status == "error"
    assert later.error is not None
    assert later.error.type == "NameError"
    assert session.run("result = 'usable'").result == "usable"


def test_a_per_call_timeout_shortens_the_limit(session: ExecutionSession) -> None:
    """It stops a session run at the shorter limit the call asks for."""
    assert isinstance(session, Session)
    start = time.monotonic()
    result = session.run("while True:\n    pass", timeout_s=0.2)
    assert result.status == "timeout"
    assert time.monotonic() - start < 0.9
    assert result.error is not None
    assert "0.2 s" in result.error.message


@pytest.mark.parametrize("bad", [2.0, 0, -1, float("nan"), float("inf"), "1", True])
def test_a_per_call_timeout_above_the_policy_is_a_configuration_error(
    sandbox: Sandbox, bad: object
) -> None:
    """It refuses a per-call limit above the policy's (or not a positive number) as the
    developer's mistake, on Sandbox.run and Session.run."""
    with pytest.raises(ConfigurationError):
        sandbox.run("result = 1", timeout_s=bad)  # type: ignore[arg-type]
    with closing(sandbox.session()) as live, pytest.raises(ConfigurationError):
        live.run("result = 1", timeout_s=bad)  # type: ignore[arg-type]


def test_a_per_call_timeout_on_sandbox_run(sandbox: Sandbox) -> None:
    """It stops a single-use run at the shorter limit the call asks for."""
    result = sandbox.run("while True:\n    pass", timeout_s=0.2)
    assert result.status == "timeout"
    assert result.error is not None
    assert "0.2 s" in result.error.message


def test_a_memory_kill_resets_only_the_session(sandbox: Sandbox) -> None:
    """It reports a memory bomb as a limit; the session goes on (with its state if the worker
    survived, clean and saying so if the kernel killed it) and the Sandbox keeps working."""
    with closing(sandbox.session()) as live:
        live.run("blocks = []\nkept = 'yes'")
        result = live.run("while True:\n    blocks.append('x' * (8 * 1024 * 1024))")
        assert result.status == "limit"
        later = live.run("result = kept")
        if result.notice is None:  # MemoryError in the worker: it lives on
            assert later.result == "yes"
        else:
            assert "the Python state was reset" in result.notice
            assert later.status == "error"
        assert live.run("result = 3").result == 3
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


def test_a_result_frame_for_another_job_resets_the_session(
    unguarded_session: WorkerSession,
) -> None:
    """It refuses a result frame that does not carry the run's job id (one the code forged or
    left queued) and kills the worker: a stale frame is never read as a later run's result,
    and the next run starts clean in a new worker."""
    pid = unguarded_session._worker.pid if unguarded_session._worker else 0
    forged = unguarded_session.run(QUEUE_A_FRAME)
    assert forged.status == "error"
    assert forged.error is not None
    assert forged.error.type == "WorkerError"
    assert "another job" in forged.error.message
    assert forged.notice is not None
    assert "the Python state was reset" in forged.notice
    later = unguarded_session.run("result = 'fresh'")
    assert later.result == "fresh"
    assert unguarded_session._worker is not None
    assert unguarded_session._worker.pid != pid


IGNORES_SIGINT = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
kept = 1
while True:
    pass
"""


def test_a_replaced_sigint_handler_ends_in_a_kill(unguarded_session: WorkerSession) -> None:
    """It kills a worker whose code ignores SIGINT (the language guard off) when the grace
    period ends, and says the state was reset."""
    result = unguarded_session.run(IGNORES_SIGINT)
    assert result.status == "timeout"
    assert result.notice is not None
    assert "the Python state was reset" in result.notice
    assert unguarded_session.run("result = 'kept' in globals()").result is False


def test_a_sigint_handler_does_not_outlive_its_run(unguarded_session: WorkerSession) -> None:
    """It installs its interrupt handler again before every run: a handler the code set in
    one run does not keep a later run from being interrupted."""
    assert unguarded_session.run(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nkept = 7"
    ).ok
    result = unguarded_session.run("while True:\n    pass")
    assert result.status == "timeout"
    assert result.notice is None
    assert unguarded_session.run("result = kept").result == 7


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


def test_a_worker_that_ran_while_frozen_resets_the_session(
    unguarded_session: WorkerSession,
) -> None:
    """It kills the worker when its CPU time grew while it was frozen: a worker that found a
    way to wake itself (here the test sends the SIGCONT) is caught at the next run, which
    starts clean in a new worker and says why."""
    pid = unguarded_session._worker.pid
    assert unguarded_session.run(RESUMES_ITSELF).result == "armed"
    assert _wait_until(lambda: _proc_stat(pid)[0] == "T")
    os.kill(pid, signal.SIGCONT)
    time.sleep(0.1)
    assert _wait_until(lambda: _proc_stat(pid)[0] == "T")
    later = unguarded_session.run("result = 'armed' in globals()")
    assert later.result is False  # a new worker, a clean state
    assert later.notice is not None
    assert "ran between runs" in later.notice


def test_a_worker_gone_between_runs_is_reported_as_gone(
    unguarded_session: WorkerSession,
) -> None:
    """It says the worker has gone when it died while frozen (not that it could not be
    frozen), and runs the next code in a new worker."""
    pid = unguarded_session._worker.pid
    assert unguarded_session.run("result = 1").result == 1
    os.kill(pid, signal.SIGKILL)
    later = unguarded_session.run("result = 2")
    assert later.result == 2
    assert later.notice is not None
    assert "has gone" in later.notice


def _not_yet_stopped(session: WorkerSession) -> int:
    """Let the session's frozen worker run again (state ``S``), as if the ``SIGSTOP`` of the
    last run had not landed yet; its pid."""
    assert session._worker is not None
    pid = session._worker.pid
    assert _wait_until(lambda: _proc_stat(pid)[0] == "T")
    os.kill(pid, signal.SIGCONT)
    assert _wait_until(lambda: _proc_stat(pid)[0] != "T")
    return pid


def test_a_stop_not_landed_yet_is_awaited_without_sleeping_a_millisecond(
    unguarded_session: WorkerSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It looks again at once (yielding the CPU, then pauses growing from microseconds), not
    after sleeping a millisecond, when a run comes before the last one's stop has landed; and
    it still waits for the stop before it resumes the worker."""
    assert unguarded_session.run("kept = 7").ok
    pid = _not_yet_stopped(unguarded_session)
    caller = threading.get_ident()
    pauses: list[float] = []
    real_sleep, real_yield = time.sleep, os.sched_yield

    def noted(seconds: float) -> None:
        if threading.get_ident() == caller:
            pauses.append(seconds)
            if len(pauses) == 5:
                os.kill(pid, signal.SIGSTOP)  # the stop lands only now

    def sleep(seconds: float) -> None:
        noted(seconds)
        real_sleep(seconds)

    def sched_yield() -> None:
        noted(0.0)
        real_yield()

    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setattr(os, "sched_yield", sched_yield)
    result = unguarded_session.run("result = kept")
    monkeypatch.undo()
    assert result.result == 7
    assert result.notice is None
    assert len(pauses) >= 5
    assert sum(pauses[:5]) < 0.001  # five looks before a millisecond's worth of sleep


def test_a_worker_that_never_stops_resets_the_session(
    unguarded_session: WorkerSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It gives up on a worker that does not show it stopped within the wait (the stop never
    lands) and runs the next code in a new worker, saying why."""
    monkeypatch.setattr(worker_backend, "_PAUSE_WAIT_S", 0.3)
    assert unguarded_session.run("kept = 1").ok
    pid = _not_yet_stopped(unguarded_session)
    later = unguarded_session.run("result = 'kept' in globals()")
    assert later.result is False
    assert later.notice is not None
    assert "could not be frozen between runs" in later.notice
    assert unguarded_session._worker is not None
    assert unguarded_session._worker.pid != pid


def _wait_until(predicate: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    return wait_for(predicate, timeout_s)


# -- lifetime, idle time, audit ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("limits", "why"),
    [
        pytest.param({"session_idle_s": 0.3}, "idle for more than 0.3 s", id="idle"),
        pytest.param({"session_lifetime_s": 0.3}, "lifetime of 0.3 s", id="lifetime"),
    ],
)
def test_an_expired_session_starts_clean_and_says_so(
    tmp_path: Path, limits: dict[str, float], why: str
) -> None:
    """It ends a session past the policy's idle time or lifetime; the next run starts clean
    and its notice says why."""
    with Sandbox(tmp_path, POLICY.model_copy(update=limits)) as box, box.session() as live:
        assert live.run("kept = 1").ok
        time.sleep(0.5)
        later = live.run("try:\n    result = kept\nexcept NameError:\n    result = False")
        assert later.notice is not None
        assert why in later.notice
        assert "the Python state was reset" in later.notice
        assert later.result is False
        assert live.run("kept = 2\nresult = kept").result == 2


def test_an_idle_session_is_ended_without_waiting_for_its_next_run(tmp_path: Path) -> None:
    """It stops the worker of a session idle past the limit when the sandbox is next asked
    for a session, not only when the idle session runs again."""
    policy = POLICY.model_copy(update={"session_idle_s": 0.3})
    with Sandbox(tmp_path, policy) as box, box.session() as idle:
        idle.run("x = 1")
        inner = idle._inner
        assert isinstance(inner, WorkerSession)
        assert inner._worker is not None
        pid = inner._worker.pid
        time.sleep(0.5)
        with box.session():
            pass
        assert _wait_until(lambda: not os.path.exists(f"/proc/{pid}") or _proc_stat(pid)[0] == "Z")
        assert "idle" in (idle.run("result = 1").notice or "")


def test_closing_the_sandbox_closes_session_objects(tmp_path: Path) -> None:
    """It ends every Session when the Sandbox closes; they answer SessionClosed."""
    box = Sandbox(tmp_path, POLICY)
    live = box.session()
    assert live.run("x = 1").ok
    box.close()
    assert live.closed
    later = live.run("result = x")
    assert later.error is not None
    assert later.error.type == "SessionClosed"


def test_the_audit_names_the_session_of_each_run(tmp_path: Path) -> None:
    """It records which session each run belonged to (``python_session``), through
    Session.run and Session.call; a single-use run names none."""
    from ai_sandbox.audit import AuditLog, read_records

    log_path = tmp_path / "audit.jsonl"
    root = tmp_path / "root"
    root.mkdir()
    with AuditLog(log_path) as log, Sandbox(root, POLICY, audit=log) as box:
        one, two = box.session(), box.session()
        one.run("x = 1")
        two.call("run_python", {"code": "y = 2"})
        box.run("result = 3")
        one.close()
        two.close()
    runs = [r for r in read_records(log_path) if r.get("tool") == "run_python"]
    assert [r.get("python_session") for r in runs] == [one.id, one.id, two.id, two.id, None, None]


def test_a_python_mode_session_is_interrupted_and_keeps_its_state(tmp_path: Path) -> None:
    """It interrupts a full-Python (language="python") session at the timeout and keeps the
    variables, as in restricted mode."""
    policy = POLICY.model_copy(update={"language": "python"})
    with Sandbox(tmp_path, policy) as box, box.session() as live:
        live.run("kept = 41")
        result = live.run("while True:\n    pass")
        assert result.status == "timeout"
        assert result.notice is None
        assert live.run("result = kept + 1").result == 42
