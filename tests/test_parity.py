"""One tool definition, three doors: OpenAI, LangChain and MCP expose and answer the same.

For every tool, each surface publishes the same name, description and parameter schema, and
the same call gets the same answer through each of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from mcp import Client
from mcp_types import TextContent
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.adapters.langchain import langchain_tools
from ai_sandbox.adapters.mcp import create_server
from ai_sandbox.adapters.openai import handle_tool_calls, openai_tools
from ai_sandbox.tools import TOOL_SPECS

NAMES = [spec.name for spec in TOOL_SPECS]


@pytest.fixture
def sandbox(project: Path) -> Iterator[Sandbox]:
    with Sandbox(root=project, policy=SandboxPolicy(isolation="none", allow_writes=True)) as sb:
        yield sb


def canonical(schema: Any, *, root: bool = True) -> Any:
    """A parameter schema minus what differs only in form between the surfaces.

    Titles and ``"default": null`` are noise (LangChain keeps the latter, we drop titles); the
    root's ``additionalProperties`` and ``description`` are not published by LangChain. None of
    them changes what a model may send: ``Sandbox.call`` validates every surface alike.
    """
    if isinstance(schema, list):
        return [canonical(item, root=False) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and value is None):
            continue
        if root and key in ("additionalProperties", "description"):
            continue
        if key == "properties":
            out[key] = {name: canonical(sub, root=False) for name, sub in value.items()}
        else:
            out[key] = canonical(value, root=False)
    return out


def published(sandbox: Sandbox, *, strict: bool = False) -> dict[str, dict[str, tuple[str, Any]]]:
    """surface -> tool name -> (description, parameters), as each surface publishes them."""

    async def mcp_tools() -> Any:
        async with Client(create_server(sandbox)) as client:
            return (await client.list_tools()).tools

    chat = openai_tools(sandbox, api="chat", strict=strict)
    responses = openai_tools(sandbox, api="responses", strict=strict)
    lc = [convert_to_openai_tool(t, strict=strict)["function"] for t in langchain_tools(sandbox)]
    surfaces = {
        "openai-chat": {t["function"]["name"]: t["function"] for t in chat},
        "openai-responses": {t["name"]: t for t in responses},
        "langchain": {t["name"]: t for t in lc},
    }
    if not strict:
        surfaces["mcp"] = {
            t.name: {"description": t.description, "parameters": t.input_schema}
            for t in anyio.run(mcp_tools)
        }
    return {
        surface: {name: (d["description"], d["parameters"]) for name, d in tools.items()}
        for surface, tools in surfaces.items()
    }


def test_every_surface_publishes_the_same_tools(sandbox: Sandbox) -> None:
    """It publishes the same tool names, in the same order, on every surface."""
    for surface, tools in published(sandbox).items():
        assert list(tools) == NAMES, surface


@pytest.mark.parametrize("name", NAMES)
def test_same_description_and_parameters_everywhere(sandbox: Sandbox, name: str) -> None:
    """It gives a tool the same description and parameter schema on every surface."""
    surfaces = published(sandbox)
    reference_description, reference_parameters = surfaces["openai-chat"][name]
    for surface, tools in surfaces.items():
        description, parameters = tools[name]
        assert description == reference_description, surface
        assert canonical(parameters) == canonical(reference_parameters), surface


@pytest.mark.parametrize("name", NAMES)
def test_strict_schemas_agree_on_the_arguments(sandbox: Sandbox, name: str) -> None:
    """It requires the same arguments in strict mode as LangChain's own strict conversion."""
    surfaces = published(sandbox, strict=True)
    chat = surfaces["openai-chat"][name][1]
    assert surfaces["openai-responses"][name][1] == chat
    lc = surfaces["langchain"][name][1]
    assert list(chat["properties"]) == list(lc["properties"])
    assert chat["required"] == lc["required"] == list(chat["properties"])
    assert chat["additionalProperties"] is lc["additionalProperties"] is False


# -- the same call through every door ------------------------------------------------------------
CALLS = [
    pytest.param("list_directory", {"path": "data"}, id="list_directory"),
    pytest.param("read_file", {"path": "data/numbers.csv"}, id="read_file"),
    pytest.param("write_file", {"path": "out/r.md", "content": "# hi\n"}, id="write_file"),
    pytest.param("run_python", {"code": "print('x')\nresult = {'a': [1, 2.5]}"}, id="run_python"),
    pytest.param("read_file", {"path": "../../etc/passwd"}, id="refused-path"),
    pytest.param("read_file", {"path": "a", "extra": 1}, id="bad-arguments"),
    pytest.param("run_python", {"code": "import os"}, id="refused-import"),
    pytest.param("run_python", {"code": "result = [][1]"}, id="failing-code"),
    pytest.param("list_directory", {"path": None}, id="null-means-default"),
]


def through_openai_chat(sandbox: Sandbox, name: str, arguments: dict[str, Any]) -> str:
    completion = ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "1",
                                "type": "function",
                                "function": {"name": name, "arguments": json.dumps(arguments)},
                            }
                        ],
                    },
                }
            ],
        }
    )
    [answer] = handle_tool_calls(sandbox, completion)
    content: str = answer["content"]
    return content


