"""Sandbox + AuditLog: every action is requested, then has exactly one outcome."""

from __future__ import annotations

import hashlib
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox import ConfigurationError, Sandbox, SandboxPolicy, SecurityError
from ai_sandbox.audit import AuditLog, read_records, verify
from ai_sandbox.audit.action import verdict_for_execution
from ai_sandbox.results import ErrorInfo, ExecutionResult

POLICY = SandboxPolicy(isolation="none", allow_writes=True)


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    with AuditLog(tmp_path / "audit.jsonl", session_id="run-1") as audit:
        yield audit


@pytest.fixture
def sandbox(project: Path, log: AuditLog) -> Sandbox:
    with Sandbox(project, POLICY, audit=log) as sb:
        yield sb


def _records(log: AuditLog) -> list[dict[str, Any]]:
    return [r for r in read_records(log.path) if r["event"] != "genesis"]


@pytest.mark.parametrize(
    ("tool", "arguments", "outcome", "rule"),
    [
        pytest.param(
            "write_file", {"path": "out.txt", "content": "hi"}, "completed", None, id="ok"
        ),
        pytest.param("read_file", {"path": "../secret.txt"}, "refused", "outside_root", id="path"),
        pytest.param("run_python", {"code": "import os"}, "refused", "import", id="import"),
        pytest.param("run_python", {"code": "result = 1 / 0"}, "failed", None, id="code-error"),
        pytest.param("read_file", {"path": 3}, "refused", "invalid_arguments", id="bad-args"),
        pytest.param("rm_rf", {}, "refused", "invalid_arguments", id="unknown-tool"),
        pytest.param("list_directory", {}, "completed", None, id="list"),
    ],
)
def test_a_call_writes_a_request_then_its_outcome(
    sandbox: Sandbox, log: AuditLog, tool: str, arguments: Any, outcome: str, rule: str | None
) -> None:
    """It records `requested` before acting and one outcome with decision and rule after."""
    sandbox.call(tool, arguments)
    request, result = _records(log)
    assert (request["event"], request["tool"], request["via"]) == ("requested", tool, "call")
    assert (result["event"], result["rule"], result["call_id"]) == (
        outcome,
        rule,
        request["call_id"],
    )
    assert result["decision"] == ("deny" if outcome == "refused" else "allow")
    assert result["seq"] == request["seq"] + 1
    assert isinstance(result["duration_ms"], float)
    assert (result["error"] is None) == (outcome == "completed")


@pytest.mark.parametrize(
    ("action", "tool"),
    [
        pytest.param(lambda sb: sb.run("result = 2"), "run_python", id="run"),
        pytest.param(lambda sb: sb.read_file("data/numbers.csv"), "read_file", id="read_file"),
        pytest.param(lambda sb: sb.write_file("o.txt", "x"), "write_file", id="write_file"),
        pytest.param(lambda sb: sb.list_dir("data"), "list_directory", id="list_dir"),
    ],
)
def test_direct_operations_are_audited(
    sandbox: Sandbox, log: AuditLog, action: Any, tool: str
) -> None:
    """It audits the direct methods like calls, marked via=direct."""
    action(sandbox)
    request, result = _records(log)
    assert [request["event"], result["event"]] == ["requested", "completed"]
    assert request["tool"] == result["tool"] == tool
    assert request["via"] == "direct"


def test_a_refused_direct_operation_is_recorded_and_still_raises(
    sandbox: Sandbox, log: AuditLog, canary: Path
) -> None:
    """It records the refusal with its rule and then raises SecurityError to the host."""
    with pytest.raises(SecurityError):
        sandbox.read_file(str(canary))
    _request, result = _records(log)
    assert (result["event"], result["rule"]) == ("refused", "outside_root")
    assert result["error"]["type"] == "SecurityError"


def test_records_describe_code_by_digest_and_first_lines(sandbox: Sandbox, log: AuditLog) -> None:
    """It records code as SHA-256, size and its first lines, not the whole source."""
    code = "\n".join(f"x{i} = {i}" for i in range(20)) + "\nresult = x19"
    sandbox.call("run_python", {"code": code})
    args = _records(log)[0]["args"]["code"]
    assert args["sha256"] == hashlib.sha256(code.encode()).hexdigest()
    assert args["lines"] == 21
    assert args["head"] == "x0 = 0\nx1 = 1\nx2 = 2\nx3 = 3\nx4 = 4"


