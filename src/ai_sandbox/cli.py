"""The ``ai-sandbox`` command: ``demo``, ``doctor``, ``audit ...``, ``mcp`` and ``batch``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _cmd_demo(args: argparse.Namespace) -> int:
    import os

    from ai_sandbox.demo import run_demo

    if args.live and not os.environ.get("OPENAI_API_KEY"):
        print(
            "ai-sandbox demo: --live needs OPENAI_API_KEY in the environment (and "
            "OPENAI_BASE_URL for a server other than OpenAI's); without --live the demo "
            "needs no key",
            file=sys.stderr,
        )
        return 2
    return run_demo(sys.stdout, live=args.live, model=args.model)


def _version() -> str:
    """The installed distribution's version (the package's own if it is not installed)."""
    from importlib import metadata

    try:
        return metadata.version("ai-sandbox")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        from ai_sandbox import __version__

        return __version__


def _cmd_doctor(args: argparse.Namespace) -> int:
    from ai_sandbox.isolation.doctor import doctor_main

    return doctor_main(Path(args.root) if args.root else None, sys.stdout)


def _cmd_mcp(args: argparse.Namespace) -> int:
    try:
        from ai_sandbox.adapters.mcp import load_policy_file, serve_stdio
    except ImportError as exc:
        print(f"ai-sandbox mcp: {exc}", file=sys.stderr)
        return 2
    from ai_sandbox.exceptions import SandboxError
    from ai_sandbox.policy import SandboxPolicy

    try:
        policy = load_policy_file(Path(args.policy)) if args.policy else SandboxPolicy()
        serve_stdio(Path(args.root), policy)
    except SandboxError as exc:
        print(f"ai-sandbox mcp: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ai-sandbox", description="Run AI-generated code and file tools in a sandbox."
    )
    parser.add_argument("--version", action="version", version=f"ai-sandbox {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run realistic AI snippets (and a scripted agent) locally")
    demo.add_argument("--live", action="store_true", help="drive the agent with a real model")
    demo.add_argument(
        "--model", default=None, help="model name for --live (default: gpt-5-mini); needs --live"
    )
    demo.set_defaults(func=_cmd_demo)

    doctor = sub.add_parser("doctor", help="report isolation layers and prove containment live")
    doctor.add_argument(
        "--root", default=None, help="sandbox root to check (default: the current directory)"
    )
    doctor.set_defaults(func=_cmd_doctor)

    mcp = sub.add_parser("mcp", help="serve the sandbox tools over MCP (stdio)")
    mcp.add_argument("--root", required=True, help="the folder the tools are confined to")
    mcp.add_argument("--policy", default=None, help="SandboxPolicy as a JSON or TOML file")
    mcp.set_defaults(func=_cmd_mcp)

    try:
        from ai_sandbox.audit.cli import register
    except ImportError:  # pragma: no cover - the audit package ships with the library
        pass
    else:
        register(sub)
    from ai_sandbox.batch.cli import register as register_batch

    register_batch(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ai-sandbox`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo" and args.model is not None and not args.live:
        parser.error("demo: --model chooses the model of --live; add --live (needs a key)")
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
