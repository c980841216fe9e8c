"""Sandbox.call: the single dispatch point turns the model's mistakes into readable results."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, SupportsIndex

import pytest

from ai_sandbox import ConfigurationError, Sandbox, SandboxPolicy, ToolResult
from ai_sandbox.audit import AuditLog
from ai_sandbox.security import SafeFS

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


@pytest.mark.parametrize("root", ["/", "/proc/self"], ids=["slash", "proc"])
def test_system_roots_are_configuration_errors(root: str) -> None:
    """It refuses '/' and /proc as roots before any tool can run."""
    with pytest.raises(ConfigurationError):
        Sandbox(root=root, policy=NONE)


def test_none_isolation_warns(project: Path) -> None:
    """It warns when a caller chooses isolation="none"."""
    with pytest.warns(UserWarning, match='isolation="none"'):
        Sandbox(root=project, policy=NONE)


# -- argument smuggling: what reaches a tool is plain JSON data, read once -----------------------
def _nested(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


class _Sneaky(str):
    """A str whose own method claims another value (what a live object could do)."""

    __slots__ = ()

    def split(self, sep: str | None = None, maxsplit: SupportsIndex = -1) -> list[str]:
        return ["..", "secret.txt"]


@pytest.mark.parametrize(
    ("tool", "arguments", "fragment"),
    [
        pytest.param("read_file", "[" * 100_000, "nested more than", id="deep-json-text"),
        pytest.param(
            "run_python", {"code": "result = 1", "inputs": {"x": _nested(10_000)}},
            "nested more than", id="deep-mapping",
        ),
        pytest.param(
            "read_file", '{"path": "data/numbers.csv", "path": "../secret.txt"}',
            "more than once", id="duplicate-keys",
        ),
        pytest.param(
            "run_python", '{"code": "result = 1", "inputs": {"x": NaN}}', "NaN", id="nan-text"
        ),
        pytest.param(
            "run_python", '{"code": "result = 1", "inputs": {"x": -Infinity}}', "Infinity",
            id="infinity-text",
        ),
        pytest.param(
            "run_python", {"code": "result = 1", "inputs": {"x": float("nan")}}, "not JSON",
            id="nan-object",
        ),
        pytest.param(
            "run_python", {"code": "result = 1", "inputs": {"x": 10**5000}}, "too large",
            id="huge-int-object",
        ),
        pytest.param(
            "read_file", '{"path": ' + "9" * 5000 + "}", "not valid JSON", id="huge-int-text"
        ),
        pytest.param(
            "run_python", {"code": "result = 1", "inputs": {"f": print}}, "builtin_function",
            id="live-object",
        ),
        pytest.param(
            "run_python", {"code": "result = 1", "inputs": {"s": {1, 2}}}, "set object",
            id="set",
        ),
        pytest.param("read_file", {3: "x"}, "key of type int", id="non-text-key"),
        pytest.param("read_file", b'{"path": "\xff"}', "not UTF-8", id="non-utf8-bytes"),
        pytest.param("read_file", 7, "must be a JSON object", id="int"),
        pytest.param("read_file", '"data/numbers.csv"', "must be a JSON object", id="json-string"),
        pytest.param("read_file", "null", "must be a JSON object", id="json-null"),
    ],
)  # fmt: skip
def test_smuggled_arguments_are_refused_cleanly(
    sandbox: Sandbox, tool: str, arguments: object, fragment: str
) -> None:
    """It refuses non-JSON, ambiguous or absurdly nested arguments with a readable error."""
    res = sandbox.call(tool, arguments)  # type: ignore[arg-type]
    assert res.ok is False
    assert res.error is not None
    assert res.error.type == "ToolInputError"
    assert fragment in res.content
    assert len(res.content) < 1000


class _FailingMapping(Mapping[str, Any]):
    """A mapping that fails when read (a host object handed over as arguments)."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("internal detail")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("internal detail")

    def __len__(self) -> int:
        return 1


def test_a_mapping_that_fails_when_read_is_refused(sandbox: Sandbox) -> None:
    """It refuses arguments that cannot be read, naming no internals."""
    res = sandbox.call("read_file", _FailingMapping())
    assert not res.ok
    assert "could not be read as a JSON object (RuntimeError)" in res.content
    assert "internal detail" not in res.content


def test_argument_text_is_capped_before_parsing(project: Path) -> None:
    """It refuses argument text over the cap without parsing it."""
    with Sandbox(project, NONE.model_copy(update={"max_file_bytes": 1024})) as box:
        res = box.call("read_file", '{"path": "' + "a" * (17 * 1024 * 1024) + '"}')
    assert not res.ok
    assert "characters long; the limit is" in res.content


