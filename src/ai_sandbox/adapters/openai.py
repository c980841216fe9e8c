"""OpenAI function calling: tool definitions, call handling and a complete agent loop.

Works with the Chat Completions and the Responses API, sync (``OpenAI``) and async
(``AsyncOpenAI``), and with any OpenAI-compatible server::

    from openai import OpenAI
    from ai_sandbox import Sandbox
    from ai_sandbox.adapters.openai import run_agent_loop

    with Sandbox("project") as sandbox:
        run = run_agent_loop(OpenAI(), sandbox, model="gpt-5-mini",
                             messages=[{"role": "user", "content": "Summarise data.csv"}])
        print(run.final_output)

Every call goes through :meth:`ai_sandbox.Sandbox.call`: malformed JSON, unknown tools, bad
arguments and refused operations come back to the model as tool output it can act on; only the
API's own errors (``openai.RateLimitError``...) are raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

try:
    from openai import AsyncOpenAI, OpenAI
except ImportError as _exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        "ai_sandbox.adapters.openai needs the OpenAI SDK: pip install 'ai-sandbox[openai]'"
    ) from _exc

from ai_sandbox.adapters._agent import (
    AgentRun,
    AgentTurn,
    ToolCallRecord,
    arun_tool_call,
    run_tool_call,
    unsupported_call_result,
)
from ai_sandbox.adapters._images import data_url, not_shown_note
from ai_sandbox.adapters._schema import parameters_schema
from ai_sandbox.exceptions import ConfigurationError, ModelReplyError
from ai_sandbox.results import ToolResult
from ai_sandbox.sandbox import Sandbox
from ai_sandbox.session import Session

__all__ = [
    "AgentRun",
    "AgentTurn",
    "Api",
    "ToolCallRecord",
    "ahandle_tool_calls",
    "arun_agent_loop",
    "handle_tool_calls",
    "openai_tools",
    "run_agent_loop",
]

Api = Literal["chat", "responses"]
"""``"chat"``: Chat Completions (``client.chat.completions``); ``"responses"``: Responses API."""

#: Output of a reply to answer: everything else (messages, reasoning, hosted tools) is not ours.
_RESPONSES_CALL_TYPES = {"function_call": "function", "custom_tool_call": "custom"}
#: Chat Completions tool-call types whose body (``call.function``, ``call.custom``) we read.
_CHAT_CALL_TYPES = frozenset({"function", "custom"})


def openai_tools(
    sandbox: Sandbox, *, api: Api = "chat", strict: bool = True
) -> list[dict[str, Any]]:
    """The sandbox's tools in the exact shape ``api`` takes as ``tools=``.

    Chat Completions nests each definition under ``"function"``; the Responses API is flat.
    The schemas come from the pydantic models ``Sandbox.call`` validates with; ``strict=True``
    applies OpenAI's strict-mode rules to them.
    """
    _check_api(api)
    tools: list[dict[str, Any]] = []
    for spec in sandbox.tool_specs():
        definition = {
            "name": spec.name,
            "description": spec.description,
            "parameters": parameters_schema(spec, strict=strict),
            "strict": strict,
        }
        tools.append(
            {"type": "function", "function": definition}
            if api == "chat"
            else {"type": "function", **definition}
        )
    return tools


def handle_tool_calls(
    sandbox: Sandbox, response_or_message: Any, *, session: Session | None = None
) -> list[dict[str, Any]]:
    """Run every function call in a model reply; return the messages to send back.

    Pass the conversation's ``session`` (``sandbox.session()``) so ``run_python`` keeps its
    variables from one reply to the next; without one every run starts fresh.

    Accepts a ``ChatCompletion``, its ``message`` (object or dict), or a Responses API
    ``Response``. Returns ``{"role": "tool", ...}`` messages for Chat and
    ``{"type": "function_call_output", ...}`` items for Responses, in call order. Calls that are
    not function calls (``custom``) get a refusal the model can read.
    """
    api, calls = _calls_of(response_or_message)
    return [_answer(api, call, _run(sandbox, call, session)) for call in calls]


async def ahandle_tool_calls(
    sandbox: Sandbox, response_or_message: Any, *, session: Session | None = None
) -> list[dict[str, Any]]:
    """:func:`handle_tool_calls` for async code: calls run in order, on the event loop
    (``Sandbox.acall``: no thread waits on the worker)."""
    api, calls = _calls_of(response_or_message)
    results = [await _arun(sandbox, call, session) for call in calls]
    return [_answer(api, call, result) for call, result in zip(calls, results, strict=True)]


def run_agent_loop(
    client: OpenAI,
    sandbox: Sandbox,
    *,
    model: str,
    messages: Sequence[Any] | None = None,
    input: str | Sequence[Any] | None = None,
    max_turns: int = 10,
    strict: bool = True,
    on_turn: Callable[[AgentTurn], None] | None = None,
    session: Session | None = None,
    **create_kwargs: Any,
) -> AgentRun:
    """Ask, run the calls, send the results, repeat until the model answers without calls.

    Pass ``messages`` for Chat Completions or ``input`` (text or items) for the Responses API.
    Stops after ``max_turns`` model requests (``AgentRun.completed`` is then False).
    ``on_turn`` sees each turn as it finishes; ``create_kwargs`` go to every ``create`` call
    (e.g. ``instructions=``, ``temperature=``).

    ``run_python`` keeps its state for the whole loop (one :class:`~ai_sandbox.Session`,
    closed at the end). To carry the state into a later loop (continuing ``run.transcript``),
    pass your own ``session=sandbox.session()``: it is used and left open.
    """
    loop = _Loop.start(sandbox, messages, input, max_turns, strict)
    create = loop.create_method(client)
    with _loop_session(sandbox, session) as live:
        for index in range(1, max_turns + 1):
            reply = create(model=model, tools=loop.tools, **loop.request(), **create_kwargs)
            text, calls = loop.absorb(reply)
            results = [_run(sandbox, call, live) for call in calls]
            turn = loop.finish_turn(index, text, calls, results)
            if on_turn is not None:
                on_turn(turn)
            if not calls:
                break
    return loop.outcome()


async def arun_agent_loop(
    client: AsyncOpenAI,
    sandbox: Sandbox,
    *,
    model: str,
    messages: Sequence[Any] | None = None,
    input: str | Sequence[Any] | None = None,
    max_turns: int = 10,
    strict: bool = True,
    on_turn: Callable[[AgentTurn], None] | None = None,
    session: Session | None = None,
    **create_kwargs: Any,
) -> AgentRun:
    """:func:`run_agent_loop` with ``AsyncOpenAI`` (one session for the loop, likewise)."""
    loop = _Loop.start(sandbox, messages, input, max_turns, strict)
    create = loop.create_method(client)
    with _loop_session(sandbox, session) as live:
        for index in range(1, max_turns + 1):
            reply = await create(model=model, tools=loop.tools, **loop.request(), **create_kwargs)
            text, calls = loop.absorb(reply)
            results = [await _arun(sandbox, call, live) for call in calls]
            turn = loop.finish_turn(index, text, calls, results)
            if on_turn is not None:
                on_turn(turn)
            if not calls:
                break
    return loop.outcome()


@contextlib.contextmanager
def _loop_session(sandbox: Sandbox, session: Session | None) -> Iterator[Session]:
    """The caller's session, or one of the loop's own, closed when the loop ends."""
    if session is not None:
        yield session
        return
    with sandbox.session() as own:
        yield own


# -- one call --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Call:
    call_id: str
    name: str
    arguments: str
    kind: str  # "function", or the type of a call we refuse


def _run(sandbox: Sandbox, call: _Call, session: Session | None = None) -> ToolResult:
    if call.kind != "function":
        return unsupported_call_result(call.name, call.kind, sandbox)
    return run_tool_call(sandbox, call.name, call.arguments, session)


async def _arun(sandbox: Sandbox, call: _Call, session: Session | None = None) -> ToolResult:
    if call.kind != "function":
        return unsupported_call_result(call.name, call.kind, sandbox)
    return await arun_tool_call(sandbox, call.name, call.arguments, session)


def _answer(api: Api, call: _Call, result: ToolResult) -> dict[str, Any]:
    """The message (Chat) or input item (Responses) that answers ``call`` with ``result``.

    Images: the Responses API takes them in a function call's output, as ``input_image``
    items after the text (``ResponseFunctionCallOutputItemListParam``); Chat Completions tool
    messages take text only, so there the text says what was produced and how to get it.
    """
    if api == "chat":
        note = not_shown_note(result.images)
        content = f"{result.content}\n{note}" if note else result.content
        return {"role": "tool", "tool_call_id": call.call_id, "content": content}
    kind = "function_call_output" if call.kind == "function" else "custom_tool_call_output"
    if not result.images or call.kind != "function":
        return {"type": kind, "call_id": call.call_id, "output": result.content}
    items: list[dict[str, Any]] = [{"type": "input_text", "text": result.content}]
    items += [
        {"type": "input_image", "image_url": data_url(image), "detail": "auto"}
        for image in result.images
    ]
    return {"type": kind, "call_id": call.call_id, "output": items}


# -- reading replies -------------------------------------------------------------------------
def _get(obj: Any, key: str) -> Any:
    """A field of an SDK object or of the dict it serialises to."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _calls_of(reply: Any) -> tuple[Api, list[_Call]]:
    """Which API ``reply`` came from, and the tool calls in it (:class:`ModelReplyError` if
    it cannot be read)."""
    try:
        if _get(reply, "object") == "response" or (
            _get(reply, "output") is not None and _get(reply, "choices") is None
        ):
            return "responses", _responses_calls(_get(reply, "output") or [])
        choices = _get(reply, "choices")
        message = _get(choices[0], "message") if choices else reply
        return "chat", _chat_calls(message)
    except (AttributeError, TypeError, IndexError, KeyError, ValueError) as exc:
        raise _unreadable(exc) from None


