"""``ai-sandbox batch INPUT.jsonl -o OUTPUT.jsonl``: the command line of :func:`run_batch`.

Exit status: 0 when every line was handled (whatever the programs did: their statuses are in
the output), 2 for the tool's own failures (unreadable input, unwritable output, a policy that
cannot run here, an unreachable Ray cluster), 130 when interrupted (rerun to resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _cmd_batch(args: argparse.Namespace) -> int:
    from ai_sandbox.batch.runner import run_batch
    from ai_sandbox.exceptions import SandboxError
    from ai_sandbox.policy import SandboxPolicy

    try:
        if args.policy:
            from ai_sandbox.adapters.mcp import load_policy_file

            policy = load_policy_file(Path(args.policy))
        else:
            policy = SandboxPolicy()
        if args.timeout is not None:
            policy = SandboxPolicy.model_validate(
                {**policy.model_dump(), "timeout_s": args.timeout}
            )
        summary = run_batch(
            Path(args.input),
            Path(args.output),
            root=Path(args.root),
            policy=policy,
            jobs=args.jobs,
            ray_address=args.ray,
            audit_path=Path(args.audit) if args.audit else None,
            progress_stream=sys.stderr,
        )
    except KeyboardInterrupt:
        print(
            "\nai-sandbox batch: interrupted; run the same command again to resume", file=sys.stderr
        )
        return 130
    except (SandboxError, ValueError, OSError) as exc:
        print(f"ai-sandbox batch: {exc}", file=sys.stderr)
        return 2
    print(summary.text)
    return 0


def register(sub: Any) -> None:
    """Add ``batch`` to the ``ai-sandbox`` command's subparsers."""
    batch = sub.add_parser(
        "batch",
        help="run a JSONL file of programs, each in a fresh sandboxed worker (resumable)",
        description=(
            'Each input line is {"id": ..., "code": "...", "inputs": {...}}; each output line is '
            "the id and the result (status, result, stdout, error, duration_ms, layers). "
            "Rerunning skips ids already in OUTPUT."
        ),
    )
    batch.add_argument("input", help="programs, one JSON object a line")
    batch.add_argument("-o", "--output", required=True, help="results, appended (JSONL)")
    batch.add_argument("--jobs", type=int, default=None, help="parallel workers (default: CPUs)")
    batch.add_argument("--policy", default=None, help="SandboxPolicy as a JSON or TOML file")
    batch.add_argument("--timeout", type=float, default=None, help="seconds per program")
    batch.add_argument("--root", default=".", help="the folder programs' files are confined to")
    batch.add_argument("--audit", default=None, help="write an audit log of every program here")
    batch.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help='run on a Ray cluster: "auto", "ray://host:10001", or "local" for a local one',
    )
    batch.set_defaults(func=_cmd_batch)
