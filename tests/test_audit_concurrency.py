"""Many writers, one chain; and a writer killed mid-stream leaves a torn tail, not a mess."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from audit_support import append_records, make_log

from ai_sandbox.audit import AuditLog, read_records, verify

PROCESSES = 4
CALLS = 500


def test_four_processes_append_one_unbroken_chain(tmp_path: Path) -> None:
    """It serialises 4 processes x 500 appends: every record once, one intact chain."""
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=append_records, args=(str(path), CALLS, f"p{i}", "never"))
        for i in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    records = list(read_records(path))
    ids = Counter(r["call_id"] for r in records if r["event"] == "requested")
    assert len(ids) == PROCESSES * CALLS
    assert set(ids.values()) == {1}
    assert [r["seq"] for r in records] == list(range(PROCESSES * CALLS + 1))
    report = verify(path)
    assert report.ok, report.summary()


def test_threads_sharing_one_log_append_one_chain(tmp_path: Path) -> None:
    """It serialises threads sharing one AuditLog (flock alone would not)."""
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync="never") as log:

        def write(n: int) -> None:
            for i in range(100):
                log.record("note", call_id=f"t{n}-{i}")

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert verify(path).records == 401


def test_processes_rotating_one_log_keep_one_chain(tmp_path: Path) -> None:
    """It keeps one chain across files when several processes rotate the same log."""
    path = tmp_path / "audit.jsonl"
    code = (
        "import sys; from ai_sandbox.audit import AuditLog\n"
        "with AuditLog(sys.argv[1], fsync='never', max_bytes=4096) as log:\n"
        "    for n in range(150): log.record('note', call_id=f'{sys.argv[2]}-{n}')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), f"w{i}"]) for i in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    report = verify(path)
    assert report.ok, report.summary()
    notes = [r for r in read_records(path) if r["event"] == "note"]
    assert len(notes) == len({r["call_id"] for r in notes}) == 450


_KILLED_WRITER = """
import sys
from ai_sandbox.audit import AuditLog
log = AuditLog(sys.argv[1], fsync="never")
log.record("note")
print("ready", flush=True)
while True:
    log.record("note", blob="x" * 32_000_000)
"""


def _kill_mid_write(path: Path) -> None:
    """Start a writer of 32 MB records; SIGKILL it the moment the file ends mid-line."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    fd = os.open(path, os.O_RDONLY)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            size = os.fstat(fd).st_size
            if size > 1_000_000 and os.pread(fd, 1, size - 1) != b"\n":
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        os.close(fd)
        proc.wait()
        proc.stdout.close()


def test_a_writer_killed_mid_write_leaves_a_torn_tail(tmp_path: Path) -> None:
    """It reports a torn tail after SIGKILL mid-write, and every complete record verifies."""
    for attempt in range(5):  # the write may finish between our look and the kill: retry
        path = tmp_path / f"audit{attempt}.jsonl"
        _kill_mid_write(path)
        report = verify(path)
        assert report.ok or report.problem == "torn_tail", report.summary()
        assert report.records >= 2
        if not report.ok:
            break
    assert report.problem == "torn_tail", "no kill landed inside a write in 5 attempts"
    assert report.first_bad_seq == report.records
    assert "not tampering" in report.detail
    assert not path.read_bytes().endswith(b"\n")
    path.unlink()


def test_the_next_writer_seals_a_torn_tail(tmp_path: Path) -> None:
    """It terminates a torn line with a `recovered` record and the chain verifies again."""
    path = make_log(tmp_path / "audit.jsonl", 3)
    with path.open("ab") as f:
        f.write(b'{"event":"requested","seq":4,"tool":"rea')  # what a killed writer leaves
    assert verify(path).problem == "torn_tail"
    make_log(path, 1)
    report = verify(path)
    assert report.ok, report.summary()
    assert "sealed" in report.notes[0]
    events = [r["event"] for r in read_records(path)]
    assert events[-2:] == ["recovered", "requested"]