def _unreadable(exc: Exception) -> ModelReplyError:
    return ModelReplyError(f"the model's reply could not be read ({type(exc).__name__}: {exc})")


def _call_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a tool call has no id")
    return value


def _chat_calls(message: Any) -> list[_Call]:
    calls: list[_Call] = []
    for call in _get(message, "tool_calls") or []:
        kind = _short(str(_get(call, "type") or "function"))
        # Only the two documented bodies are read: the type string comes from the server and
        # must not pick an arbitrary attribute of the SDK object.
        body = (_get(call, kind) if kind in _CHAT_CALL_TYPES else None) or {}
        name = str(_get(body, "name") or "")
        arguments = _get(body, "arguments") if kind == "function" else _get(body, "input")
        calls.append(_Call(_call_id(_get(call, "id")), name, _text(arguments), kind))
    return calls


def _responses_calls(output: Sequence[Any]) -> list[_Call]:
    calls: list[_Call] = []
    for item in output:
        kind = _RESPONSES_CALL_TYPES.get(str(_get(item, "type")))
        if kind is None:
            continue
        arguments = _get(item, "arguments") if kind == "function" else _get(item, "input")
        call_id, name = _call_id(_get(item, "call_id")), _text(_get(item, "name"))
        calls.append(_Call(call_id, name, _text(arguments), kind))
    return calls