def test_a_str_subclass_argument_is_used_as_its_characters(sandbox: Sandbox) -> None:
    """It copies a str subclass to plain text, so its own methods cannot redirect the path."""
    res = sandbox.call("read_file", {"path": _Sneaky("data/numbers.csv")})
    assert res.ok, res.content
    assert res.content == "n\n1\n2\n3\n"


@pytest.mark.parametrize(
    ("tool_name", "shown"),
    [
        pytest.param(None, "'<NoneType>'", id="none"),
        pytest.param(3, "'<int>'", id="int"),
        pytest.param("x" * 1_000_000, "'" + "x" * 64 + "...'", id="huge"),
        pytest.param("read\u2010file", "'read\u2010file'", id="lookalike-hyphen"),
    ],
)
def test_odd_tool_names_are_bounded_in_the_answer(
    sandbox: Sandbox, tool_name: object, shown: str
) -> None:
    """It names an unknown tool by bounded text (never by calling the object's own __str__)."""
    res = sandbox.call(tool_name, {})  # type: ignore[arg-type]
    assert not res.ok
    assert f"unknown tool {shown};" in res.content
    assert len(res.content) < 400


def test_validation_errors_are_bounded(sandbox: Sandbox) -> None:
    """It lists a few problems, not one per smuggled key."""
    res = sandbox.call("read_file", {f"k{n}": n for n in range(10_000)})
    assert not res.ok
    assert "and 9996 more" in res.content
    assert len(res.content) < 1000


class _BrokenFS(SafeFS):
    """A stand-in for a bug in a tool: reading raises something that is not a SandboxError."""

    def read_text(self, path: str | os.PathLike[str]) -> str:
        raise KeyError("internal detail")

    def read_bytes(self, path: str | os.PathLike[str]) -> bytes:  # read_file pages from bytes
        raise KeyError("internal detail")


def test_an_internal_error_is_a_result_without_internals(sandbox: Sandbox, project: Path) -> None:
    """It answers a failure of its own with a result naming no internals, never a crash."""
    sandbox.fs = _BrokenFS(project, sandbox.policy)
    res = sandbox.call("read_file", {"path": "data/numbers.csv"})
    assert not res.ok
    assert res.error is not None
    assert res.error.type == "InternalError"
    assert "internal detail" not in res.content


# -- the audit record shows what runs, and the model cannot make it unwritable ------------------
def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class _Flipping:
    """An os.PathLike naming one file the first time and another one after."""

    def __init__(self) -> None:
        self.calls = 0

    def __fspath__(self) -> str:
        self.calls += 1
        return "data/numbers.csv" if self.calls == 1 else "data/other.csv"


def test_the_audit_names_the_path_that_was_read(project: Path, tmp_path: Path) -> None:
    """It reads a path argument once, so the record names the file actually read."""
    (project / "data" / "other.csv").write_text("other", encoding="utf-8")
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path, fsync="never") as log, Sandbox(project, NONE, audit=log) as box:
        text = box.read_file(_Flipping())
    requested = [r for r in _records(log_path) if r["event"] == "requested"]
    assert requested[-1]["args"]["path"] == "data/numbers.csv"
    assert text == "n\n1\n2\n3\n"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        pytest.param("read_file", {"path": "/\ud800/x"}, id="surrogate-in-absolute-path"),
        pytest.param("read_file", '{"path": "data/\\udfff"}', id="escaped-surrogate-in-json"),
        pytest.param("run_python", {"code": "x = '\ud800'"}, id="surrogate-in-code"),
        pytest.param(
            "run_python", {"code": "result = 1", "inputs": {"x": _nested(190)}}, id="deep-inputs"
        ),
        pytest.param("read_file", "[" * 100_000, id="deep-json-text"),
        pytest.param("read_file", {f"k{n}": n for n in range(20_000)}, id="argument-flood"),
    ],
)
def test_model_input_cannot_make_the_audit_fail(
    project: Path, tmp_path: Path, tool: str, arguments: object
) -> None:
    """It records whatever the model sends (bounded), instead of raising AuditError."""
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path, fsync="never") as log, Sandbox(project, NONE, audit=log) as box:
        box.call(tool, arguments)  # type: ignore[arg-type]
    records = _records(log_path)
    assert [r["event"] for r in records][-2] == "requested"
    assert log_path.stat().st_size < 64 * 1024


def test_secrets_in_argument_keys_are_masked(project: Path, tmp_path: Path) -> None:
    """It masks a secret used as a key, not only as a value."""
    secret = "sk-c4n4ryS3cretV4lue9271"
    log_path = tmp_path / "audit.jsonl"
    with AuditLog(log_path, fsync="never") as log, Sandbox(project, NONE, audit=log) as box:
        box.call("run_python", {"code": "result = 1", "inputs": {secret: 1}})
    assert secret not in log_path.read_text(encoding="utf-8")
