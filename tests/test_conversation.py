"""Stateful by default: ``run_python`` keeps its state for one conversation on every surface.

The OpenAI loop holds one session per loop, LangChain one per toolkit, MCP one per client
connection; ``reset=true`` starts fresh; two conversations never see each other's variables.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, TextContent
from openai import AsyncOpenAI, OpenAI

from ai_sandbox import Sandbox, SandboxPolicy, Session
from ai_sandbox.adapters.langchain import SandboxToolkit, langchain_tools
from ai_sandbox.adapters.mcp import create_server
from ai_sandbox.adapters.openai import arun_agent_loop, handle_tool_calls, run_agent_loop

BASE = "https://api.test/v1"
MESSAGES = [{"role": "user", "content": "Work on the project."}]
CONSOLE_SCRIPT = str(Path(sys.executable).with_name("ai-sandbox"))


@pytest.fixture(params=["none", "strict"])
def sandbox(request: pytest.FixtureRequest, project: Path) -> Iterator[Sandbox]:
    """A sandbox in-process and one with isolated workers."""
    policy = SandboxPolicy(isolation=request.param, pool_size=1)
    with Sandbox(project, policy) as box:
        yield box


def chat_reply(*calls: tuple[str, str, Any], content: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, n, a in calls
        ]
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
    }


def run_python(call_id: str, code: str, **extra: Any) -> tuple[str, str, Any]:
    return (call_id, "run_python", {"code": code, "inputs": None, "reset": False, **extra})


def tool_contents(route: respx.Route) -> list[str]:
    """The tool messages of the last request the model received."""
    body = json.loads(route.calls[-1].request.content)
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


# -- OpenAI ------------------------------------------------------------------------------------
CONVERSATION = [
    chat_reply(run_python("c1", "import math\ndef area(r):\n    return math.pi * r * r\nr = 2")),
    chat_reply(run_python("c2", "result = round(area(r), 2)")),
    chat_reply(run_python("c3", "result = r", reset=True)),
    chat_reply(content="done"),
]


def test_the_openai_loop_keeps_state_between_calls(sandbox: Sandbox) -> None:
    """It runs every run_python of one loop in one session; reset=true starts fresh."""
    with respx.mock(base_url=BASE) as api:
        route = api.post("/chat/completions").mock(
            side_effect=[httpx.Response(200, json=r) for r in CONVERSATION]
        )
        http: Any = httpx.Client()
        with OpenAI(api_key="t", base_url=BASE, max_retries=0, http_client=http) as client:
            run = run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
    contents = tool_contents(route)
    assert contents[1] == "result: 12.57"
    assert contents[2].startswith("error: NameError")
    assert run.completed


def test_the_async_openai_loop_keeps_state_between_calls(sandbox: Sandbox) -> None:
    """It keeps one session for the async loop too."""

    async def main() -> list[str]:
        with respx.mock(base_url=BASE) as api:
            route = api.post("/chat/completions").mock(
                side_effect=[httpx.Response(200, json=r) for r in CONVERSATION]
            )
            http: Any = httpx.AsyncClient()
            async with AsyncOpenAI(
                api_key="t", base_url=BASE, max_retries=0, http_client=http
            ) as client:
                await arun_agent_loop(client, sandbox, model="m", messages=MESSAGES)
            return tool_contents(route)

    contents = asyncio.run(main())
    assert contents[1] == "result: 12.57"
    assert contents[2].startswith("error: NameError")


def test_two_openai_loops_do_not_share_state(sandbox: Sandbox) -> None:
    """It gives each loop its own session (and closes it), unless the caller passes one."""
    first = [chat_reply(run_python("a", "secret = 1")), chat_reply(content="ok")]
    second = [chat_reply(run_python("b", "result = secret")), chat_reply(content="ok")]
    with respx.mock(base_url=BASE) as api:
        route = api.post("/chat/completions").mock(
            side_effect=[httpx.Response(200, json=r) for r in [*first, *second, *first, *second]]
        )
        http: Any = httpx.Client()
        with OpenAI(api_key="t", base_url=BASE, max_retries=0, http_client=http) as client:
            run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
            run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
            assert tool_contents(route)[0].startswith("error: NameError")
            with sandbox.session() as shared:
                run_agent_loop(client, sandbox, model="m", messages=MESSAGES, session=shared)
                run_agent_loop(client, sandbox, model="m", messages=MESSAGES, session=shared)
                assert tool_contents(route)[0] == "result: 1"
                assert not shared.closed


def test_handle_tool_calls_takes_a_session(sandbox: Sandbox) -> None:
    """It runs run_python in the session it is given, fresh without one."""
    with sandbox.session() as live:
        handle_tool_calls(
            sandbox, chat_reply(run_python("1", "x = 5"))["choices"][0]["message"], session=live
        )
        again = chat_reply(run_python("2", "result = x"))["choices"][0]["message"]
        assert handle_tool_calls(sandbox, again, session=live)[0]["content"] == "result: 5"
        assert handle_tool_calls(sandbox, again)[0]["content"].startswith("error: NameError")


# -- LangChain -----------------------------------------------------------------------------------
class ToolCallingFakeModel(GenericFakeChatModel):
    """LangChain's fake chat model, plus the bind_tools that agent code calls."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingFakeModel:
        return self


def lc_call(call_id: str, code: str, **extra: Any) -> dict[str, Any]:
    args = {"code": code, **extra}
    return {"type": "tool_call", "id": call_id, "name": "run_python", "args": args}


