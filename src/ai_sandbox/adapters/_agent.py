"""Framework-free pieces of an agent loop: what one tool call, one turn and one run produced.

The records are plain frozen dataclasses so a host can log, print or assert on a run without
knowing which SDK produced it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ai_sandbox.adapters._schema import call_arguments
from ai_sandbox.results import ErrorInfo, ToolResult
from ai_sandbox.sandbox import Sandbox
from ai_sandbox.session import Session

__all__ = [
    "AgentRun",
    "AgentTurn",
    "ToolCallRecord",
    "arun_tool_call",
    "run_tool_call",
    "unsupported_call_result",
]


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call the model made and what the sandbox answered."""

    call_id: str
    name: str
    arguments: str
    """The arguments exactly as the model sent them (usually a JSON string)."""
    result: ToolResult


@dataclass(frozen=True, slots=True)
class AgentTurn:
    """One model reply: its text (may be empty) and the tool calls it asked for."""

    index: int
    text: str
    calls: tuple[ToolCallRecord, ...]


@dataclass(frozen=True, slots=True)
class AgentRun:
    """The outcome of an agent loop.

    ``completed`` is False when ``max_turns`` ran out while the model still wanted tools; then
    ``final_output`` is the text of the last reply (often empty). ``transcript`` is the message
    (Chat) or input-item (Responses) list, ready to continue the conversation with.
    """

    final_output: str
    transcript: list[dict[str, Any]]
    turns: tuple[AgentTurn, ...]
    completed: bool

    @property
    def tool_calls(self) -> tuple[ToolCallRecord, ...]:
        """Every tool call of the run, in order."""
        return tuple(call for turn in self.turns for call in turn.calls)


def run_tool_call(
    sandbox: Sandbox,
    name: str,
    arguments: Any,
    session: Session | None = None,
    *,
    on_output: Callable[[str], None] | None = None,
) -> ToolResult:
    """Run one function call from a model (``run_python`` in ``session`` if given, its output
    to ``on_output`` as it happens): never raises for the model's mistakes."""
    spec = next((s for s in sandbox.tool_specs() if s.name == name), None)
    return sandbox.call(name, call_arguments(spec, arguments), session=session, on_output=on_output)


async def arun_tool_call(
    sandbox: Sandbox, name: str, arguments: Any, session: Session | None = None
) -> ToolResult:
    """:func:`run_tool_call` for asyncio (``Sandbox.acall``: no thread waits on the worker)."""
    spec = next((s for s in sandbox.tool_specs() if s.name == name), None)
    return await sandbox.acall(name, call_arguments(spec, arguments), session=session)


def unsupported_call_result(name: str, kind: str, sandbox: Sandbox) -> ToolResult:
    """The refusal sent back for a tool call that is not a function call (e.g. ``custom``)."""
    known = ", ".join(spec.name for spec in sandbox.tool_specs())
    message = (
        f"{kind} tool calls are not supported here; call one of the functions "
        f"({known}) with JSON arguments instead"
    )
    return ToolResult(
        tool=name,
        ok=False,
        content=f"Error: ToolInputError: {message}",
        error=ErrorInfo(type="ToolInputError", message=message),
    )
