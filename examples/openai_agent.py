"""A real agent loop: an OpenAI(-compatible) model works on a folder through the sandbox.

    export OPENAI_API_KEY=...            # OPENAI_BASE_URL=... for any OpenAI-compatible server
    uv run --extra openai python examples/openai_agent.py --model gpt-5-mini --root my_project \\
        "Summarise data/sales.csv by region and write reports/summary.md"

Every tool call the model makes runs through ai-sandbox: refused paths and failing code come
back to the model as tool results. Pass ``--api responses`` to use the Responses API.
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
    parser.add_argument("--api", choices=("chat", "responses"), default="chat")
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
        from openai import OpenAI, OpenAIError

        from ai_sandbox.adapters.openai import AgentTurn, run_agent_loop
    except ImportError as exc:
        print(exc, file=sys.stderr)
        return 2

    def show(turn: AgentTurn) -> None:
        if turn.text:
            print(f"[model] {turn.text}")
        for call in turn.calls:
            status = "ok" if call.result.ok else "refused/failed"
            print(f"  -> {call.name} {call.arguments[:120]}")
            print(f"     {status}: {call.result.content[:300]}")

    policy = SandboxPolicy(isolation=args.isolation, allow_writes=args.allow_writes)
    system = (
        "You work on a project folder through sandboxed tools. Paths are relative to the "
        "project root. Use run_python for calculations; assign the answer to `result`."
    )
    try:
        with Sandbox(args.root, policy) as sandbox, OpenAI() as client:
            if args.api == "chat":
                run = run_agent_loop(
                    client,
                    sandbox,
                    model=args.model,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": args.task},
                    ],
                    max_turns=args.max_turns,
                    on_turn=show,
                )
            else:
                run = run_agent_loop(
                    client,
                    sandbox,
                    model=args.model,
                    input=args.task,
                    instructions=system,
                    max_turns=args.max_turns,
                    on_turn=show,
                )
    except (SandboxError, OpenAIError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not run.completed:
        print(f"[stopped after {args.max_turns} turns]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
