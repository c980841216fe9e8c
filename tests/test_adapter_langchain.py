"""The LangChain adapter: StructuredTools over the sandbox, sync and async, errors as messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool

from ai_sandbox import Sandbox, SandboxPolicy, ToolResult
from ai_sandbox.adapters.langchain import SandboxToolkit, langchain_tools
from ai_sandbox.tools import TOOL_SPECS


@pytest.fixture
def sandbox(project: Path) -> Iterator[Sandbox]:
    with Sandbox(root=project, policy=SandboxPolicy(isolation="none", allow_writes=True)) as sb:
        yield sb


@pytest.fixture
def tools(sandbox: Sandbox) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in langchain_tools(sandbox)}


def call(name: str, args: Any, call_id: str = "call-1") -> dict[str, Any]:
    """A LangChain ToolCall dict, as a chat model emits it."""
    return {"type": "tool_call", "id": call_id, "name": name, "args": args}


def test_every_tool_is_a_structured_tool_with_our_schema(
    sandbox: Sandbox, tools: dict[str, BaseTool]
) -> None:
    """It builds one StructuredTool per tool, with our pydantic model as args_schema."""
    assert list(tools) == [spec.name for spec in TOOL_SPECS]
    for spec in sandbox.tool_specs():
        tool = tools[spec.name]
        assert isinstance(tool, StructuredTool)
        assert tool.description == spec.description
        assert tool.args_schema is spec.input_model
        assert tool.response_format == "content_and_artifact"


def test_toolkit_gives_the_same_tools(sandbox: Sandbox) -> None:
    """It offers the tools through a BaseToolkit's get_tools()."""
    toolkit = SandboxToolkit(sandbox=sandbox)
    assert [t.name for t in toolkit.get_tools()] == [spec.name for spec in TOOL_SPECS]


def test_invoke_with_plain_arguments_returns_the_content(tools: dict[str, BaseTool]) -> None:
    """It returns the result text when invoked with plain arguments."""
    assert tools["read_file"].invoke({"path": "data/numbers.csv"}) == "n\n1\n2\n3\n"


def test_invoke_with_a_string_uses_the_first_argument(tools: dict[str, BaseTool]) -> None:
    """It accepts LangChain's string shorthand for the first argument."""
    assert tools["read_file"].invoke("data/numbers.csv") == "n\n1\n2\n3\n"


def test_a_string_for_a_tool_that_needs_more_is_an_error_message(
    tools: dict[str, BaseTool],
) -> None:
    """It answers the string shorthand for a tool with more required arguments with the
    sandbox's own words about what is missing, not a ValidationError raised from the tool."""
    answer = tools["write_file"].invoke("only-path.txt")
    assert isinstance(answer, str)
    assert "content" in answer
    assert "Field required" in answer


def test_invoke_with_a_tool_call_returns_a_tool_message(tools: dict[str, BaseTool]) -> None:
    """It returns a ToolMessage with the full ToolResult as artifact for a ToolCall."""
    message = tools["run_python"].invoke(call("run_python", {"code": "result = 6 * 7"}))
    assert isinstance(message, ToolMessage)
    assert message.tool_call_id == "call-1"
    assert message.name == "run_python"
    assert message.status == "success"
    assert "result: 42" in message.content
    assert isinstance(message.artifact, ToolResult)
    assert message.artifact.data["result"] == 42
    assert message.artifact.data["status"] == "ok"


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        pytest.param("read_file", {"path": "../secret.txt"}, "SecurityError", id="outside-root"),
        pytest.param("read_file", {}, "path: Field required", id="missing-argument"),
        pytest.param("read_file", {"path": "a", "mode": "w"}, "Extra inputs", id="extra-argument"),
        pytest.param(
            "run_python", {"code": "result = 1 / 0"}, "ZeroDivisionError", id="code-fails"
        ),
    ],
)
def test_errors_are_tool_messages_with_error_status(
    tools: dict[str, BaseTool], sandbox: Sandbox, name: str, args: dict[str, Any], fragment: str
) -> None:
    """It returns errors as content with status="error" instead of raising."""
    message = tools[name].invoke(call(name, args))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert fragment in message.content
    expected = sandbox.call(name, args)
    assert (message.content, message.artifact.error) == (expected.content, expected.error)


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        pytest.param("read_file", [1, 2], "must be a JSON object", id="list"),
        pytest.param(
            "read_file", {"path": "x", "path\u200b": "y"}, "Extra inputs", id="lookalike-key"
        ),
        pytest.param(
            "read_file", {"arguments": {"path": "../secret.txt"}}, "Field required",
            id="our-own-keyword-as-argument",
        ),
        pytest.param(
            "read_file", {"tool_call_id": "x", "path": "data/numbers.csv"}, "Extra inputs",
            id="call-id-as-argument",
        ),
    ],
)  # fmt: skip
def test_odd_tool_call_arguments_are_error_messages(
    tools: dict[str, BaseTool], name: str, args: Any, fragment: str
) -> None:
    """It answers odd ToolCall arguments with an error ToolMessage, never an exception."""
    message = tools[name].invoke(call(name, args))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert fragment in message.content


