"""The rough edges a new user hits on the command line: --version, doctor's help, audit verify on
the wrong file, readable audit tables, the demo's hints and flags, and a quiet MCP server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from image_support import png
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult, ImageContent, TextContent

from ai_sandbox import AuditLog, Sandbox, SandboxPolicy, __version__
from ai_sandbox.audit.cli import main as audit_main
from ai_sandbox.audit.review import format_row, shown
from ai_sandbox.cli import main as cli_main

SCRIPT = str(Path(sys.executable).with_name("ai-sandbox"))


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_version() -> None:
    """It prints its version with --version and exits 0."""
    out = _run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"ai-sandbox {__version__}"


def test_doctor_help_names_the_real_default_root() -> None:
    """It says doctor checks the current directory by default (what it really does)."""
    out = _run("doctor", "--help")
    assert out.returncode == 0
    assert "default: the current directory" in " ".join(out.stdout.split())
    assert "temporary" not in out.stdout


# -- audit verify on the wrong file --------------------------------------------------------------
@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    (tmp_path / "p").mkdir()
    with (
        AuditLog(path, session_id="s") as audit,
        Sandbox(tmp_path / "p", SandboxPolicy(isolation="none"), audit=audit) as box,
        box.audit_caller("analyst-agent"),
    ):
        box.call("read_file", {"path": "missing.csv"})
        box.call("read_file", {"path": "../../etc/passwd"})
    return path


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        pytest.param(None, 3, "no such file", id="missing-file"),
        pytest.param("hello world\nnot json\n", 4, "not an audit log", id="text-file"),
        pytest.param('{"a": 1}\n[1, 2]\n', 4, "not an audit log", id="json-not-records"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", 4, "not an audit log", id="binary-file"),
    ],
)
@pytest.mark.parametrize("command", ["verify", "show", "stats", "head", "tail"])
def test_audit_commands_say_what_is_wrong_with_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    content: str | bytes | None,
    status: int,
    message: str,
) -> None:
    """It answers a missing file or one that is not an audit log with exactly that and its own
    exit status (3, 4), never DELETED or EDITED."""
    path = tmp_path / "thing.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    assert audit_main([command, str(path)]) == status
    out, err = capsys.readouterr()
    assert err == f"ai-sandbox audit: {path}: {message}" + (
        " (no line is an ai-sandbox audit record)\n" if status == 4 else "\n"
    )
    assert out == ""


def test_verify_still_reports_tampering(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It keeps exit 1 and EDITED for a real log whose record was changed."""
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace("missing.csv", "innocent.csv")
    log.write_text("".join(lines), encoding="utf-8")
    assert audit_main(["verify", str(log)]) == 1
    assert "EDITED" in capsys.readouterr().out


def test_exit_statuses_are_documented() -> None:
    """It lists the exit statuses in `audit verify --help`."""
    out = _run("audit", "verify", "--help")
    text = " ".join(out.stdout.split())
    assert "3 no such file" in text
    assert "4 not an audit log" in text


