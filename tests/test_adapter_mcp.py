"""The MCP adapter: an MCPServer over the sandbox, in process and as a stdio subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, TextContent

from ai_sandbox import ConfigurationError, Sandbox, SandboxPolicy, ToolResult
from ai_sandbox.adapters._schema import parameters_schema
from ai_sandbox.adapters.mcp import create_server, load_policy_file, main
from ai_sandbox.tools import TOOL_SPECS

T = TypeVar("T")


@pytest.fixture
def sandbox(project: Path) -> Iterator[Sandbox]:
    with Sandbox(root=project, policy=SandboxPolicy(isolation="none", allow_writes=True)) as sb:
        yield sb


def with_client(sandbox: Sandbox, work: Callable[[Client], Awaitable[T]]) -> T:
    """Run ``work`` against an in-process client of the sandbox's MCP server."""

    async def session() -> T:
        async with Client(create_server(sandbox)) as client:
            return await work(client)

    return anyio.run(session)


def text_of(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


def test_lists_every_tool_with_our_schemas(sandbox: Sandbox) -> None:
    """It lists each tool with our description, input schema and the ToolResult output schema."""
    listed = with_client(sandbox, lambda client: client.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert list(tools) == [spec.name for spec in TOOL_SPECS]
    for spec in sandbox.tool_specs():
        tool = tools[spec.name]
        assert tool.description == spec.description
        assert tool.input_schema == parameters_schema(spec)
        assert tool.output_schema is not None
        assert set(tool.output_schema["properties"]) == set(ToolResult.model_fields)
    assert tools["read_file"].annotations is not None
    assert tools["read_file"].annotations.read_only_hint is True
    assert tools["write_file"].annotations is not None
    assert tools["write_file"].annotations.destructive_hint is True


CALLS = [
    pytest.param("list_directory", {"path": "."}, id="list_directory"),
    pytest.param("read_file", {"path": "data/numbers.csv"}, id="read_file"),
    pytest.param("write_file", {"path": "out/x.txt", "content": "hi"}, id="write_file"),
    pytest.param("run_python", {"code": "result = [1, 2]"}, id="run_python"),
]


@pytest.mark.parametrize(("name", "arguments"), CALLS)
def test_calls_return_text_and_structured_result(
    sandbox: Sandbox, name: str, arguments: dict[str, Any]
) -> None:
    """It answers a call with the result text and the ToolResult as structured content."""
    result = with_client(sandbox, lambda client: client.call_tool(name, arguments))
    expected = sandbox.call(name, arguments)
    assert result.is_error is False
    assert text_of(result) == expected.content
    structured = dict(result.structured_content or {})
    if name == "run_python":  # timings differ between two runs
        structured["data"].pop("duration_ms")
        assert expected.data is not None
        expected.data.pop("duration_ms")
    assert structured == expected.model_dump(mode="json")


@pytest.mark.parametrize(
    ("name", "arguments", "fragment"),
    [
        pytest.param("read_file", {"path": "../secret.txt"}, "SecurityError", id="outside-root"),
        pytest.param("read_file", {}, "path: Field required", id="missing-argument"),
        pytest.param("read_file", {"path": 1}, "valid string", id="wrong-type"),
        pytest.param(
            "read_file", {"path": "a", "model_config": {}}, "Extra inputs", id="odd-extra-key"
        ),
        pytest.param(
            "run_python", {"code": "result = 1 / 0"}, "ZeroDivisionError", id="code-fails"
        ),
    ],
)
def test_errors_are_is_error_results(
    sandbox: Sandbox, name: str, arguments: dict[str, Any], fragment: str
) -> None:
    """It returns refusals, bad arguments and failing code as is_error results."""
    result = with_client(sandbox, lambda client: client.call_tool(name, arguments))
    assert result.is_error is True
    assert fragment in text_of(result)
    assert text_of(result) == sandbox.call(name, arguments).content
    assert result.structured_content is not None
    assert result.structured_content["ok"] is False


def test_unknown_tool_is_an_error_result(sandbox: Sandbox) -> None:
    """It answers an unknown tool name with an is_error result."""
    result = with_client(sandbox, lambda client: client.call_tool("format_disk", {}))
    assert result.is_error is True
    assert "format_disk" in text_of(result)


def test_null_optional_argument_means_default(sandbox: Sandbox) -> None:
    """It treats null for an optional argument as the default, like the other surfaces."""
    result = with_client(sandbox, lambda client: client.call_tool("list_directory", {"path": None}))
    assert result.is_error is False
    assert text_of(result) == "data/"


CONSOLE_SCRIPT = str(Path(sys.executable).with_name("ai-sandbox"))


@pytest.mark.parametrize(
    ("isolation", "command"),
    [
        pytest.param("none", [sys.executable, "-m", "ai_sandbox.adapters.mcp"], id="module"),
        pytest.param("strict", [CONSOLE_SCRIPT, "mcp"], id="ai-sandbox-mcp-isolated"),
    ],
)
def test_stdio_server_subprocess(
    project: Path, tmp_path: Path, isolation: str, command: list[str]
) -> None:
    """It serves the tools over stdio, as `ai-sandbox mcp --root DIR --policy FILE` does."""
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"isolation": isolation, "allow_writes": True}), encoding="utf-8")
    params = StdioServerParameters(
        command=command[0],
        args=[*command[1:], "--root", str(project), "--policy", str(policy)],
        env=dict(os.environ),
    )

    async def session() -> tuple[list[str], CallToolResult, CallToolResult]:
        with anyio.fail_after(20):
            async with Client(params) as client:
                names = [tool.name for tool in (await client.list_tools()).tools]
                written = await client.call_tool(
                    "write_file", {"path": "hello.txt", "content": "hi"}
                )
                refused = await client.call_tool("run_python", {"code": "import socket"})
                return names, written, refused

    names, written, refused = anyio.run(session)
    assert names == [spec.name for spec in TOOL_SPECS]
    assert written.is_error is False
    assert (project / "hello.txt").read_text() == "hi"
    assert refused.is_error is True
    assert "socket" in text_of(refused)


