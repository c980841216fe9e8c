"""A LangChain tool-calling loop over the sandbox, with any OpenAI-compatible chat model.

    pip install 'ai-sandbox[langchain]' langchain-openai
    export OPENAI_API_KEY=...            # OPENAI_BASE_URL=... for any OpenAI-compatible server
    python examples/langchain_agent.py --model gpt-5-mini --root my_project "Summarise the data"

The tools are plain LangChain ``StructuredTool``s: ``tool.invoke(tool_call)`` returns a
``ToolMessage`` whose ``status`` is ``"error"`` when the sandbox refused, and whose ``artifact``
is the full ``ToolResult``. The same tools work in LangGraph's ``ToolNode`` or
``create_agent``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ai_sandbox import Sandbox, SandboxError, SandboxPolicy

DEFAULT_TASK = "List the project, read its data files and summarise what they contain."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", nargs="?", default=DEFAULT_TASK, help="what the agent should do")
    parser.add_argument("--model", default=os.environ.get("OPENAI_MODEL", "gpt-5-mini"))
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="folder the agent works in")
    parser.add_argument("--allow-writes", action="store_true", help="let the agent write files")
    parser.add_argument("--isolation", choices=("strict", "process", "none"), default="strict")
    parser.add_argument("--max-turns", type=int, default=12)
    args = parser.parse_args(argv)

    if not os.environ.get("OPENAI_API_KEY"):
        print(
            "OPENAI_API_KEY is not set. Export it (and OPENAI_BASE_URL for another "
            "OpenAI-compatible server) and run again.",
            file=sys.stderr,
        )
        return 2
    try:
        from langchain_core.messages import (
            AIMessage,
            BaseMessage,
            HumanMessage,
            SystemMessage,
            ToolMessage,
        )
        from langchain_openai import ChatOpenAI  # type: ignore[import-not-found, unused-ignore]

        from ai_sandbox.adapters.langchain import langchain_tools
    except ImportError as exc:
        print(f"{exc}\nThis example needs: pip install 'ai-sandbox[langchain]' langchain-openai")
        return 2

    policy = SandboxPolicy(isolation=args.isolation, allow_writes=args.allow_writes)
    try:
        with Sandbox(args.root, policy) as sandbox:
            tools = {tool.name: tool for tool in langchain_tools(sandbox)}
            model = ChatOpenAI(
                model=args.model, base_url=os.environ.get("OPENAI_BASE_URL")
            ).bind_tools(list(tools.values()))
            messages: list[BaseMessage] = [
                SystemMessage("You work on a project folder through sandboxed tools."),
                HumanMessage(args.task),
            ]
            for _ in range(args.max_turns):
                reply = model.invoke(messages)
                messages.append(reply)
                if not isinstance(reply, AIMessage) or not reply.tool_calls:
                    print(f"[final answer] {reply.text}")
                    return 0
                for call in reply.tool_calls:
                    if call["name"] in tools:
                        result = tools[call["name"]].invoke(call)
                    else:
                        known = ", ".join(tools)
                        result = ToolMessage(
                            f"Error: unknown tool {call['name']!r}; available tools: {known}",
                            tool_call_id=call["id"] or "",
                            status="error",
                        )
                    print(f"  -> {call['name']} {call['args']} [{result.status}]")
                    messages.append(result)
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"[stopped after {args.max_turns} turns]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
