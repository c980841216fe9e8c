"""Images on every surface: an image file read with read_file, and a run_python result that
carries a plot, as MCP ImageContent, LangChain image blocks, Responses input_image items, and
words on Chat Completions (text only)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from image_support import png
from langchain_core.messages import ToolMessage
from mcp import Client
from mcp_types import ImageContent, TextContent
from openai import OpenAI
from openai.types.responses import ResponseFunctionCallOutputItemListParam
from pydantic import TypeAdapter

from ai_sandbox import ExecutionResult, Sandbox, SandboxPolicy
from ai_sandbox.adapters.langchain import langchain_tools
from ai_sandbox.adapters.mcp import create_server
from ai_sandbox.adapters.openai import handle_tool_calls, run_agent_loop
from ai_sandbox.backend_protocol import ExecutionBackend, ExecutionSession
from ai_sandbox.results import Image

BASE = "https://api.test/v1"
PLOT = png(64, 48)
PLOT_B64 = base64.b64encode(PLOT).decode()


class _PlotBackend:
    """Runs code for real, then adds the figure a matplotlib run would leave open (the python
    mode fills ExecutionResult.images itself; the adapters only map what they are given)."""

    def __init__(self, inner: ExecutionBackend) -> None:
        self.inner = inner
        self.layers = inner.layers

    def execute(self, code: str, inputs: Mapping[str, Any] | None = None) -> ExecutionResult:
        res = self.inner.execute(code, inputs)
        figure = Image(
            media_type="image/png", width=64, height=48, data_base64=PLOT_B64, name="figure 1"
        )
        return res.model_copy(update={"images": (figure,)})

    def session(self) -> ExecutionSession:
        return _PlotSession(self.inner.session())

    def close(self) -> None:
        self.inner.close()


class _PlotSession:
    """The session of ``_PlotBackend``: every run also "draws" the figure (the surfaces run
    ``run_python`` in a session per conversation)."""

    def __init__(self, inner: ExecutionSession) -> None:
        self.inner = inner

    def run(self, code: str, inputs: Mapping[str, Any] | None = None) -> ExecutionResult:
        res = self.inner.run(code, inputs)
        figure = Image(
            media_type="image/png", width=64, height=48, data_base64=PLOT_B64, name="figure 1"
        )
        return res.model_copy(update={"images": (figure,)})

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def sandbox(project: Path) -> Iterator[Sandbox]:
    (project / "plot.png").write_bytes(png(31, 17))
    with Sandbox(root=project, policy=SandboxPolicy(isolation="none")) as sb:
        yield sb


@pytest.fixture
def plotting(sandbox: Sandbox) -> Sandbox:
    sandbox._backend = _PlotBackend(sandbox._get_backend())
    return sandbox


CASES = [
    pytest.param("read_file", {"path": "plot.png"}, png(31, 17), "plot.png", id="read_file-png"),
    pytest.param("run_python", {"code": "result = 1"}, PLOT, "figure 1", id="run_python-plot"),
]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(("tool", "arguments", "image", "name"), CASES)
def test_mcp_sends_images_as_image_content(
    plotting: Sandbox, tool: str, arguments: dict[str, Any], image: bytes, name: str
) -> None:
    """It answers with the text first, then each image as MCP ImageContent."""

    async def work() -> Any:
        async with Client(create_server(plotting)) as client:
            return await client.call_tool(tool, arguments)

    result = anyio.run(work)
    assert result.is_error is False
    text, picture = result.content
    assert isinstance(text, TextContent)
    assert name in text.text
    assert isinstance(picture, ImageContent)
    assert (picture.mime_type, picture.data) == ("image/png", _b64(image))


@pytest.mark.parametrize(("tool", "arguments", "image", "name"), CASES)
def test_langchain_sends_image_content_blocks(
    plotting: Sandbox, tool: str, arguments: dict[str, Any], image: bytes, name: str
) -> None:
    """It answers with a ToolMessage of a text block and a standard image block, artifact kept."""
    tools = {t.name: t for t in langchain_tools(plotting)}
    call = {"type": "tool_call", "id": "t1", "name": tool, "args": arguments}
    message = tools[tool].invoke(call)
    assert isinstance(message, ToolMessage)
    assert message.status == "success"
    text, block = message.content
    assert isinstance(text, dict)
    assert text["type"] == "text"
    assert name in text["text"]
    assert block == {"type": "image", "base64": _b64(image), "mime_type": "image/png"}
    assert [b["type"] for b in message.content_blocks] == ["text", "image"]
    assert message.artifact.images[0].data_base64 == _b64(image)


def test_langchain_text_only_results_stay_strings(sandbox: Sandbox) -> None:
    """It keeps plain text content for results without images."""
    tools = {t.name: t for t in langchain_tools(sandbox)}
    call = {
        "type": "tool_call",
        "id": "t1",
        "name": "read_file",
        "args": {"path": "data/numbers.csv"},
    }
    assert tools["read_file"].invoke(call).content == "n\n1\n2\n3\n"


def _responses_reply(*calls: tuple[str, str, dict[str, Any]], text: str | None = None) -> Any:
    output: list[dict[str, Any]] = [
        {
            "type": "function_call",
            "id": f"fc_{call_id}",
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(args),
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
        "model": "m",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "status": "completed",
    }


def _chat_reply(*calls: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    message["tool_calls"] = [
        {"id": cid, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
        for cid, n, a in calls
    ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
    }


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def client() -> Iterator[OpenAI]:
    http_client: Any = httpx.Client()  # respx intercepts httpx (see API-NOTES)
    with OpenAI(api_key="test", base_url=BASE, max_retries=0, http_client=http_client) as c:
        yield c


def test_responses_loop_sends_input_image_items(
    plotting: Sandbox, api: respx.MockRouter, client: OpenAI
) -> None:
    """It answers a function call with input_text then input_image items (data URLs) in the
    function_call_output, the shape the SDK's ResponseFunctionCallOutputItemListParam takes."""
    route = api.post("/responses").mock(
        side_effect=[
            httpx.Response(
                200,
                json=_responses_reply(
                    ("a", "read_file", {"path": "plot.png"}),
                    ("b", "run_python", {"code": "result = 1"}),
                    ("c", "read_file", {"path": "data/numbers.csv"}),
                ),
            ),
            httpx.Response(200, json=_responses_reply(text="Seen.")),
        ]
    )
    run = run_agent_loop(client, plotting, model="m", input="Look at the plot.")
    assert run.final_output == "Seen."
    sent = json.loads(route.calls[1].request.content)
    outputs = {i["call_id"]: i for i in sent["input"] if i.get("type") == "function_call_output"}
    for call_id, image in (("a", png(31, 17)), ("b", PLOT)):
        items = outputs[call_id]["output"]
        TypeAdapter(ResponseFunctionCallOutputItemListParam).validate_python(items)
        assert items[0]["type"] == "input_text"
        assert items[1] == {
            "type": "input_image",
            "image_url": f"data:image/png;base64,{_b64(image)}",
            "detail": "auto",
        }
    assert outputs["c"]["output"] == "n\n1\n2\n3\n"


@pytest.mark.parametrize(("tool", "arguments", "image", "name"), CASES)
def test_chat_completions_says_what_was_produced(
    plotting: Sandbox, tool: str, arguments: dict[str, Any], image: bytes, name: str
) -> None:
    """It tells a Chat Completions model (text-only tool messages) what image was produced
    and how to get it, and sends no image data."""
    reply = _chat_reply(("c1", tool, arguments))
    [message] = handle_tool_calls(plotting, reply)
    content = message["content"]
    assert isinstance(content, str)
    assert "1 image produced but not shown here" in content
    assert f"{name!r} (image/png" in content
    assert "plt.savefig" in content
    assert _b64(image)[:40] not in content


def test_run_python_text_mentions_its_images(plotting: Sandbox) -> None:
    """It names a run's images in the run_python text every surface shows."""
    res = plotting.call("run_python", {"code": "result = 2"})
    assert res.content.split("\n")[:2] == [
        "result: 2",
        "images: figure 1 (image/png, 64x48 pixels)",
    ]
    assert res.images[0].data_base64 == PLOT_B64