# -- policy files --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("p.json", '{"allow_writes": true, "timeout_s": 2}', id="json"),
        pytest.param("p.toml", "allow_writes = true\ntimeout_s = 2\n", id="toml"),
    ],
)
def test_policy_file_is_read(tmp_path: Path, name: str, text: str) -> None:
    """It reads a SandboxPolicy from a JSON or TOML file."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert load_policy_file(path) == SandboxPolicy(allow_writes=True, timeout_s=2)


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        pytest.param("p.json", "{nope", "not valid", id="bad-json"),
        pytest.param("p.toml", "x = = 1", "not valid", id="bad-toml"),
        pytest.param("p.json", "[1]", "table of settings", id="not-a-table"),
        pytest.param("p.json", '{"allow_network": true}', "allow_network", id="unknown-key"),
        pytest.param("p.json", '{"timeout_s": -1}', "timeout_s", id="bad-value"),
    ],
)
def test_bad_policy_file_is_a_configuration_error(
    tmp_path: Path, name: str, text: str, fragment: str
) -> None:
    """It refuses a policy file it cannot read, with the problem in the message."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=fragment):
        load_policy_file(path)


def test_missing_policy_file_is_a_configuration_error(tmp_path: Path) -> None:
    """It refuses a policy file that does not exist."""
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_policy_file(tmp_path / "absent.toml")


def test_main_reports_a_bad_root_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It prints a one-line error and exits 2 when the root does not exist."""
    assert main(["--root", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("isolation", ["none", "strict"])
def test_lone_surrogates_get_a_normal_answer(project: Path, isolation: str) -> None:
    """It answers code that returns or prints a lone surrogate like any other call, and the
    server keeps serving."""
    policy = SandboxPolicy(isolation=isolation)
    warns = pytest.warns(UserWarning, match="isolation")
    with warns if isolation == "none" else contextlib.nullcontext():
        box = Sandbox(root=project, policy=policy)

    async def work(client: Client) -> list[CallToolResult]:
        return [
            await client.call_tool("run_python", {"code": "result = chr(0xd800)"}),
            await client.call_tool("run_python", {"code": "print(chr(0xdfff))"}),
            await client.call_tool("list_directory", {"path": "."}),
        ]

    with box:
        returned, printed, listed = with_client(box, work)
    assert returned.is_error is True
    assert "not valid Unicode" in text_of(returned)
    assert printed.is_error is False
    assert "\ufffd" in text_of(printed)
    assert listed.is_error is False
    assert text_of(listed) == "data/"
