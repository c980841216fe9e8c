"""The OpenAI adapter: tool definitions, call handling and the agent loop, over the real SDK.

The ``openai`` client talks to a mocked HTTP API (respx patches ``httpx``, so the client is
built with ``http_client=httpx.Client()``); the sandbox and its files are real.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import respx
from openai import AsyncOpenAI, OpenAI

from ai_sandbox import ConfigurationError, ModelReplyError, Sandbox, SandboxPolicy
from ai_sandbox.adapters._schema import parameters_schema
from ai_sandbox.adapters.openai import (
    AgentTurn,
    ahandle_tool_calls,
    arun_agent_loop,
    handle_tool_calls,
    openai_tools,
    run_agent_loop,
)
from ai_sandbox.tools import TOOL_SPECS

BASE = "https://api.test/v1"
MESSAGES = [{"role": "user", "content": "Work on the project."}]


# -- fake API replies ------------------------------------------------------------------------
def chat_reply(*calls: tuple[str, str, Any], content: str | None = None) -> dict[str, Any]:
    """A Chat Completions reply; each call is (id, name, arguments as dict or raw string)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for call_id, name, args in calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {"index": 0, "finish_reason": "tool_calls" if calls else "stop", "message": message}
        ],
    }


def responses_reply(*calls: tuple[str, str, Any], text: str | None = None) -> dict[str, Any]:
    """A Responses API reply with function_call items and/or a final message."""
    output: list[dict[str, Any]] = [
        {
            "type": "function_call",
            "id": f"fc_{call_id}",
            "call_id": call_id,
            "name": name,
            "arguments": args if isinstance(args, str) else json.dumps(args),
            "status": "completed",
        }
        for call_id, name, args in calls
    ]
    if text is not None:
        output.append(
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "model": "test-model",
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }


def sent(route: respx.Route, index: int) -> dict[str, Any]:
    """The JSON body of the ``index``-th request that hit ``route``."""
    body: dict[str, Any] = json.loads(route.calls[index].request.content)
    return body


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def sandbox(project: Path) -> Iterator[Sandbox]:
    with Sandbox(root=project, policy=SandboxPolicy(isolation="none", allow_writes=True)) as sb:
        yield sb


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client() -> Iterator[OpenAI]:
    # openai 3 is typed for httpx2 but accepts an httpx client, which respx can intercept.
    http_client: Any = httpx.Client()
    with OpenAI(api_key="test", base_url=BASE, max_retries=0, http_client=http_client) as c:
        yield c


def async_client() -> AsyncOpenAI:
    http_client: Any = httpx.AsyncClient()
    return AsyncOpenAI(api_key="test", base_url=BASE, max_retries=0, http_client=http_client)


# -- tool definitions ------------------------------------------------------------------------
def test_chat_tools_nest_under_function(sandbox: Sandbox) -> None:
    """It shapes Chat Completions tools as {"type": "function", "function": {...}}."""
    tools = openai_tools(sandbox, api="chat")
    assert [t["function"]["name"] for t in tools] == [s.name for s in TOOL_SPECS]
    for tool, spec in zip(tools, sandbox.tool_specs(), strict=True):
        assert tool == {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": parameters_schema(spec, strict=True),
                "strict": True,
            },
        }


def test_responses_tools_are_flat(sandbox: Sandbox) -> None:
    """It shapes Responses API tools flat: type, name, description, parameters, strict."""
    tools = openai_tools(sandbox, api="responses", strict=False)
    for tool, spec in zip(tools, sandbox.tool_specs(), strict=True):
        assert tool == {
            "type": "function",
            "name": spec.name,
            "description": spec.description,
            "parameters": parameters_schema(spec),
            "strict": False,
        }


