"""The host, not the worker, decides which refusal a run reports and the audit records.

The worker is assumed compromised (the language guard off): it may report any result.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from conftest import CANARY
from host_support import escaped_sandbox, raw_request

from ai_sandbox import SandboxPolicy
from ai_sandbox.audit import AuditLog
from ai_sandbox.audit.reader import read_records
from ai_sandbox.audit.review import actions, format_row
from ai_sandbox.rules import KNOWN_RULES

POLICY = SandboxPolicy(timeout_s=5.0, pool_size=1)

#: Worker code that reports its own refusal (as the executor reports one) under ``RULE``.
REPORT_RULE = (
    "from ai_sandbox.exceptions import SecurityError\n"
    "raise SecurityError('import of a module refused', rule=RULE)\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.txt").write_text("data", encoding="utf-8")
    (tmp_path / "secret.txt").write_text(CANARY, encoding="utf-8")
    return root


def _outcome(log_path: Path) -> dict[str, object]:
    runs = [a for a in actions(read_records(log_path)) if a.get("tool") == "run_python"]
    assert len(runs) == 1
    return runs[0]


@pytest.mark.parametrize(
    "reported",
    ["import", "outside_root", "deny_pattern", "not_a_rule"],
    ids=["another-rule", "same-rule", "other-path-rule", "unknown-rule"],
)
def test_the_hosts_refusal_wins_over_the_workers_report(
    root: Path, tmp_path: Path, reported: str
) -> None:
    """It reports and audits the broker's refusal, whatever rejection the worker then reports."""
    log_path = tmp_path / "audit.jsonl"
    code = raw_request(
        {"type": "read", "path": "../secret.txt"}, REPORT_RULE.replace("RULE", repr(reported))
    )
    with AuditLog(log_path) as log, escaped_sandbox(root, POLICY, log) as box:
        result = box.run(code)
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.rule == "outside_root"
    assert result.error.reported_by is None
    assert "import of a module" not in result.error.message
    record = _outcome(log_path)
    assert record["outcome"] == "refused"
    assert record["rule"] == "outside_root"
    assert "reported_by" not in record
    assert CANARY not in log_path.read_text(encoding="utf-8")


def test_a_known_rule_from_the_worker_is_marked_as_its_report(root: Path, tmp_path: Path) -> None:
    """It keeps a known rule the worker reports without a host refusal, marked as the worker's."""
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path) as log, escaped_sandbox(root, POLICY, log) as box:
        result = box.run(REPORT_RULE.replace("RULE", "'import'"))
    assert result.status == "rejected"
    assert result.error is not None
    assert (result.error.rule, result.error.reported_by) == ("import", "worker")
    record = _outcome(log_path)
    assert (record["outcome"], record["rule"], record["reported_by"]) == (
        "refused",
        "import",
        "worker",
    )
    assert "rule=import (reported by the worker)" in format_row(record)


@pytest.mark.parametrize(
    "code",
    [
        REPORT_RULE.replace("RULE", "'not_a_rule'"),
        REPORT_RULE.replace("RULE", "'x' * 150"),
        "from ai_sandbox.exceptions import ResourceLimitExceeded\n"
        "raise ResourceLimitExceeded('made_up', 'a limit of my own')\n",
    ],
    ids=["unknown-rule", "long-rule", "unknown-limit"],
)
def test_an_unknown_rule_from_the_worker_is_a_protocol_error(
    root: Path, tmp_path: Path, code: str
) -> None:
    """It turns a refusal or limit under a rule nobody defined into a worker error."""
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path) as log, escaped_sandbox(root, POLICY, log) as box:
        result = box.run(code)
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"
    assert result.error.rule is None
    assert "unknown rule" in result.error.message
    record = _outcome(log_path)
    assert record["outcome"] == "failed"
    assert record["rule"] is None


def test_a_known_limit_from_the_worker_is_marked_as_its_report(root: Path) -> None:
    """It keeps a known limit the worker reports (its own memory limit), marked as the worker's."""
    code = "raise MemoryError()"
    with escaped_sandbox(root, POLICY) as box:
        result = box.run(code)
    assert result.status == "limit"
    assert result.error is not None
    assert (result.error.rule, result.error.reported_by) == ("memory", "worker")


def test_the_guarded_worker_reports_known_rules(root: Path) -> None:
    """It keeps the language guard's own refusals (a blocked import) in strict mode."""
    from ai_sandbox import Sandbox

    with Sandbox(root, POLICY) as box:
        result = box.run("import socket")
    assert result.status == "rejected"
    assert result.error is not None
    assert (result.error.rule, result.error.reported_by) == ("import", "worker")


def _rule_names_in_source() -> dict[str, str]:
    """Every literal rule name the package passes to a refusal or a limit, with where."""
    found: dict[str, str] = {}
    package = Path(__file__).parent.parent / "src" / "ai_sandbox"
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[ast.expr] = []
            if isinstance(node, ast.Call):
                func = node.func
                called = getattr(func, "attr", getattr(func, "id", ""))
                names += [k.value for k in node.keywords if k.arg in ("rule", "limit")]
                if called.endswith("refuse"):  # refuse(rule, path) or ctx.refuse(reason, rule)
                    first = node.args[0] if node.args else None
                    is_rule = isinstance(first, ast.Constant) and str(first.value).isidentifier()
                    names += node.args[:1] if is_rule else node.args[1:2]
                elif called == "ResourceLimitExceeded":
                    names += node.args[:1]
                elif called in ("_error", "CompileRefusal"):
                    names += node.args[4:5]
            elif isinstance(node, ast.Dict):
                names += [
                    v
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == "rule"
                ]
            for name in names:
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    found.setdefault(name.value, f"{path.name}:{getattr(node, 'lineno', 0)}")
    return found


def test_every_rule_in_the_package_is_listed() -> None:
    """It lists every rule name the package uses in ai_sandbox.rules (one list, one place)."""
    found = _rule_names_in_source()
    missing = {name: where for name, where in found.items() if name not in KNOWN_RULES}
    assert not missing, json.dumps(missing)
    assert {"outside_root", "import", "file_size", "syntax"} <= set(found)
