"""``ai-sandbox batch``: a JSONL file in, a JSONL file out, resumable, with progress."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai_sandbox.audit import verify
from ai_sandbox.batch.progress import Progress

SCRIPT = [sys.executable, "-m", "ai_sandbox.cli"]


def _write_programs(path: Path, programs: list[dict[str, object] | str]) -> None:
    path.write_text(
        "".join((p if isinstance(p, str) else json.dumps(p)) + "\n" for p in programs),
        encoding="utf-8",
    )


def _batch(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SCRIPT, "batch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_it_scores_a_file_and_summarises(tmp_path: Path) -> None:
    """It writes one result line per program (id, status, result, stdout, error, duration_ms,
    layers) and ends with counts per status; exit status 0 although programs failed."""
    _write_programs(
        tmp_path / "in.jsonl",
        [
            {"id": "a", "code": "print('hi')\nresult = x * 2", "inputs": {"x": 21}},
            {"id": 7, "code": "result = 1 / 0"},
            {"id": "loop", "code": "while True:\n    pass"},
        ],
    )
    out = _batch("in.jsonl", "-o", "out.jsonl", "--timeout", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    by_id = {r["id"]: r for r in _records(tmp_path / "out.jsonl")}
    assert by_id["a"]["status"] == "ok"
    assert by_id["a"]["result"] == 42
    assert by_id["a"]["stdout"] == "hi\n"
    assert by_id[7]["status"] == "error"
    assert by_id["loop"]["status"] == "timeout"
    for record in by_id.values():
        assert {"duration_ms", "layers", "error", "isolation"} <= set(record)
    assert "3 programs run" in out.stdout
    assert "ok 1, error 1, rejected 0, timeout 1, limit 0" in out.stdout


def test_bad_lines_are_reported_with_their_number_and_skipped(tmp_path: Path) -> None:
    """It reports each bad line with its line number, skips it, and runs the rest."""
    _write_programs(
        tmp_path / "in.jsonl",
        [
            {"id": 1, "code": "result = 1"},
            "{not json",
            "[1, 2]",
            {"id": 1, "code": "result = 'again'"},
            {"id": True, "code": "result = 1"},
            {"id": 3},
            {"id": 4, "code": "result = 4", "inputs": [1]},
            {"id": 5, "code": "result = 5", "extra": 1},
            "",
            {"id": 6, "code": "result = 6"},
        ],
    )
    (tmp_path / "in.jsonl").write_bytes((tmp_path / "in.jsonl").read_bytes() + b"\xff\xfe\n")
    out = _batch("in.jsonl", "-o", "out.jsonl", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for line, why in [
        (2, "not JSON"),
        (3, "expected a JSON object"),
        (4, "duplicate id 1 (first on line 1)"),
        (5, '"id" must be'),
        (6, '"code" must be'),
        (7, '"inputs" must be'),
        (8, "unknown fields: extra"),
        (11, "not UTF-8"),
    ]:
        assert f"in.jsonl:{line}: skipped: {why}" in out.stderr
    assert sorted(r["id"] for r in _records(tmp_path / "out.jsonl")) == [1, 6]
    assert "8 bad lines" in out.stdout


def test_a_rerun_skips_ids_already_done_and_repairs_a_torn_line(tmp_path: Path) -> None:
    """It resumes: ids already in the output are skipped, a torn last line is cut off and its
    program runs again, and every id ends up exactly once."""
    _write_programs(tmp_path / "in.jsonl", [{"id": i, "code": f"result = {i}"} for i in range(6)])
    output = tmp_path / "out.jsonl"
    done = [{"id": 0, "status": "ok", "result": 0}, {"id": "1", "status": "ok", "result": 1}]
    output.write_text(
        "".join(json.dumps(d) + "\n" for d in done) + '{"id": 2, "status": "o', encoding="utf-8"
    )
    out = _batch("in.jsonl", "-o", "out.jsonl", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = output.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    # id 0 was done; "1" (a string) is not id 1; the torn id 2 ran again.
    assert sorted(str(r["id"]) for r in records) == ["0", "1", "1", "2", "3", "4", "5"]
    assert "1 already done (skipped)" in out.stdout
    again = _batch("in.jsonl", "-o", "out.jsonl", cwd=tmp_path)
    assert "0 programs run" in again.stdout
    assert "6 already done" in again.stdout
    assert output.read_text(encoding="utf-8").splitlines() == lines


def test_a_killed_run_loses_only_programs_in_flight(tmp_path: Path) -> None:
    """It survives SIGKILL mid-batch: every line written is whole, and a rerun completes the
    batch with each id exactly once."""
    count = 60
    _write_programs(
        tmp_path / "in.jsonl",
        [
            {"id": i, "code": f"x = 0\nfor k in range(300000):\n    x += k\nresult = {i}"}
            for i in range(count)
        ],
    )
    output = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [*SCRIPT, "batch", "in.jsonl", "-o", "out.jsonl", "--jobs", "2"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if output.exists() and output.read_text(encoding="utf-8").count("\n") >= 5:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    first = output.read_text(encoding="utf-8")
    assert 5 <= first.count("\n") < count
    out = _batch("in.jsonl", "-o", "out.jsonl", cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    ids = [r["id"] for r in _records(output)]
    assert sorted(ids) == list(range(count))


def test_the_audit_log_records_the_batch_as_one_session(tmp_path: Path) -> None:
    """It writes a verifiable audit log: one batch session, a request and an outcome a program."""
    _write_programs(
        tmp_path / "in.jsonl",
        [{"id": 1, "code": "result = 1"}, {"id": 2, "code": "import os"}],
    )
    out = _batch("in.jsonl", "-o", "out.jsonl", "--audit", "audit.jsonl", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = verify(tmp_path / "audit.jsonl")
    assert report.ok
    records = _records(tmp_path / "audit.jsonl")
    sessions = {r["session"] for r in records}
    assert len(sessions) == 1
    assert next(iter(sessions)).startswith("batch-")
    events = sorted(r["event"] for r in records if r.get("tool") == "run_python")
    assert events == ["completed", "refused", "requested", "requested"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl", "-o", "out.jsonl"], "is not a readable file"),
        (["in.jsonl", "-o", "in.jsonl"], "must not be the input file"),
        (["in.jsonl", "-o", "no/such/dir/out.jsonl"], "cannot open"),
        (["in.jsonl", "-o", "out.jsonl", "--jobs", "0"], "jobs must be"),
        (["in.jsonl", "-o", "out.jsonl", "--timeout", "-1"], "timeout_s"),
    ],
    ids=["no-input", "same-file", "bad-output", "bad-jobs", "bad-timeout"],
)
def test_the_tools_own_failures_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    """It exits 2 with one clear line (no traceback) when the tool itself cannot work."""
    _write_programs(tmp_path / "in.jsonl", [{"id": 1, "code": "result = 1"}])
    out = _batch(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_progress_is_a_bar_on_a_terminal_and_lines_in_a_log() -> None:
    """It redraws one bar (rate, ETA) on a terminal and prints plain lines otherwise."""
    tty, log = io.StringIO(), io.StringIO()
    for stream, is_tty in ((tty, True), (log, False)):
        progress = Progress(stream, total=4, tty=is_tty, interval_s=0)
        for status in ("ok", "ok", "timeout"):
            progress.add(status)
        progress.finish()
    assert tty.getvalue().startswith("\r[")
    assert "ETA" in tty.getvalue()
    assert tty.getvalue().endswith("\n")
    assert tty.getvalue().count("\n") == 1
    assert log.getvalue().splitlines()[-1].startswith("batch: 3/4 (75%)")
    assert "ok 2 not ok 1" in log.getvalue()