def _objects(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _objects(item)


def _keys(schema: Any) -> set[str]:
    """Every keyword used anywhere in a schema (property names excluded)."""
    if isinstance(schema, list):
        return set().union(*(_keys(item) for item in schema))
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, value in schema.items():
        subs = value.values() if key == "properties" and isinstance(value, dict) else [value]
        found |= set().union(*(_keys(sub) for sub in subs))
    return found


@pytest.mark.parametrize("spec", TOOL_SPECS, ids=[s.name for s in TOOL_SPECS])
def test_strict_schema_follows_openai_rules(spec: Any) -> None:
    """It closes every object and requires every property in strict schemas."""
    schema = parameters_schema(spec, strict=True)
    objects = list(_objects(schema))
    assert objects
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert not _keys(schema) & {"default", "title", "maxLength"}


def test_strict_schema_makes_optional_arguments_nullable() -> None:
    """It lets the model send null for an optional argument and says what null means."""
    spec = next(s for s in TOOL_SPECS if s.name == "list_directory")
    path = parameters_schema(spec, strict=True)["properties"]["path"]
    assert {"type": "null"} in path["anyOf"]
    assert 'null means the default, "."' in path["description"]


def test_unknown_api_is_a_configuration_error(sandbox: Sandbox) -> None:
    """It refuses an api other than chat or responses."""
    with pytest.raises(ConfigurationError, match="chat"):
        openai_tools(sandbox, api="assistants")  # type: ignore[arg-type]


# -- the chat loop -----------------------------------------------------------------------------
def test_multi_turn_loop_runs_code_reads_and_writes(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI, project: Path
) -> None:
    """It runs a multi-turn loop and feeds every tool result back to the model."""
    route = api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=chat_reply(("c1", "read_file", {"path": "data/numbers.csv"}))),
            httpx.Response(
                200,
                json=chat_reply(
                    ("c2", "run_python", {"code": "result = 1 + 2 + 3", "inputs": None})
                ),
            ),
            httpx.Response(
                200,
                json=chat_reply(("c3", "write_file", {"path": "out/total.txt", "content": "6"})),
            ),
            httpx.Response(200, json=chat_reply(content="The total is 6.")),
        ]
    )
    run = run_agent_loop(client, sandbox, model="test-model", messages=MESSAGES)

    assert run.completed
    assert run.final_output == "The total is 6."
    assert (project / "out" / "total.txt").read_text() == "6"
    assert [c.name for c in run.tool_calls] == ["read_file", "run_python", "write_file"]
    assert all(c.result.ok for c in run.tool_calls)
    last = sent(route, 3)["messages"]
    tool_messages = [m for m in last if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["c1", "c2", "c3"]
    assert tool_messages[0]["content"] == "n\n1\n2\n3\n"
    assert "result: 6" in tool_messages[1]["content"]
    assert sent(route, 0)["tools"] == openai_tools(sandbox)
    assert run.transcript == [*last, {"role": "assistant", "content": "The total is 6."}]


def test_parallel_calls_in_one_turn_are_all_answered(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI
) -> None:
    """It answers every call of a parallel turn, in order, each with its own id."""
    route = api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(
                200,
                json=chat_reply(
                    ("a", "list_directory", {"path": "."}),
                    ("b", "read_file", {"path": "data/numbers.csv"}),
                    ("c", "run_python", {"code": "result = 'hi'", "inputs": None}),
                ),
            ),
            httpx.Response(200, json=chat_reply(content="done")),
        ]
    )
    run = run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
    answers = [m for m in sent(route, 1)["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in answers] == ["a", "b", "c"]
    assert answers[0]["content"] == "data/"
    assert len(run.turns) == 2
    assert len(run.turns[0].calls) == 3


def test_hostile_call_is_refused_and_the_model_reads_why(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI, canary: Path
) -> None:
    """It refuses a path outside the root and sends the refusal text to the model."""
    route = api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=chat_reply(("x", "read_file", {"path": "../secret.txt"}))),
            httpx.Response(200, json=chat_reply(content="I cannot read that.")),
        ]
    )
    run = run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
    refusal = next(m for m in sent(route, 1)["messages"] if m["role"] == "tool")["content"]
    assert refusal.startswith("Error: SecurityError")
    assert run.tool_calls[0].result.error is not None
    assert canary.read_text() not in route.calls[1].request.content.decode()