def through_openai_responses(sandbox: Sandbox, name: str, arguments: dict[str, Any]) -> str:
    response = Response.model_validate(
        {
            "id": "r",
            "object": "response",
            "created_at": 0,
            "model": "m",
            "output": [
                {
                    "type": "function_call",
                    "call_id": "1",
                    "name": name,
                    "arguments": json.dumps(arguments),
                }
            ],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        }
    )
    [answer] = handle_tool_calls(sandbox, response)
    output: str = answer["output"]
    return output


def through_langchain(sandbox: Sandbox, name: str, arguments: dict[str, Any]) -> ToolMessage:
    tool = next(t for t in langchain_tools(sandbox) if t.name == name)
    message = tool.invoke({"type": "tool_call", "id": "1", "name": name, "args": arguments})
    assert isinstance(message, ToolMessage)
    return message


def through_mcp(sandbox: Sandbox, name: str, arguments: dict[str, Any]) -> tuple[str, Any, bool]:
    async def call() -> tuple[str, Any, bool]:
        async with Client(create_server(sandbox)) as client:
            result = await client.call_tool(name, arguments)
        [block] = result.content
        assert isinstance(block, TextContent)
        return block.text, result.structured_content, result.is_error

    return anyio.run(call)


def without_timing(data: Any) -> Any:
    """A ToolResult dump minus the run time, which differs between two runs."""
    if isinstance(data, dict):
        return {k: without_timing(v) for k, v in data.items() if k != "duration_ms"}
    return data


@pytest.mark.parametrize(("name", "arguments"), CALLS)
def test_same_call_same_answer_everywhere(
    sandbox: Sandbox, name: str, arguments: dict[str, Any]
) -> None:
    """It gives the same answer to the same call on every surface."""
    langchain_message = through_langchain(sandbox, name, arguments)
    mcp_text, mcp_structured, mcp_is_error = through_mcp(sandbox, name, arguments)
    texts = {
        "openai-chat": through_openai_chat(sandbox, name, arguments),
        "openai-responses": through_openai_responses(sandbox, name, arguments),
        "langchain": langchain_message.content,
        "mcp": mcp_text,
    }
    assert len(set(texts.values())) == 1, texts
    artifact = langchain_message.artifact
    assert without_timing(artifact.model_dump(mode="json")) == without_timing(mcp_structured)
    assert (langchain_message.status == "error") is mcp_is_error is (not artifact.ok)


# -- a conversation through every door: state kept, reset=true the same everywhere -------------
CONVERSATION: list[dict[str, Any]] = [
    {"code": "n = 20"},
    {"code": "result = n + 1"},
    {"code": "result = n", "reset": True},
    {"code": "result = 'fresh'"},
]


def test_a_conversation_keeps_state_and_resets_alike_everywhere(sandbox: Sandbox) -> None:
    """It keeps run_python's state between the calls of one conversation on every surface,
    and reset=true starts fresh on every surface, with the same answers."""

    def openai_answers(api_reply: Any) -> list[str]:
        with sandbox.session() as live:
            out = []
            for args in CONVERSATION:
                [answer] = handle_tool_calls(sandbox, api_reply(args), session=live)
                out.append(answer.get("content", answer.get("output")))
            return out

    def chat(args: dict[str, Any]) -> Any:
        call = {
            "id": "1",
            "type": "function",
            "function": {"name": "run_python", "arguments": json.dumps(args)},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}

    def responses(args: dict[str, Any]) -> Any:
        return Response.model_validate(
            {
                "id": "r",
                "object": "response",
                "created_at": 0,
                "model": "m",
                "output": [
                    {
                        "type": "function_call",
                        "call_id": "1",
                        "name": "run_python",
                        "arguments": json.dumps(args),
                    }
                ],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
            }
        )

    tool = next(t for t in langchain_tools(sandbox) if t.name == "run_python")
    langchain = [str(tool.invoke(args)) for args in CONVERSATION]

    async def mcp_answers() -> list[str]:
        async with Client(create_server(sandbox), mode="legacy") as client:
            out = []
            for args in CONVERSATION:
                [block] = (await client.call_tool("run_python", args)).content
                assert isinstance(block, TextContent)
                out.append(block.text)
            return out

    answers = {
        "openai-chat": openai_answers(chat),
        "openai-responses": openai_answers(responses),
        "langchain": langchain,
        "mcp": anyio.run(mcp_answers),
    }
    assert len({tuple(a) for a in answers.values()}) == 1, answers
    first = answers["mcp"]
    assert first[1] == "result: 21"
    assert first[2].startswith("error: NameError")
    assert first[3] == 'result: "fresh"'


@pytest.mark.parametrize("language", ["restricted", "python"])
def test_run_python_says_which_language_it_runs(tmp_path: Path, language: str) -> None:
    """It tells the model, on every surface alike, which language ``run_python`` accepts."""
    from ai_sandbox.tools import LANGUAGE_NOTES

    sandbox = Sandbox(tmp_path, SandboxPolicy(language=language))
    try:
        run = next(s for s in sandbox.tool_specs() if s.name == "run_python")
        assert run.description.endswith(LANGUAGE_NOTES[language])
        other = "python" if language == "restricted" else "restricted"
        assert LANGUAGE_NOTES[other] not in run.description
    finally:
        sandbox.close()
