"""The audit trail records which files an isolated run's code read and wrote, and what the
host answered (path, bytes, outcome, rule; bounded per run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CANARY

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.audit import AuditLog
from ai_sandbox.audit.cli import main as audit_main
from ai_sandbox.audit.reader import read_records
from ai_sandbox.audit.review import actions

POLICY = SandboxPolicy(timeout_s=10.0, pool_size=1, allow_writes=True)

TOUCHES = """
text = open('data/in.txt').read()
with open('out/result.txt', 'w') as f:
    f.write(text.upper())
try:
    open('missing.txt').read()
except Exception:
    pass
result = len(text)
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "in.txt").write_text("hello files", encoding="utf-8")
    (tmp_path / "secret.txt").write_text(CANARY, encoding="utf-8")
    return root


def _runs(log_path: Path) -> list[dict[str, object]]:
    return [a for a in actions(read_records(log_path)) if a.get("tool") == "run_python"]


def test_a_runs_reads_and_writes_are_audited(root: Path, tmp_path: Path) -> None:
    """It records each file the run read or wrote, with its size and outcome."""
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path) as log, Sandbox(root, POLICY, audit=log) as box:
        result = box.run(TOUCHES)
    assert result.status == "ok", result
    assert [(f.op, f.path, f.size_bytes, f.outcome, f.rule) for f in result.files] == [
        ("read", "data/in.txt", 11, "ok", None),
        ("write", "out/result.txt", 11, "ok", None),
        ("read", "missing.txt", 0, "failed", "not_found"),
    ]
    (run,) = _runs(log_path)
    assert run["outcome"] == "completed"
    assert run["files"] == [
        {"op": "read", "path": "data/in.txt", "bytes": 11, "outcome": "ok"},
        {"op": "write", "path": "out/result.txt", "bytes": 11, "outcome": "ok"},
        {"op": "read", "path": "missing.txt", "bytes": 0, "outcome": "failed", "rule": "not_found"},
    ]
    assert run["files_omitted"] == 0
    assert "files" not in result.model_dump()  # the model reads the result, not the trail


def test_a_run_python_call_is_audited_with_its_files(root: Path, tmp_path: Path) -> None:
    """It records the files of a run made through Sandbox.call (the adapters' path) too."""
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path) as log, Sandbox(root, POLICY, audit=log) as box:
        result = box.call("run_python", {"code": "result = open('data/in.txt').read()"})
    assert result.ok, result
    assert "files" not in result.model_dump()
    (run,) = _runs(log_path)
    assert run["files"] == [{"op": "read", "path": "data/in.txt", "bytes": 11, "outcome": "ok"}]


def test_a_refused_file_request_is_audited(root: Path, tmp_path: Path) -> None:
    """It records a refused request with its rule, before the run's refusal, and no content."""
    log_path = tmp_path / "audit.jsonl"
    code = "a = open('data/in.txt').read()\nb = open('../secret.txt').read()"
    with AuditLog(log_path) as log, Sandbox(root, POLICY, audit=log) as box:
        result = box.run(code)
    assert result.status == "rejected"
    (run,) = _runs(log_path)
    assert run["outcome"] == "refused"
    assert run["rule"] == "outside_root"
    assert run["files"] == [
        {"op": "read", "path": "data/in.txt", "bytes": 11, "outcome": "ok"},
        {
            "op": "read",
            "path": "../secret.txt",
            "bytes": 0,
            "outcome": "refused",
            "rule": "outside_root",
        },
    ]
    assert CANARY not in log_path.read_text(encoding="utf-8")


def test_absolute_paths_under_the_root_are_recorded_relative(root: Path, tmp_path: Path) -> None:
    """It records a path the code gave absolute, under the root, relative to the root."""
    log_path = tmp_path / "audit.jsonl"
    code = f"result = open({str(root / 'data' / 'in.txt')!r}).read()"
    with AuditLog(log_path) as log, Sandbox(root, POLICY, audit=log) as box:
        result = box.run(code)
    (run,) = _runs(log_path)
    assert [f.path for f in result.files] == ["data/in.txt"]
    assert run["files"][0]["path"] == "data/in.txt"  # type: ignore[index]


def test_file_records_are_bounded_per_run(root: Path, tmp_path: Path) -> None:
    """It lists at most 100 file requests of a run and counts the rest."""
    log_path = tmp_path / "audit.jsonl"
    code = "for i in range(150):\n    open('data/in.txt').read()\nresult = 1"
    with AuditLog(log_path) as log, Sandbox(root, POLICY, audit=log) as box:
        result = box.run(code)
    assert result.status == "ok", result
    (run,) = _runs(log_path)
    assert len(run["files"]) == 100  # type: ignore[arg-type]
    assert run["files_omitted"] == 50
    assert (len(result.files), result.files_omitted) == (100, 50)


def test_session_runs_are_audited_per_run(root: Path, tmp_path: Path) -> None:
    """It records each session run's own file requests, not the earlier runs'."""
    log_path = tmp_path / "audit.jsonl"
    with (
        AuditLog(log_path) as log,
        Sandbox(root, POLICY, audit=log) as box,
        box.session() as session,
    ):
        session.run("a = open('data/in.txt').read()")
        session.run("result = a")
    first, second = _runs(log_path)
    assert [f["path"] for f in first["files"]] == ["data/in.txt"]  # type: ignore[index,union-attr]
    assert "files" not in second


def test_audit_show_names_the_files(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It shows a run's files in `ai-sandbox audit show`, refused ones first, and all in --json."""
    log_path = tmp_path / "audit.jsonl"
    code = "a = open('data/in.txt').read()\nb = open('../secret.txt').read()"
    with AuditLog(log_path) as log, Sandbox(root, POLICY, audit=log) as box:
        box.run(code)
    assert audit_main(["show", str(log_path)]) == 0
    table = capsys.readouterr().out
    assert "files[REFUSED outside_root: read ../secret.txt 0B; read data/in.txt 11B]" in table
    assert audit_main(["show", "--json", str(log_path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (run,) = [r for r in rows if r.get("tool") == "run_python"]
    assert len(run["files"]) == 2


@pytest.mark.parametrize(
    ("how", "in_session"),
    [("call", False), ("call", True), ("acall", False), ("acall", True)],
    ids=["call", "call-session", "acall", "acall-session"],
)
def test_every_call_path_audits_files_and_language(
    root: Path, tmp_path: Path, how: str, in_session: bool
) -> None:
    """It records the run's files and language however run_python was called: sync or async
    (the async OpenAI loop and LangChain's ainvoke), with or without a conversation."""
    import asyncio

    log_path = tmp_path / "audit.jsonl"
    code = {"code": "result = open('data/in.txt').read()"}
    with AuditLog(log_path) as log, Sandbox(root, POLICY, audit=log) as box:
        session = box.session() if in_session else None
        try:
            if how == "call":
                result = box.call("run_python", code, session=session)
            else:
                result = asyncio.run(box.acall("run_python", code, session=session))
        finally:
            if session is not None:
                session.close()
    assert result.ok, result
    (run,) = _runs(log_path)
    assert run["files"] == [{"op": "read", "path": "data/in.txt", "bytes": 11, "outcome": "ok"}]
    assert run["language"] == "restricted"
