"""``ai-sandbox demo``: realistic AI-generated snippets against a throw-away project folder.

No network and no API key: everything runs locally. Each snippet prints its first line and the
outcome in one readable line, so a newcomer sees in a few seconds what is allowed and what is
refused, and by which layer.
"""

from __future__ import annotations

import contextlib
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ai_sandbox.audit import AuditLog
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import ExecutionResult
from ai_sandbox.sandbox import Sandbox

__all__ = ["DEMO_SNIPPETS", "DemoSnippet", "make_demo_project", "run_demo"]


@dataclass(frozen=True, slots=True)
class DemoSnippet:
    title: str
    code: str
    expect: str  # the status a safe sandbox must report


DEMO_SNIPPETS: tuple[DemoSnippet, ...] = (
    DemoSnippet(
        "analyse a CSV inside the project",
        textwrap.dedent("""\
            import statistics
            with open("data/sales.csv") as f:
                rows = [line.split(",") for line in f.read().splitlines()[1:]]
            totals = {}
            for region, amount in rows:
                totals[region] = totals.get(region, 0) + float(amount)
            result = {"regions": len(totals), "best": max(totals, key=totals.get),
                      "mean_sale": round(statistics.mean(float(a) for region, a in rows), 2)}
            """),
        "ok",
    ),
    DemoSnippet(
        "write a report file",
        textwrap.dedent("""\
            lines = ["# Sales report", "", "Regions: 3", "Status: reviewed"]
            with open("reports/summary.md", "w") as f:
                f.write("\\n".join(lines) + "\\n")
            result = "reports/summary.md"
            """),
        "ok",
    ),
    DemoSnippet(
        "read /etc/passwd",
        'result = open("/etc/passwd").read()\n',
        "rejected",
    ),
    DemoSnippet("import os", "import os\nresult = os.listdir('/')\n", "rejected"),
    DemoSnippet(
        "walk the class hierarchy",
        "result = ().__class__.__bases__[0].__subclasses__()\n",
        "rejected",
    ),
)


def make_demo_project(root: Path) -> None:
    """Lay out the small project the demo works in."""
    (root / "data").mkdir()
    (root / "reports").mkdir()
    (root / "data" / "sales.csv").write_text(
        "region,amount\nnorth,120.5\nsouth,98.0\nnorth,75.25\neast,210.0\nsouth,42.0\n",
        encoding="utf-8",
    )


def _outcome(res: ExecutionResult) -> str:
    """The outcome on the snippet's line; for a refusal or error, its full message follows on
    indented lines (the hint the model gets is the point of the refusal)."""
    if res.status == "ok":
        shown = repr(res.result)
        return f"ok       result={shown if len(shown) <= 80 else shown[:77] + '...'}"
    err = res.error
    if err is None:
        return res.status.upper()
    lines = [line.strip() for line in err.message.splitlines() if line.strip()] or [""]
    message = lines[0]
    if len(lines) > 1 and lines[0].endswith(":"):  # a list of findings: the first one
        message = f"{lines[0]} {lines[1]}"
        if len(lines) > 2:
            message += f" (and {len(lines) - 2} more)"
    hint = textwrap.fill(
        f"{err.type}: {message}",
        width=_HINT_WIDTH,
        initial_indent=_HINT_INDENT,
        subsequent_indent=_HINT_INDENT,
        break_on_hyphens=False,
    )
    return f"{res.status.upper()}\n{hint}"


def _first_line(code: str) -> str:
    line = code.strip().splitlines()[0]
    return line if len(line) <= 50 else line[:47] + "..."


_HINT_INDENT = " " * 6
_HINT_WIDTH = 100