@pytest.mark.parametrize(
    ("name", "arguments", "fragment"),
    [
        pytest.param("read_file", '{"path": ', "not valid JSON", id="malformed-json"),
        pytest.param("read_file", "[1]", "must be a JSON object", id="not-an-object"),
        pytest.param("read_file", {"path": 7}, "valid string", id="wrong-type"),
        pytest.param("read_file", {"path": "a", "mode": "w"}, "Extra inputs", id="extra-field"),
        pytest.param("delete_everything", {}, "unknown tool", id="unknown-tool"),
    ],
)
def test_model_mistakes_become_tool_results(
    sandbox: Sandbox,
    api: respx.MockRouter,
    client: OpenAI,
    name: str,
    arguments: Any,
    fragment: str,
) -> None:
    """It answers malformed arguments and unknown tools with a tool result, and carries on."""
    route = api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=chat_reply(("m1", name, arguments))),
            httpx.Response(200, json=chat_reply(content="sorry")),
        ]
    )
    run = run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
    answer = next(m for m in sent(route, 1)["messages"] if m["role"] == "tool")
    assert answer["tool_call_id"] == "m1"
    assert fragment in answer["content"]
    assert run.completed


def test_null_optional_argument_means_default(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI
) -> None:
    """It treats null for an optional argument (as strict mode sends it) as its default."""
    api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=chat_reply(("n", "list_directory", {"path": None}))),
            httpx.Response(200, json=chat_reply(content="ok")),
        ]
    )
    run = run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
    assert run.tool_calls[0].result.ok
    assert run.tool_calls[0].result.content == "data/"


def test_custom_tool_calls_are_refused_clearly(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI
) -> None:
    """It answers a non-function (custom) tool call with a refusal, without running anything."""
    reply = chat_reply(content=None)
    reply["choices"][0]["message"]["tool_calls"] = [
        {"id": "k", "type": "custom", "custom": {"name": "run_python", "input": "result = 1"}}
    ]
    route = api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(200, json=reply),
            httpx.Response(200, json=chat_reply(content="ok")),
        ]
    )
    run = run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
    answer = next(m for m in sent(route, 1)["messages"] if m["role"] == "tool")
    assert answer["tool_call_id"] == "k"
    assert "custom tool calls are not supported" in answer["content"]
    assert run.tool_calls[0].result.ok is False


def test_max_turns_stops_a_model_that_never_answers(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI
) -> None:
    """It stops after max_turns requests and reports the run as not completed."""
    route = api.post("/chat/completions").mock(
        return_value=httpx.Response(200, json=chat_reply(("l", "list_directory", {"path": "."})))
    )
    run = run_agent_loop(client, sandbox, model="m", messages=MESSAGES, max_turns=3)
    assert route.call_count == 3
    assert run.completed is False
    assert len(run.turns) == 3


def test_on_turn_sees_each_turn(sandbox: Sandbox, api: respx.MockRouter, client: OpenAI) -> None:
    """It reports each finished turn to on_turn as it happens."""
    api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(
                200, json=chat_reply(("l", "list_directory", {"path": "."}), content="hm")
            ),
            httpx.Response(200, json=chat_reply(content="bye")),
        ]
    )
    seen: list[AgentTurn] = []
    run_agent_loop(client, sandbox, model="m", messages=MESSAGES, on_turn=seen.append)
    assert [(t.index, t.text, len(t.calls)) for t in seen] == [(1, "hm", 1), (2, "bye", 0)]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(429, openai.RateLimitError, id="429-rate-limit"),
        pytest.param(500, openai.InternalServerError, id="500-server-error"),
    ],
)
def test_api_errors_surface_as_the_sdks_own(
    sandbox: Sandbox,
    api: respx.MockRouter,
    client: OpenAI,
    status: int,
    error: type[Exception],
) -> None:
    """It lets the SDK's own error through when the API fails."""
    api.post("/chat/completions").mock(
        return_value=httpx.Response(status, json={"error": {"message": "nope", "type": "x"}})
    )
    with pytest.raises(error):
        run_agent_loop(client, sandbox, model="m", messages=MESSAGES)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="neither"),
        pytest.param({"messages": MESSAGES, "input": "hi"}, id="both"),
        pytest.param({"messages": MESSAGES, "max_turns": 0}, id="zero-turns"),
    ],
)
def test_loop_arguments_are_checked(
    sandbox: Sandbox, client: OpenAI, kwargs: dict[str, Any]
) -> None:
    """It refuses a loop without exactly one of messages/input, or without turns."""
    with pytest.raises(ConfigurationError):
        run_agent_loop(client, sandbox, model="m", **kwargs)