# -- readable audit tables -------------------------------------------------------------------------
def test_show_prints_ordinary_text_as_it_is(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It shows a plain caller id and a long plain message without quotes or \\x20."""
    assert audit_main(["show", str(log)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "read_file" in line]
    assert len(rows) == 2
    for row in rows:
        assert " analyst-agent " in row
        assert "\\x20" not in row
        assert "'analyst-agent'" not in row
    assert "use a path relative to the project root" in rows[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("analyst-agent", "analyst-agent", id="plain"),
        pytest.param(
            "a b c d e f g h i j", "'a b c d e f g h i...", id="long-plain-cut-and-quoted"
        ),
        pytest.param("a  b", "'a\\x20\\x20b'", id="run-of-spaces"),
        pytest.param(" lead", "'\\x20lead'", id="leading-space"),
        pytest.param("s\u0435cret", "'s\\u0435cret'", id="look-alike"),
        pytest.param("x\u202ey z", "'x\\u202ey z'", id="bidi"),
        pytest.param("a\tb", "'a\\tb'", id="tab"),
    ],
)
def test_shown_escapes_only_what_could_deceive(text: str, expected: str) -> None:
    """It leaves ordinary words alone and escapes controls, bidi, look-alikes and space runs."""
    assert shown(text, 16) == expected


def test_a_plain_message_in_a_row_reads_as_words() -> None:
    """It shows a long plain error message cut, quoted once, with its spaces as spaces."""
    message = "refused: this path leads outside the project root; " * 4
    row = format_row(
        {"tool": "read_file", "outcome": "refused", "error": {"type": "E", "message": message}}
    )
    assert "'refused: this path leads outside the project root; refused:" in row
    assert "\\x20" not in row


# -- the demo --------------------------------------------------------------------------------------
def test_demo_shows_hints_and_points_to_examples_and_docs() -> None:
    """It prints each refusal's whole hint and ends by pointing to examples/ and docs/."""
    out = _run("demo")
    assert out.returncode == 0, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    # The whole hint, to its last allowed module: not the first 90 characters.
    assert "never importable in the sandbox" in text
    assert "allowed modules: abc, array, base64, bisect, calendar" in text
    assert "typing, unicodedata, uuid, zlib" in text
    assert "use a path relative to the project root" in text
    tail = out.stdout.rstrip().splitlines()[-8:]
    assert any("examples/" in line for line in tail)
    assert any("docs/agents.md" in line for line in tail)


def test_demo_model_without_live_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    """It refuses --model without --live (exit 2, saying to add --live)."""
    with pytest.raises(SystemExit) as info:
        cli_main(["demo", "--model", "gpt-5-mini"])
    assert info.value.code == 2
    assert "--live" in capsys.readouterr().err


def test_demo_live_without_a_key_exits_nonzero_before_running() -> None:
    """It exits 2 at once, naming OPENAI_API_KEY, when --live has no key."""
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    out = _run("demo", "--live", env=env)
    assert out.returncode == 2
    assert "OPENAI_API_KEY" in out.stderr
    assert out.stdout == ""


# -- a quiet MCP server ----------------------------------------------------------------------------
def test_mcp_server_answers_mistakes_quietly_and_unknown_tools_like_sandbox_call(
    project: Path, tmp_path: Path
) -> None:
    """It answers an unknown tool as Sandbox.call does, returns ordinary errors and an image
    file as results, and writes nothing to stderr (a real `ai-sandbox mcp` subprocess)."""
    (project / "plot.png").write_bytes(png(20, 10))
    params = StdioServerParameters(
        command=SCRIPT, args=["mcp", "--root", str(project)], env=dict(os.environ)
    )
    calls: list[tuple[str, dict[str, Any]]] = [
        ("format_disk", {"device": "/dev/sda"}),
        ("read_file", {"path": "../secret.txt"}),
        ("read_file", {"path": "data/missing.csv"}),
        ("read_file", {}),
        ("read_file", {"path": "a", "mode": "w"}),
        ("run_python", {"code": "result = 1 / 0"}),
        ("write_file", {"path": "x.txt", "content": "no writes"}),
        ("list_directory", {"path": "nowhere"}),
        ("read_file", {"path": "plot.png"}),
    ]
    err_path = tmp_path / "stderr.txt"

    async def session() -> list[CallToolResult]:
        with anyio.fail_after(60), err_path.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                return [await client.call_tool(name, args) for name, args in calls]

    results = anyio.run(session)
    assert err_path.read_text() == ""
    with Sandbox(project, SandboxPolicy(isolation="none")) as box:
        expected = [box.call(name, args) for name, args in calls]
    for result, want in zip(results, expected, strict=True):
        text = result.content[0]
        assert isinstance(text, TextContent)
        assert text.text == want.content
        assert result.is_error is (not want.ok)
    assert "unknown tool 'format_disk'; available tools: run_python" in expected[0].content
    image = results[-1].content[1]
    assert isinstance(image, ImageContent)
    assert base64.b64decode(image.data) == png(20, 10)
    assert json.dumps(results[0].structured_content)  # the ToolResult, as for known tools