def _text(value: Any) -> str:
    return str.__str__(value) if isinstance(value, str) else ""


def _short(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return dict(item)
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, dict):
            return result
    raise ConfigurationError(f"conversation items must be dicts or SDK models, not {type(item)}")


def _check_api(api: str) -> None:
    if api not in ("chat", "responses"):
        raise ConfigurationError(f'api must be "chat" or "responses", not {api!r}')


# -- the loop's state, shared by the sync and async drivers ----------------------------------
class _Loop:
    """The transcript and turns of one run; knows how its API shapes requests and replies."""

    def __init__(self, api: Api, transcript: list[dict[str, Any]], tools: list[dict[str, Any]]):
        self.api = api
        self.transcript = transcript
        self.tools = tools
        self.turns: list[AgentTurn] = []
        self.completed = False

    @classmethod
    def start(
        cls,
        sandbox: Sandbox,
        messages: Sequence[Any] | None,
        input_: str | Sequence[Any] | None,
        max_turns: int,
        strict: bool,
    ) -> _Loop:
        if (messages is None) == (input_ is None):
            raise ConfigurationError(
                "pass exactly one of messages= (Chat Completions) or input= (Responses API)"
            )
        if max_turns < 1:
            raise ConfigurationError(f"max_turns must be at least 1, not {max_turns}")
        api: Api = "chat" if messages is not None else "responses"
        if isinstance(input_, str):
            transcript = [{"role": "user", "content": input_}]
        else:
            items = messages if messages is not None else input_
            transcript = [_as_dict(item) for item in items or ()]
        return cls(api, transcript, openai_tools(sandbox, api=api, strict=strict))

    def create_method(self, client: OpenAI | AsyncOpenAI) -> Callable[..., Any]:
        if self.api == "chat":
            return client.chat.completions.create
        return client.responses.create

    def request(self) -> dict[str, Any]:
        key = "messages" if self.api == "chat" else "input"
        return {key: list(self.transcript)}

    def absorb(self, reply: Any) -> tuple[str, list[_Call]]:
        """Append the model's reply to the transcript; return its text and tool calls.

        A reply that cannot be read (no choices, items that are not objects...) raises
        :class:`ModelReplyError` and leaves the transcript as it was."""
        try:
            if self.api == "chat":
                message = reply.choices[0].message
                content, refusal = _text(message.content), _text(message.refusal)
                entry: dict[str, Any] = {"role": "assistant", "content": content or None}
                if refusal:
                    entry["refusal"] = refusal
                calls = _chat_calls(message)
                if message.tool_calls:
                    entry["tool_calls"] = [call.to_dict() for call in message.tool_calls]
                self.transcript.append(entry)
                return content or refusal, calls
            calls = _responses_calls(reply.output)
            items = [item.to_dict() for item in reply.output]
            text = _text(reply.output_text)
        except (AttributeError, TypeError, IndexError, KeyError, ValueError) as exc:
            raise _unreadable(exc) from None
        self.transcript.extend(items)
        return text, calls

    def finish_turn(
        self, index: int, text: str, calls: list[_Call], results: list[ToolResult]
    ) -> AgentTurn:
        records = tuple(
            ToolCallRecord(call.call_id, call.name, call.arguments, result)
            for call, result in zip(calls, results, strict=True)
        )
        self.transcript.extend(
            _answer(self.api, call, result) for call, result in zip(calls, results, strict=True)
        )
        turn = AgentTurn(index=index, text=text, calls=records)
        self.turns.append(turn)
        self.completed = not calls
        return turn

    def outcome(self) -> AgentRun:
        final = self.turns[-1].text if self.turns else ""
        return AgentRun(final, self.transcript, tuple(self.turns), self.completed)