def test_null_optional_argument_means_default(tools: dict[str, BaseTool]) -> None:
    """It treats null for an optional argument (strict-mode models send it) as the default."""
    message = tools["list_directory"].invoke(call("list_directory", {"path": None}))
    assert message.status == "success"
    assert message.content == "data/"


def test_ainvoke_returns_the_same_message(tools: dict[str, BaseTool]) -> None:
    """It gives the same ToolMessage from ainvoke as from invoke."""
    tool_call = call("read_file", {"path": "data/numbers.csv"})
    assert asyncio.run(tools["read_file"].ainvoke(tool_call)) == tools["read_file"].invoke(
        tool_call
    )


def test_ainvoke_does_not_block_the_event_loop(tools: dict[str, BaseTool]) -> None:
    """It runs the sandbox call in a worker thread, so other tasks keep running meanwhile."""
    code = "total = 0\nfor i in range(1500000):\n    total = total + i\nresult = total"

    async def main() -> tuple[int, ToolMessage]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.002)
                ticks += 1

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        message = await tools["run_python"].ainvoke(call("run_python", {"code": code}))
        seen = ticks
        task.cancel()
        return seen, message

    ticks, message = asyncio.run(main())
    assert message.status == "success"
    assert ticks >= 3


class ToolCallingFakeModel(GenericFakeChatModel):
    """LangChain's fake chat model, plus the bind_tools that agent code calls."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingFakeModel:
        return self


def test_tool_calling_loop_with_a_fake_chat_model(
    tools: dict[str, BaseTool], project: Path
) -> None:
    """It serves a LangChain tool-calling loop end to end, offline."""
    script = iter(
        [
            AIMessage("", tool_calls=[call("read_file", {"path": "data/numbers.csv"}, "t1")]),
            AIMessage(
                "",
                tool_calls=[
                    call("run_python", {"code": "result = 1 + 2 + 3"}, "t2"),
                    call("read_file", {"path": "/etc/passwd"}, "t3"),
                ],
            ),
            AIMessage(
                "", tool_calls=[call("write_file", {"path": "sum.txt", "content": "6"}, "t4")]
            ),
            AIMessage("The sum is 6."),
        ]
    )
    model = ToolCallingFakeModel(messages=script).bind_tools(list(tools.values()))
    messages: list[BaseMessage] = [HumanMessage("Add up the numbers.")]
    for _ in range(10):
        reply = model.invoke(messages)
        messages.append(reply)
        if not isinstance(reply, AIMessage) or not reply.tool_calls:
            break
        for tool_call in reply.tool_calls:
            messages.append(tools[tool_call["name"]].invoke(tool_call))

    answers = [m for m in messages if isinstance(m, ToolMessage)]
    assert [(m.tool_call_id, m.status) for m in answers] == [
        ("t1", "success"),
        ("t2", "success"),
        ("t3", "error"),
        ("t4", "success"),
    ]
    assert messages[-1].content == "The sum is 6."
    assert (project / "sum.txt").read_text() == "6"