def run_demo(
    out: TextIO,
    *,
    policy: SandboxPolicy | None = None,
    live: bool = False,
    model: str | None = None,
) -> int:
    """Run every demo snippet; returns 0 when each one ended as a safe sandbox must."""
    policy = policy or SandboxPolicy(allow_writes=True)
    failures = 0
    # The audit log outlives the throw-away project folders, so it can be reviewed afterwards.
    audit_path = Path(tempfile.mkdtemp(prefix="ai-sandbox-audit-")) / "audit.jsonl"
    audit = AuditLog(audit_path, session_id="demo")
    with tempfile.TemporaryDirectory(prefix="ai-sandbox-demo-") as tmp:
        root = Path(tmp)
        make_demo_project(root)
        with Sandbox(root=root, policy=policy, audit=audit) as sandbox:
            out.write(f"ai-sandbox demo: project folder {root}\n")
            out.write(
                f"isolation={policy.isolation}; active layers: {', '.join(sandbox.layers)}\n\n"
            )
            for snippet in DEMO_SNIPPETS:
                res = sandbox.run(snippet.code)
                mark = "  " if res.status == snippet.expect else "!!"
                failures += res.status != snippet.expect
                first, _, hint = _outcome(res).partition("\n")
                out.write(
                    f"{mark}{snippet.title:<34} {_first_line(snippet.code):<50} -> "
                    f"{first} ({res.duration_ms:.1f} ms)\n"
                )
                if hint:
                    out.write(hint + "\n")
            report = root / "reports" / "summary.md"
            if report.exists():
                out.write(
                    f"\nreports/summary.md now reads: {report.read_text().splitlines()[0]!r}\n"
                )
    out.write(
        "\nall snippets behaved as expected\n"
        if not failures
        else f"\n{failures} snippet(s) did not behave as expected\n"
    )
    if policy.isolation == "strict":
        from ai_sandbox.demo_python import run_python_demo

        failures += run_python_demo(out)
    agent_status = _run_agent_part(out, policy, audit, live=live, model=model)
    audit.close()
    audit_status = _review_audit_log(out, audit_path)
    out.write(_NEXT_STEPS)
    return 1 if failures or audit_status else agent_status


_NEXT_STEPS = """
------------------------------------------------------------------------
Next steps (in a checkout of ai-sandbox):
  examples/safe_execution.py    the seed API: safe_path_access and execute_ai_code
  examples/openai_agent.py      a real OpenAI agent loop (any OpenAI-compatible server)
  examples/langchain_agent.py   the same tools as LangChain tools
  docs/agents.md                OpenAI, LangChain and MCP: set-up, paged files, images
  ai-sandbox doctor             prove the isolation layers on this machine
  ai-sandbox demo --live        this agent with a real model (needs OPENAI_API_KEY)
"""


def _review_audit_log(out: TextIO, path: Path) -> int:
    """Show what a reviewer sees: the chain verified, then the statistics."""
    from ai_sandbox.audit.cli import main as audit_main

    out.write("\n" + "-" * 72 + f"\nEvery action above is in the audit log {path}\n")
    status = 0
    for argv in (["verify", str(path)], ["stats", str(path)]):
        out.write(f"\n$ ai-sandbox audit {' '.join(argv)}\n")
        out.flush()
        with contextlib.redirect_stdout(out):
            status |= audit_main(argv)
    return status


def _run_agent_part(
    out: TextIO, policy: SandboxPolicy, audit: AuditLog, *, live: bool, model: str | None
) -> int:
    """The agent part: a scripted (or, with ``live``, a real) model drives the OpenAI adapter."""
    out.write("\n" + "-" * 72 + "\n")
    try:
        from ai_sandbox.adapters._scripted import run_demo_agent
    except ImportError as exc:
        out.write(f"(agent demo skipped: {exc})\n")
        return 2 if live else 0
    with (
        tempfile.TemporaryDirectory(prefix="ai-sandbox-agent-") as tmp,
        Sandbox(root=tmp, policy=policy, audit=audit) as sandbox,
    ):
        return run_demo_agent(sandbox, out, live=live, model=model)