# -- the Responses API -------------------------------------------------------------------------
def test_responses_loop_answers_with_function_call_output(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI
) -> None:
    """It runs the Responses API loop, answering each call with function_call_output."""
    route = api.post("/responses").mock(
        side_effect=[
            httpx.Response(
                200,
                json=responses_reply(
                    ("call_a", "read_file", {"path": "data/numbers.csv"}),
                    ("call_b", "read_file", {"path": "/etc/passwd"}),
                ),
            ),
            httpx.Response(200, json=responses_reply(text="Three numbers.")),
        ]
    )
    run = run_agent_loop(client, sandbox, model="m", input="Read the numbers.")
    assert run.final_output == "Three numbers."
    second = sent(route, 1)
    assert second["tools"] == openai_tools(sandbox, api="responses")
    outputs = [i for i in second["input"] if i.get("type") == "function_call_output"]
    assert [o["call_id"] for o in outputs] == ["call_a", "call_b"]
    assert outputs[0]["output"] == "n\n1\n2\n3\n"
    assert outputs[1]["output"].startswith("Error: SecurityError")
    assert second["input"][0] == {"role": "user", "content": "Read the numbers."}
    assert [i["type"] for i in second["input"][1:3]] == ["function_call", "function_call"]


def test_handle_tool_calls_reads_every_reply_shape(sandbox: Sandbox) -> None:
    """It accepts a ChatCompletion, its message (object or dict) and a Responses reply."""
    completion = openai.types.chat.ChatCompletion.model_validate(
        chat_reply(("c", "list_directory", {"path": "."}))
    )
    response = openai.types.responses.Response.model_validate(
        responses_reply(("r", "list_directory", {"path": "."}))
    )
    expected_chat = [{"role": "tool", "tool_call_id": "c", "content": "data/"}]
    assert handle_tool_calls(sandbox, completion) == expected_chat
    assert handle_tool_calls(sandbox, completion.choices[0].message) == expected_chat
    assert handle_tool_calls(sandbox, completion.choices[0].message.to_dict()) == expected_chat
    assert handle_tool_calls(sandbox, response) == [
        {"type": "function_call_output", "call_id": "r", "output": "data/"}
    ]


def test_handle_tool_calls_refuses_custom_responses_calls(sandbox: Sandbox) -> None:
    """It answers a Responses custom_tool_call with custom_tool_call_output and a refusal."""
    reply = responses_reply()
    reply["output"] = [
        {"type": "custom_tool_call", "call_id": "z", "name": "run_python", "input": "x"}
    ]
    [answer] = handle_tool_calls(sandbox, openai.types.responses.Response.model_validate(reply))
    assert answer["type"] == "custom_tool_call_output"
    assert answer["call_id"] == "z"
    assert "not supported" in answer["output"]


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        pytest.param(
            {"id": "1", "type": "function",
             "function": {"name": "read_file", "arguments": "[" * 100_000}},
            "nested more than", id="deeply-nested-arguments",
        ),
        pytest.param(
            {"id": "1", "type": "function",
             "function": {"name": "read_file",
                          "arguments": '{"path": "data/numbers.csv", "path": "../secret.txt"}'}},
            "more than once", id="duplicate-keys",
        ),
        pytest.param(
            {"id": "1", "type": "__class__", "__class__": {"name": "read_file"}},
            "not supported", id="unknown-call-type",
        ),
        pytest.param(
            {"id": "1", "type": "x" * 10_000}, "x" * 64 + "... tool calls", id="huge-call-type"
        ),
    ],
)  # fmt: skip
def test_hostile_chat_tool_calls_get_readable_answers(
    sandbox: Sandbox, call: dict[str, Any], fragment: str
) -> None:
    """It answers malformed or hostile tool calls in a reply with a tool message, never raising."""
    [answer] = handle_tool_calls(sandbox, {"role": "assistant", "tool_calls": [call]})
    assert answer["tool_call_id"] == "1"
    assert fragment in answer["content"]
    assert len(answer["content"]) < 1000