def drive(toolkit: SandboxToolkit, script: list[AIMessage]) -> list[ToolMessage]:
    """A LangChain tool-calling loop with a fake chat model; the tool messages it got."""
    tools = {t.name: t for t in toolkit.get_tools()}
    model = ToolCallingFakeModel(messages=iter(script)).bind_tools(list(tools.values()))
    messages: list[BaseMessage] = [HumanMessage("go")]
    for _ in range(len(script)):
        reply = model.invoke(messages)
        messages.append(reply)
        if not isinstance(reply, AIMessage) or not reply.tool_calls:
            break
        for tool_call in reply.tool_calls:
            messages.append(tools[tool_call["name"]].invoke(tool_call))
    return [m for m in messages if isinstance(m, ToolMessage)]


def test_a_langchain_toolkit_keeps_state_and_two_toolkits_do_not_share(
    sandbox: Sandbox,
) -> None:
    """It keeps one session per toolkit (a fake chat model drives it); another toolkit on the
    same sandbox does not see its variables; reset=true starts fresh."""
    mine, other = SandboxToolkit(sandbox=sandbox), SandboxToolkit(sandbox=sandbox)
    answers = drive(
        mine,
        [
            AIMessage("", tool_calls=[lc_call("1", "def double(n):\n    return 2 * n")]),
            AIMessage("", tool_calls=[lc_call("2", "result = double(21)")]),
            AIMessage("done"),
        ],
    )
    assert [a.content for a in answers] == ["result: null", "result: 42"]
    peeked = drive(other, [AIMessage("", tool_calls=[lc_call("3", "result = double(1)")])])
    assert peeked[0].status == "error"
    assert "NameError" in str(peeked[0].content)
    reset = drive(mine, [AIMessage("", tool_calls=[lc_call("4", "double", reset=True)])])
    assert "NameError" in str(reset[0].content)


def test_langchain_ainvoke_keeps_state(sandbox: Sandbox) -> None:
    """It keeps the same session through ainvoke."""
    tools = {t.name: t for t in langchain_tools(sandbox)}

    async def main() -> Any:
        await tools["run_python"].ainvoke({"code": "y = 3"})
        return await tools["run_python"].ainvoke({"code": "result = y * 2"})

    assert asyncio.run(main()) == "result: 6"


# -- MCP -----------------------------------------------------------------------------------------
def text_of(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


def test_two_mcp_clients_of_one_server_do_not_share_state(sandbox: Sandbox) -> None:
    """It keeps one session per client connection (the initialize handshake): each keeps its
    variables, neither sees the other's, and a connection's session ends when it closes."""
    server = create_server(sandbox)

    async def main() -> tuple[str, str, str, str]:
        async with Client(server, mode="legacy") as one, Client(server, mode="legacy") as two:
            await one.call_tool("run_python", {"code": "who = 'one'"})
            await two.call_tool("run_python", {"code": "who = 'two'"})
            mine = text_of(await one.call_tool("run_python", {"code": "result = who"}))
            theirs = text_of(await two.call_tool("run_python", {"code": "result = who"}))
            fresh = text_of(
                await one.call_tool("run_python", {"code": "result = who", "reset": True})
            )
        async with Client(server, mode="legacy") as three:
            later = text_of(await three.call_tool("run_python", {"code": "result = who"}))
        return mine, theirs, fresh, later

    mine, theirs, fresh, later = anyio.run(main)
    assert mine == 'result: "one"'
    assert theirs == 'result: "two"'
    assert fresh.startswith("error: NameError")
    assert later.startswith("error: NameError")
    assert not any(not s.closed for s in sandbox._sessions)  # every connection's ended


def test_connectionless_mcp_requests_use_the_servers_session_or_none(sandbox: Sandbox) -> None:
    """It runs 2026-07-28 requests (no connection) in the session the server was given, and
    without one starts every call fresh: state is never shared by accident."""

    async def conversation(server: Any) -> str:
        async with Client(server) as client:
            await client.call_tool("run_python", {"code": "kept = 'yes'"})
            return text_of(await client.call_tool("run_python", {"code": "result = kept"}))

    with sandbox.session() as live:
        assert anyio.run(conversation, create_server(sandbox, session=live)) == 'result: "yes"'
    assert anyio.run(conversation, create_server(sandbox)).startswith("error: NameError")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_ai_sandbox_mcp_command_keeps_state_per_client(project: Path, mode: str) -> None:
    """It keeps run_python state between the calls of a client of a real `ai-sandbox mcp`
    process, and two clients (two processes) never share it, with and without the handshake."""
    params = StdioServerParameters(
        command=CONSOLE_SCRIPT, args=["mcp", "--root", str(project)], env=dict(os.environ)
    )

    async def main() -> tuple[str, str, str]:
        with anyio.fail_after(30):
            async with Client(params, mode=mode) as one, Client(params, mode=mode) as two:
                await one.call_tool("run_python", {"code": "import json\ntotal = 40"})
                kept = text_of(await one.call_tool("run_python", {"code": "total + 2"}))
                other = text_of(await two.call_tool("run_python", {"code": "result = total"}))
                reset = text_of(
                    await one.call_tool("run_python", {"code": "result = total", "reset": True})
                )
                return kept, other, reset

    kept, other, reset = anyio.run(main)
    assert kept in ("result: 42", "result: null")  # "result: 42" with notebook display
    assert other.startswith("error: NameError")
    assert reset.startswith("error: NameError")


def test_a_session_object_routes_run_python(sandbox: Sandbox) -> None:
    """It answers Session.call like Sandbox.call, with run_python in the session."""
    with sandbox.session() as live:
        assert isinstance(live, Session)
        live.call("run_python", {"code": "z = 9"})
        assert live.call("run_python", '{"code": "result = z"}').content == "result: 9"
        assert live.call("list_directory", {"path": "."}).ok
        assert not sandbox.call("run_python", {"code": "result = z"}).ok
