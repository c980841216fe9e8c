"""Sandbox.call: the single dispatch point turns the model's mistakes into readable results."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_sandbox import ConfigurationError, Sandbox, SandboxPolicy, ToolResult

NONE = SandboxPolicy(isolation="none")


@pytest.fixture
def sandbox(project: Path) -> Sandbox:
    return Sandbox(root=project, policy=NONE)


@pytest.mark.parametrize(
    ("tool", "arguments", "fragment"),
    [
        pytest.param("rm_rf", {}, "unknown tool 'rm_rf'", id="unknown-tool"),
        pytest.param("read_file", "{not json", "not valid JSON", id="malformed-json"),
        pytest.param("read_file", "[1, 2]", "must be a JSON object", id="json-not-object"),
        pytest.param("read_file", {}, "path: Field required", id="missing-field"),
        pytest.param("read_file", {"path": 3}, "path: Input should be a valid string", id="type"),
        pytest.param(
            "read_file", {"path": "a", "mode": "w"}, "mode: Extra inputs", id="extra-field"
        ),
        pytest.param("run_python", {"code": "x", "inputs": [1]}, "inputs", id="inputs-not-dict"),
    ],
)
def test_bad_arguments_become_a_tool_result(
    sandbox: Sandbox, tool: str, arguments: object, fragment: str
) -> None:
    """It answers bad arguments with ok=False and a message naming the problem."""
    res = sandbox.call(tool, arguments)  # type: ignore[arg-type]
    assert isinstance(res, ToolResult)
    assert res.ok is False
    assert res.error is not None
    assert fragment in res.content


def test_json_string_arguments_are_accepted(sandbox: Sandbox) -> None:
    """It accepts arguments as a JSON string, as function-calling APIs send them."""
    res = sandbox.call("read_file", '{"path": "data/numbers.csv"}')
    assert res.ok
    assert res.content == "n\n1\n2\n3\n"


def test_run_python_through_call(sandbox: Sandbox) -> None:
    """It runs code through call and reports the result as text and data."""
    res = sandbox.call("run_python", {"code": "result = sum(values)", "inputs": {"values": [1, 2]}})
    assert res.ok
    assert res.data["result"] == 3
    assert "result: 3" in res.content


def test_refusal_is_a_result_not_an_exception(sandbox: Sandbox) -> None:
    """It returns a SecurityError result for a path outside the root."""
    res = sandbox.call("read_file", {"path": "../secret.txt"})
    assert not res.ok
    assert res.error is not None
    assert res.error.type == "SecurityError"


def test_writes_are_refused_by_default(sandbox: Sandbox, project: Path) -> None:
    """It refuses write_file unless the policy allows writes, and writes nothing."""
    res = sandbox.call("write_file", {"path": "out.txt", "content": "x"})
    assert not res.ok
    assert not (project / "out.txt").exists()


def test_missing_root_is_a_configuration_error(tmp_path: Path) -> None:
    """It refuses a root that does not exist."""
    with pytest.raises(ConfigurationError, match="does not exist"):
        Sandbox(root=tmp_path / "nope", policy=NONE)


def test_none_isolation_warns(project: Path) -> None:
    """It warns when a caller chooses isolation="none"."""
    with pytest.warns(UserWarning, match='isolation="none"'):
        Sandbox(root=project, policy=NONE)
