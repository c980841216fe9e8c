"""``execute_ai_code`` and the in-process backend, as a user calls them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_sandbox import (
    ExecutionError,
    ResourceLimitExceeded,
    Sandbox,
    SandboxPolicy,
    SecurityError,
    execute_ai_code,
)
from ai_sandbox.exceptions import InvalidInputs
from ai_sandbox.executor.inputs import MAX_RESULT_ITEMS

NONE = SandboxPolicy(isolation="none")


def test_execute_ai_code_returns_result(project: Path) -> None:
    """It returns the value the code assigned to `result`."""
    code = (
        "def analyze_data(input_data):\n"
        "    return {'summary': 'Data analysis complete', 'count': len(input_data)}\n"
        "result = analyze_data(input_data)\n"
    )
    result = execute_ai_code(code, {"input_data": [1, 2, 3]}, policy=NONE, root=project)
    assert result == {"summary": "Data analysis complete", "count": 3}


def test_execute_ai_code_returns_none_without_result(project: Path) -> None:
    """It returns None when the code assigns no `result`."""
    assert execute_ai_code("x = 1", policy=NONE, root=project) is None


def test_execute_ai_code_raises_security_error_naming_module(project: Path) -> None:
    """It raises SecurityError with rule 'import' naming the refused module."""
    with pytest.raises(SecurityError, match="'subprocess'") as info:
        execute_ai_code("import subprocess", policy=NONE, root=project)
    assert info.value.rule == "import"


def test_execute_ai_code_raises_security_error_for_paths(project: Path, canary: Path) -> None:
    """It raises SecurityError when the code opens a file outside the root."""
    with pytest.raises(SecurityError) as info:
        execute_ai_code(f"result = open({str(canary)!r}).read()", policy=NONE, root=project)
    assert info.value.rule == "outside_root"


def test_execute_ai_code_raises_execution_error_with_line(project: Path) -> None:
    """It raises ExecutionError with the type, message and line of the AI's error."""
    with pytest.raises(ExecutionError) as info:
        execute_ai_code("x = 1\ny = [][x]\n", policy=NONE, root=project)
    assert (info.value.type_name, info.value.line) == ("IndexError", 2)
    assert "out of range" in info.value.message


def test_execute_ai_code_raises_limit_for_big_result(project: Path) -> None:
    """It raises ResourceLimitExceeded when the result is over max_result_bytes."""
    policy = NONE.model_copy(update={"max_result_bytes": 100})
    with pytest.raises(ResourceLimitExceeded) as info:
        execute_ai_code("result = 'x' * 1000", policy=policy, root=project)
    assert info.value.limit == "result"


def test_system_exit_does_not_end_host(project: Path) -> None:
    """It turns SystemExit raised by the code into an ExecutionError; the host carries on."""
    with pytest.raises(ExecutionError) as info:
        execute_ai_code("raise SystemExit(0)", policy=NONE, root=project)
    assert info.value.type_name == "SystemExit"


def test_sandbox_run_reports_layers(project: Path) -> None:
    """It reports the isolation level and the active layers with every in-process result."""
    with Sandbox(project, NONE) as sandbox:
        outcome = sandbox.run("print('hi')\nresult = 2 * 21")
    assert outcome.ok
    assert (outcome.result, outcome.stdout) == (42, "hi\n")
    assert outcome.isolation == "none"
    assert outcome.layers == ("restricted_python",)


def test_sandbox_run_reads_through_path_layer(project: Path) -> None:
    """It lets code read the project's files through the sandbox's path layer."""
    with Sandbox(project, NONE) as sandbox:
        outcome = sandbox.run("result = open('data/numbers.csv').read().split()")
    assert outcome.result == ["n", "1", "2", "3"]


def test_in_process_session_keeps_state(project: Path) -> None:
    """It keeps variables between calls of a session and refuses calls after close (with a
    SessionClosed result, as isolated sessions do)."""
    with Sandbox(project, NONE) as sandbox:
        session = sandbox.session()
        session.run("total = 40")
        outcome = session.run("total += 2\nresult = total")
        session.close()
        assert outcome.result == 42
        after = session.run("result = total")
        assert after.status == "error"
        assert after.error is not None
        assert after.error.type == "SessionClosed"


# -- text that is not valid Unicode, and results with too many items ---------------------------
@pytest.mark.parametrize(
    "value",
    ["chr(0xd800)", "{chr(0xdfff): 1}", "[{'a': ('x' + chr(0xdc00),)}]"],
    ids=["string", "key", "nested"],
)
def test_a_result_with_a_lone_surrogate_is_refused(project: Path, value: str) -> None:
    """It refuses a result holding a lone surrogate (TypeError saying it is not valid Unicode)."""
    with Sandbox(project, NONE) as sandbox:
        outcome = sandbox.run(f"result = {value}")
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.type == "TypeError"
    assert "not valid Unicode" in outcome.error.message
    outcome.model_dump_json()


@pytest.mark.parametrize(
    ("code", "stdout", "message"),
    [
        ("print(chr(0xdfff))", "\ufffd\n", None),
        ("raise ValueError('a' + chr(0xd800))", "", "a\ufffd"),
    ],
    ids=["print", "error-message"],
)
def test_lone_surrogates_in_text_become_replacement_characters(
    project: Path, code: str, stdout: str, message: str | None
) -> None:
    """It replaces lone surrogates in printed output and error messages with U+FFFD."""
    with Sandbox(project, NONE) as sandbox:
        outcome = sandbox.run(code)
    assert outcome.stdout == stdout
    assert (outcome.error.message if outcome.error else None) == message
    outcome.model_dump_json()


def test_inputs_with_a_lone_surrogate_are_refused(project: Path) -> None:
    """It refuses inputs holding a lone surrogate, like any input that is not JSON text (the
    host's own inputs: raised by Sandbox.run, rejected by the backend)."""
    with Sandbox(project, NONE) as sandbox:
        with pytest.raises(InvalidInputs, match="surrogate"):
            sandbox.run("result = x", {"x": {"k": ["\ud800"]}})
        outcome = sandbox._get_backend().execute("result = x", {"x": {"k": ["\ud800"]}})
    assert outcome.status == "rejected"
    assert outcome.error is not None
    assert outcome.error.rule == "inputs"


def test_a_result_with_too_many_items_is_a_limit(project: Path) -> None:
    """It refuses a result of more than MAX_RESULT_ITEMS items even under max_result_bytes."""
    code = f"result = [0] * {MAX_RESULT_ITEMS + 1}"
    with Sandbox(project, NONE) as sandbox:
        outcome = sandbox.run(code)
        fits = sandbox.run(f"result = [0] * {MAX_RESULT_ITEMS}")
    assert outcome.status == "limit"
    assert outcome.error is not None
    assert outcome.error.rule == "result"
    assert "items" in outcome.error.message
    assert fits.status == "ok"
    assert len(fits.result) == MAX_RESULT_ITEMS
