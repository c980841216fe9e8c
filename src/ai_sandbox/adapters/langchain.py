"""LangChain tools: the sandbox's tools as ``StructuredTool``s and a ``BaseToolkit``.

::

    from ai_sandbox import Sandbox
    from ai_sandbox.adapters.langchain import langchain_tools

    tools = langchain_tools(Sandbox("project"))
    model = ChatOpenAI(model="gpt-5-mini").bind_tools(tools)
    ...
    message = tools_by_name[call["name"]].invoke(call)   # a ToolMessage

Each tool's ``args_schema`` is our pydantic input model. Invoked with a ``ToolCall`` it returns a
``ToolMessage`` whose ``status`` is ``"error"`` when the sandbox refused or the code failed (the
error is the content, never an exception) and whose ``artifact`` is the full
:class:`~ai_sandbox.ToolResult` (for ``run_python`` its ``data`` is the ``ExecutionResult``).
``ainvoke`` runs through ``Sandbox.acall``: the event loop waits on the worker, no thread.

State: the tools of one :func:`langchain_tools` call (one :class:`SandboxToolkit`) share one
:class:`~ai_sandbox.Session`, so ``run_python`` keeps variables, imports and functions from
call to call, like a notebook. Give each conversation its own toolkit (two toolkits never see
each other's variables), or pass ``session=`` to choose. The session's worker stops when the
tools are garbage-collected or the sandbox closes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    from langchain_core.messages import ToolMessage
    from langchain_core.tools import BaseTool, BaseToolkit, StructuredTool
except ImportError as _exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        "ai_sandbox.adapters.langchain needs langchain-core: pip install 'ai-sandbox[langchain]'"
    ) from _exc

from pydantic import ConfigDict, PrivateAttr

from ai_sandbox.adapters._agent import arun_tool_call, run_tool_call
from ai_sandbox.results import ToolResult
from ai_sandbox.sandbox import Sandbox
from ai_sandbox.session import Session
from ai_sandbox.tools import ToolSpec

__all__ = ["SandboxTool", "SandboxToolkit", "langchain_tools"]

_Output = tuple[Any, ToolResult]


class SandboxTool(StructuredTool):
    """A ``StructuredTool`` whose arguments are validated by ``Sandbox.call`` itself.

    ``args_schema`` (our pydantic model) is what models see; validation happens once, in the
    sandbox, so a bad argument gets the same words on every surface and comes back as an error
    ``ToolMessage`` instead of a raised ``ValidationError``.
    """

    def _parse_input(
        self, tool_input: str | dict[str, Any], tool_call_id: str | None
    ) -> str | dict[str, Any]:
        arguments: Any
        if isinstance(tool_input, str):
            # A bare string is LangChain's shorthand for the first argument; a tool that needs
            # more then hears which are missing from Sandbox.call, as for any other call.
            fields = list(getattr(self.args_schema, "model_fields", {}))
            arguments = {fields[0]: tool_input} if fields else tool_input
        else:
            # A dict, or anything else (a list...), goes to Sandbox.call, which refuses what
            # is not a JSON object in words the model can act on, instead of raising here.
            arguments = dict(tool_input) if isinstance(tool_input, dict) else tool_input
        return {"arguments": arguments, "tool_call_id": tool_call_id}


def langchain_tools(sandbox: Sandbox, *, session: Session | None = None) -> list[BaseTool]:
    """The sandbox's tools as LangChain ``StructuredTool``s (sync and async), sharing one
    session (``session``, or a new one): ``run_python`` keeps its state between calls."""
    live = session if session is not None else sandbox.session()
    return [_make_tool(sandbox, spec, live) for spec in sandbox.tool_specs()]


class SandboxToolkit(BaseToolkit):
    """A LangChain toolkit over one :class:`~ai_sandbox.Sandbox`, holding one session: every
    ``get_tools()`` list of this toolkit runs Python in the same state (one toolkit per
    conversation)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    sandbox: Sandbox
    _session: Session | None = PrivateAttr(default=None)

    @property
    def session(self) -> Session:
        """The toolkit's session (started on first use)."""
        if self._session is None:
            self._session = self.sandbox.session()
        return self._session

    def get_tools(self) -> list[BaseTool]:
        """The sandbox's tools, as :func:`langchain_tools` builds them, in this toolkit's
        session."""
        return langchain_tools(self.sandbox, session=self.session)


def _make_tool(sandbox: Sandbox, spec: ToolSpec, session: Session) -> BaseTool:
    first_field = next(iter(spec.input_model.model_fields), None)

    def call(
        text: str | None = None,
        *,
        arguments: Any = None,
        tool_call_id: str | None = None,
    ) -> _Output:
        if arguments is None:
            arguments = {first_field: text} if first_field is not None else {}
        result = run_tool_call(sandbox, spec.name, arguments, session)
        return _output(spec.name, result, tool_call_id)

    async def acall(
        text: str | None = None,
        *,
        arguments: Any = None,
        tool_call_id: str | None = None,
    ) -> _Output:
        if arguments is None:
            arguments = {first_field: text} if first_field is not None else {}
        result = await arun_tool_call(sandbox, spec.name, arguments, session)
        return _output(spec.name, result, tool_call_id)

    func: Callable[..., _Output] = call
    return SandboxTool.from_function(
        func=func,
        coroutine=acall,
        name=spec.name,
        description=spec.description,
        args_schema=spec.input_model,
        infer_schema=False,
        response_format="content_and_artifact",
    )


def _output(name: str, result: ToolResult, tool_call_id: str | None) -> _Output:
    """``(content, artifact)``; with a call id, the content is the finished ``ToolMessage``.

    LangChain only sets ``status="error"`` for exceptions, which would drop the artifact; a
    ``ToolMessage`` returned as content is passed through as is, status and artifact included.
    """
    content = _content(result)
    if tool_call_id is None:
        return content, result
    message = ToolMessage(
        content=content,
        artifact=result,
        tool_call_id=tool_call_id,
        name=name,
        status="success" if result.ok else "error",
    )
    return message, result


def _content(result: ToolResult) -> str | list[str | dict[str, Any]]:
    """The text, or with images, standard content blocks: the text, then one ``image`` block
    (base64 and media type) per image, which chat models that take images read as images."""
    if not result.images:
        return result.content
    blocks: list[str | dict[str, Any]] = [{"type": "text", "text": result.content}]
    blocks += [
        {"type": "image", "base64": image.data_base64, "mime_type": image.media_type}
        for image in result.images
    ]
    return blocks