# -- async -------------------------------------------------------------------------------------
def test_async_chat_loop(sandbox: Sandbox, api: respx.MockRouter, project: Path) -> None:
    """It runs the same loop with AsyncOpenAI."""
    api.post("/chat/completions").mock(
        side_effect=[
            httpx.Response(
                200, json=chat_reply(("w", "write_file", {"path": "a.txt", "content": "async"}))
            ),
            httpx.Response(200, json=chat_reply(content="written")),
        ]
    )

    async def main() -> str:
        async with async_client() as client:
            run = await arun_agent_loop(client, sandbox, model="m", messages=MESSAGES)
        return run.final_output

    assert asyncio.run(main()) == "written"
    assert (project / "a.txt").read_text() == "async"


def test_async_responses_loop(sandbox: Sandbox, api: respx.MockRouter) -> None:
    """It runs the Responses API loop with AsyncOpenAI."""
    route = api.post("/responses").mock(
        side_effect=[
            httpx.Response(200, json=responses_reply(("q", "list_directory", {"path": None}))),
            httpx.Response(200, json=responses_reply(text="one folder")),
        ]
    )

    async def main() -> str:
        async with async_client() as client:
            run = await arun_agent_loop(client, sandbox, model="m", input=[MESSAGES[0]])
        return run.final_output

    assert asyncio.run(main()) == "one folder"
    outputs = [i for i in sent(route, 1)["input"] if i.get("type") == "function_call_output"]
    assert outputs == [{"type": "function_call_output", "call_id": "q", "output": "data/"}]


def test_async_handle_tool_calls(sandbox: Sandbox) -> None:
    """It handles tool calls from async code with the same answers as the sync helper."""
    completion = openai.types.chat.ChatCompletion.model_validate(
        chat_reply(("c", "read_file", {"path": "data/numbers.csv"}))
    )
    answers = asyncio.run(ahandle_tool_calls(sandbox, completion))
    assert answers == handle_tool_calls(sandbox, completion)


def _broken_chat(change: str) -> dict[str, Any]:
    reply = chat_reply(("c1", "list_directory", {"path": "."}))
    message = reply["choices"][0]["message"]
    if change == "no-choices":
        reply["choices"] = []
    elif change == "null-message":
        reply["choices"][0]["message"] = None
    elif change == "call-not-an-object":
        message["tool_calls"] = ["x"]
    elif change == "call-without-id":
        message["tool_calls"][0]["id"] = None
    return reply


@pytest.mark.parametrize(
    "change", ["no-choices", "null-message", "call-not-an-object", "call-without-id"]
)
def test_an_unreadable_chat_reply_stops_the_loop_with_a_clear_error(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI, change: str
) -> None:
    """It raises ModelReplyError (a SandboxError) for a reply it cannot read, instead of an
    AttributeError or IndexError from deep inside the loop; nothing is run."""
    api.post("/chat/completions").mock(return_value=httpx.Response(200, json=_broken_chat(change)))
    with pytest.raises(ModelReplyError, match="could not be read"):
        run_agent_loop(client, sandbox, model="m", messages=MESSAGES)


@pytest.mark.parametrize(
    "reply",
    [
        {"choices": {"a": 1}},
        {"tool_calls": 5},
        {"tool_calls": [5]},
        {"object": "response", "output": [{"type": "function_call", "name": "x"}]},
    ],
    ids=["choices-not-a-list", "calls-not-a-list", "call-not-an-object", "no-id"],
)
def test_handle_tool_calls_refuses_unreadable_replies(sandbox: Sandbox, reply: Any) -> None:
    """It raises ModelReplyError for a reply it cannot read (and invents no answer)."""
    with pytest.raises(ModelReplyError):
        handle_tool_calls(sandbox, reply)


def test_non_text_content_becomes_empty_text(
    sandbox: Sandbox, api: respx.MockRouter, client: OpenAI
) -> None:
    """It keeps the final output a str even when a server sends content of another type."""
    reply = chat_reply(content="done")
    reply["choices"][0]["message"]["content"] = ["not", "text"]
    api.post("/chat/completions").mock(return_value=httpx.Response(200, json=reply))
    run = run_agent_loop(client, sandbox, model="m", messages=MESSAGES)
    assert run.final_output == ""
    assert run.completed is True