@pytest.mark.parametrize(
    "arguments",
    [
        '{"path": "w.txt", "content": "PLAINTEXT-CANARY", "content": "x"}',
        '{"path": "w.txt", "content": "PLAINTEXT-CANARY"',
        b'{"path": "w.txt", "content": "PLAINTEXT-CANARY", "extra": NaN}',
    ],
    ids=["duplicate-keys", "truncated-json", "bytes-with-nan"],
)
def test_unparsed_arguments_are_recorded_by_digest_only(
    sandbox: Sandbox, log: AuditLog, arguments: str | bytes
) -> None:
    """It keeps file content out of the log even when the call's JSON did not parse: the raw
    text is recorded by size and SHA-256, as content is in a valid call."""
    result = sandbox.call("write_file", arguments)
    assert not result.ok
    request, outcome = _records(log)
    text = arguments.decode() if isinstance(arguments, bytes) else arguments
    assert request["args"] == {
        "raw": {"bytes": len(text.encode()), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    }
    assert outcome["rule"] == "invalid_arguments"
    assert "PLAINTEXT-CANARY" not in log.path.read_text(encoding="utf-8")


def test_arguments_of_the_wrong_type_are_recorded_by_type(sandbox: Sandbox, log: AuditLog) -> None:
    """It records what kind of object came instead of arguments, never its contents."""
    sandbox.call("read_file", ["PLAINTEXT-CANARY"])  # type: ignore[arg-type]
    request, _ = _records(log)
    assert request["args"] == {"unparsed": "<list>"}


def test_records_hold_paths_relative_to_the_root(
    sandbox: Sandbox, log: AuditLog, project: Path
) -> None:
    """It records a path given as absolute inside the root relative to the root."""
    sandbox.read_file(project / "data" / "numbers.csv")
    assert _records(log)[0]["args"]["path"] == "data/numbers.csv"


def test_the_outcome_holds_result_digest_and_layers(sandbox: Sandbox, log: AuditLog) -> None:
    """It records the size and digest of what came back and the isolation that was active."""
    res = sandbox.call("read_file", {"path": "data/numbers.csv"})
    outcome = _records(log)[1]
    data = res.content.encode()
    assert outcome["result"] == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    sandbox.run("result = 1")
    run = _records(log)[3]
    assert (run["isolation"], run["layers"]) == ("none", list(sandbox.layers))


def test_the_caller_is_set_per_block(sandbox: Sandbox, log: AuditLog) -> None:
    """It tags records with the caller id set by Sandbox.audit_caller for that block only."""
    with sandbox.audit_caller("agent-7"):
        sandbox.call("list_directory", {})
    sandbox.call("list_directory", {})
    callers = [r.get("caller") for r in _records(log)]
    assert callers == ["agent-7", "agent-7", None, None]
    assert {r["session"] for r in _records(log)} == {"run-1"}


def test_session_runs_are_audited(sandbox: Sandbox, log: AuditLog) -> None:
    """It audits every run of a long-lived session, marked via=session."""
    session = sandbox.session()
    try:
        session.run("x = 1")
        session.run("result = x + 1")
    finally:
        session.close()
    events = [(r["event"], r["via"]) for r in _records(log)]
    assert events == [("requested", "session"), ("completed", "session")] * 2


def test_the_log_verifies_after_a_mix_of_actions(sandbox: Sandbox, log: AuditLog) -> None:
    """It leaves an intact chain after allowed, refused and failing actions."""
    sandbox.call("write_file", {"path": "a.txt", "content": "1"})
    sandbox.call("read_file", {"path": "/etc/passwd"})
    sandbox.call("run_python", {"code": "result = 1 / 0"})
    assert verify(log.path).ok


def test_audit_must_be_an_audit_log(project: Path) -> None:
    """It refuses anything but an AuditLog as audit= with a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        Sandbox(project, POLICY, audit="audit.jsonl")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        pytest.param("ok", "completed", id="ok"),
        pytest.param("error", "failed", id="error"),
        pytest.param("rejected", "refused", id="rejected"),
        pytest.param("timeout", "timeout", id="timeout"),
        pytest.param("limit", "limit", id="limit"),
    ],
)
def test_each_run_status_maps_to_an_outcome(status: str, outcome: str) -> None:
    """It maps every ExecutionResult status to the outcome the log records."""
    error = None if status == "ok" else ErrorInfo(type="X", message="m")
    verdict = verdict_for_execution(ExecutionResult(status=status, error=error))  # type: ignore[arg-type]
    assert verdict.outcome == outcome


def _calls(root: str, log_path: str, name: str) -> None:
    with (
        AuditLog(log_path, session_id=name, fsync="never") as audit,
        Sandbox(root, POLICY, audit=audit) as sb,
    ):
        for i in range(40):
            sb.call("write_file", {"path": f"{name}-{i}.txt", "content": str(i)})


def test_processes_calling_through_sandboxes_share_one_chain(project: Path, tmp_path: Path) -> None:
    """It keeps one chain when sandboxes in several processes audit into one log."""
    path = tmp_path / "shared.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_calls, args=(str(project), str(path), f"p{i}")) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    report = verify(path)
    assert report.ok, report.summary()
    assert report.records == 1 + 2 * 40 * 2


def test_an_error_type_the_code_names_is_bounded(sandbox: Sandbox, log: AuditLog) -> None:
    """It keeps at most 200 characters of an exception class name the code chose."""
    name = "E" * 5000
    sandbox.call("run_python", {"code": f"class {name}(Exception):\n    pass\nraise {name}()"})
    _, outcome = _records(log)
    assert outcome["error"]["type"].startswith("E" * 200)
    assert len(outcome["error"]["type"]) < 240
