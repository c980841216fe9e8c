"""MCP server: the sandbox's tools for Claude Desktop, Cursor, the Agents SDK and any MCP client.

``ai-sandbox mcp --root DIR [--policy FILE]`` (or ``python -m ai_sandbox.adapters.mcp``) serves
them over stdio. In code::

    from ai_sandbox import Sandbox
    from ai_sandbox.adapters.mcp import create_server

    server = create_server(Sandbox("project"))   # an mcp MCPServer: add your own tools to it
    server.run("stdio")

Each tool publishes the input schema derived from our pydantic model and the
:class:`~ai_sandbox.ToolResult` schema as its output schema. A call returns the result text
as content plus the ``ToolResult`` as structured content; refusals and failures are results with
``is_error=True``. Arguments are validated once, by ``Sandbox.call``.

Each client gets its own :class:`~ai_sandbox.Session`: ``run_python`` keeps its variables
between that client's calls and two clients never see each other's. On a connection that
began with the ``initialize`` handshake (stdio, stateful HTTP) the session lives in MCP's
per-connection state and ends when the connection closes. The 2026-07-28 protocol has no
connections (every request stands alone): there ``create_server(sandbox, session=...)`` names
the session such requests use. ``ai-sandbox mcp`` passes one, because a stdio server process
serves exactly one client; without it, every such call starts fresh (never shared).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

try:
    import anyio.from_thread
    import anyio.to_thread
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.tools import Tool
    from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
    from mcp_types import (
        CallToolResult,
        ImageContent,
        InputRequiredResult,
        TextContent,
        ToolAnnotations,
    )
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS
except ImportError as _exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        "ai_sandbox.adapters.mcp needs the MCP SDK: pip install 'ai-sandbox[mcp]'"
    ) from _exc

from pydantic import ConfigDict, ValidationError

from ai_sandbox.adapters._agent import run_tool_call
from ai_sandbox.adapters._schema import parameters_schema
from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import ToolResult
from ai_sandbox.sandbox import Sandbox
from ai_sandbox.session import Session
from ai_sandbox.tools import ToolSpec

__all__ = ["create_server", "load_policy_file", "main", "serve_stdio"]

#: The SDK's own log lines (request traces, tool failures) go to stderr at INFO; a stdio client
#: shows stderr to its user, and a model's mistakes are already in the result.
_LOG_LEVEL = "WARNING"

_INSTRUCTIONS = (
    "These tools run Python and touch files inside a sandbox confined to one project "
    "directory. Paths are relative to that directory. A refused operation comes back as an "
    "error result that says why; adjust the call rather than retrying it unchanged."
)

#: Hints for clients (e.g. whether to ask the user before a call). Hints only: the policy rules.
_ANNOTATIONS = {
    "run_python": ToolAnnotations(
        title="Run Python in the sandbox", read_only_hint=False, destructive_hint=False
    ),
    "read_file": ToolAnnotations(title="Read a file", read_only_hint=True),
    "write_file": ToolAnnotations(
        title="Write a file", read_only_hint=False, destructive_hint=True, idempotent_hint=True
    ),
    "list_directory": ToolAnnotations(title="List a directory", read_only_hint=True),
}


def create_server(
    sandbox: Sandbox, *, name: str = "ai-sandbox", session: Session | None = None
) -> MCPServer[Any]:
    """An ``MCPServer`` exposing the sandbox's tools (add your own tools to it if you like).

    A call to a tool it does not have gets the answer ``Sandbox.call`` gives (an error result
    listing the tools), and ordinary tool errors are results, never log lines: the server logs
    at ``WARNING`` and above only, so stderr stays quiet for a client's mistakes.

    ``session``: where ``run_python`` keeps state for requests that come without a connection
    of their own (the 2026-07-28 protocol); pass one only when the server has one client."""
    tools = [_make_tool(sandbox, spec, session) for spec in sandbox.tool_specs()]
    return _SandboxServer(
        sandbox, name, instructions=_INSTRUCTIONS, tools=tools, log_level=_LOG_LEVEL
    )


class _SandboxServer(MCPServer[Any]):
    """``MCPServer`` whose unknown tools are answered by ``Sandbox.call`` (same words on every
    surface) instead of raising ``ToolError``, which the SDK would also log to stderr."""

    def __init__(self, sandbox: Sandbox, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sandbox = sandbox

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> CallToolResult | InputRequiredResult:
        if self._tool_manager.get_tool(name) is not None:
            return await super().call_tool(name, arguments, context)
        result = await anyio.to_thread.run_sync(run_tool_call, self._sandbox, name, arguments)
        return _to_mcp(result)


def serve_stdio(root: Path, policy: SandboxPolicy) -> None:
    """Serve a sandbox on ``root`` over stdio until the client closes stdin (one client: one
    session for the process)."""
    with Sandbox(root, policy) as sandbox, sandbox.session() as session:
        create_server(sandbox, session=session).run("stdio")


def load_policy_file(path: Path) -> SandboxPolicy:
    """Read a :class:`~ai_sandbox.SandboxPolicy` from a ``.json`` or ``.toml`` file.

    The file holds the policy's fields at its top level, e.g. ``allow_writes = true``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read policy file {str(path)!r}: {exc.strerror}") from None
    try:
        data: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"policy file {str(path)!r} is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"policy file {str(path)!r} must hold a table of settings")
    try:
        return SandboxPolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'policy'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ConfigurationError(f"policy file {str(path)!r}: {problems}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ai_sandbox.adapters.mcp --root DIR [--policy FILE]``."""
    parser = argparse.ArgumentParser(
        prog="ai-sandbox mcp", description="Serve the sandbox's tools over MCP (stdio)."
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="project directory")
    parser.add_argument("--policy", type=Path, help="SandboxPolicy as a .json or .toml file")
    args = parser.parse_args(argv)
    try:
        policy = load_policy_file(args.policy) if args.policy else SandboxPolicy()
        serve_stdio(args.root, policy)
    except ConfigurationError as exc:
        print(f"ai-sandbox mcp: {exc}", file=sys.stderr)
        return 2
    return 0


class _RawArguments(ArgModelBase):
    """Passes the client's arguments through untouched: ``Sandbox.call`` validates them."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.__pydantic_extra__ or {})}


def _make_tool(sandbox: Sandbox, spec: ToolSpec, fallback: Session | None) -> Tool:
    async def call(arguments: dict[str, Any], ctx: Context) -> CallToolResult:
        session = _client_session(sandbox, ctx, fallback)
        on_output = _progress_reporter(ctx) if spec.name == "run_python" else None
        result = await anyio.to_thread.run_sync(
            functools.partial(
                run_tool_call, sandbox, spec.name, arguments, session, on_output=on_output
            )
        )
        return _to_mcp(result)

    return Tool(
        fn=call,
        name=spec.name,
        title=None,
        description=spec.description,
        parameters=parameters_schema(spec),
        fn_metadata=FuncMetadata(arg_model=_RawArguments, output_model=ToolResult),
        is_async=True,
        context_kwarg="ctx",
        annotations=_ANNOTATIONS.get(spec.name),
    )


#: Where a connection's session is kept in its per-connection ``state``.
_SESSION_KEY = "ai_sandbox.session"


def _client_session(sandbox: Sandbox, ctx: Context, fallback: Session | None) -> Session | None:
    """The session of the client ``ctx``'s request comes from: its connection's (made on its
    first call and closed with the connection), or ``fallback`` for a request of the
    2026-07-28 protocol, whose per-request connection ends with the request.

    The connection is MCP's ``Connection`` ("per-client connection state", with a ``state``
    dict that persists across requests and an ``exit_stack`` unwound when it closes); mcp 2.x
    exposes it to tools only through the request's ``ServerSession``.
    """
    try:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return fallback
        connection = getattr(ctx.request_context.session, "_connection", None)
    except ValueError:  # no request (a direct call of the function)
        return fallback
    state = getattr(connection, "state", None)
    exit_stack = getattr(connection, "exit_stack", None)
    if not isinstance(state, dict) or exit_stack is None:
        return None
    live = state.get(_SESSION_KEY)
    if not isinstance(live, Session):
        live = sandbox.session()
        state[_SESSION_KEY] = live
        exit_stack.callback(live.close)
    return live


def _progress_reporter(ctx: Context) -> Callable[[str], None]:
    """Printed output as MCP progress notifications (``message`` is the text; ``progress``
    counts the characters so far), sent from the run's thread. A no-op for a client that did
    not ask for progress (no progress token)."""
    sent = 0

    def report(text: str) -> None:
        nonlocal sent
        sent += len(text)
        anyio.from_thread.run(ctx.report_progress, float(sent), None, text)

    return report


def _to_mcp(result: ToolResult) -> CallToolResult:
    """The text, then each image as ``ImageContent``; the ``ToolResult`` as structured content."""
    images = [
        ImageContent(type="image", data=image.data_base64, mime_type=image.media_type)
        for image in result.images
    ]
    return CallToolResult(
        content=[TextContent(type="text", text=result.content), *images],
        structured_content=result.model_dump(mode="json"),
        is_error=not result.ok,
    )


if __name__ == "__main__":
    sys.exit(main())
