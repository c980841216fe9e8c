"""`ai-sandbox audit verify|head|show|stats|tail`: reviewing a log from the shell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from audit_support import KEY, lines, make_log, write_lines

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.audit import AuditLog
from ai_sandbox.audit.cli import main
from ai_sandbox.audit.review import format_row

POLICY = SandboxPolicy(isolation="none", allow_writes=True)


@pytest.fixture
def log(project: Path, tmp_path: Path) -> Path:
    """A log of a short agent session: writes, reads, a refusal, a failure, two sessions."""
    path = tmp_path / "audit.jsonl"
    for session in ("alpha", "beta"):
        with (
            AuditLog(path, session_id=session) as audit,
            Sandbox(project, POLICY, audit=audit) as sb,
        ):
            with sb.audit_caller("agent-1"):
                sb.call("write_file", {"path": "notes.txt", "content": "hello"})
                sb.call("read_file", {"path": "notes.txt"})
            sb.call("read_file", {"path": "../../etc/passwd"})
            sb.call("run_python", {"code": "result = 1 / 0"})
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_exits_0_on_an_intact_log(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It prints OK with the record count and head, and exits 0."""
    code, out, _ = run(capsys, "verify", str(log))
    assert code == 0
    assert out.startswith("OK: 17 records intact; head seq 16")


def test_verify_exits_1_and_names_the_first_bad_record(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 1 and names the problem, seq, file and line of the first bad record."""
    content = lines(log)
    del content[5]
    write_lines(log, content)
    code, out, _ = run(capsys, "verify", str(log))
    assert code == 1
    assert f"FAILED: DELETED at seq 5 ({log}:6)" in out


def test_head_feeds_verify_head(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It prints SEQ:HASH, which verify --head accepts; cutting records then fails."""
    code, head, _ = run(capsys, "head", str(log))
    assert code == 0
    assert head.startswith("16:")
    assert len(head.strip()) == 3 + 64
    assert run(capsys, "verify", str(log), "--head", head.strip())[0] == 0
    write_lines(log, lines(log)[:-2])
    code, out, _ = run(capsys, "verify", str(log), "--head", head.strip())
    assert code == 1
    assert "MISSING HEAD at seq 15" in out


def test_verify_reads_the_key_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It verifies a keyed log with --key-file and reports a wrong key."""
    path = make_log(tmp_path / "k.jsonl", 3, key=KEY)
    good, bad = tmp_path / "good.key", tmp_path / "bad.key"
    good.write_bytes(KEY + b"\n")
    bad.write_bytes(b"not-the-right-key-at-all")
    assert run(capsys, "verify", str(path), "--key-file", str(good))[0] == 0
    code, out, _ = run(capsys, "verify", str(path), "--key-file", str(bad))
    assert code == 1
    assert "WRONG KEY at seq 0" in out


def test_verify_takes_several_files_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It verifies an explicit list of rotated files as one chain."""
    path = make_log(tmp_path / "r.jsonl", 40, max_bytes=2048)
    files = sorted(tmp_path.glob("r.jsonl.*"), key=lambda p: int(p.suffix[1:]))
    assert run(capsys, "verify", *map(str, files), str(path))[0] == 0
    assert run(capsys, "verify", *map(str, files[1:]), str(path))[0] == 1


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["verify", "{log}", "--head", "nonsense"], id="bad-head"),
        pytest.param(["verify", "{log}", "--key-file", "/nonexistent"], id="missing-key-file"),
        pytest.param(["show", "{log}", "--since", "yesterday"], id="bad-time"),
        pytest.param(["show", "{log}", "--grep", "("], id="bad-regex"),
    ],
)
def test_bad_usage_exits_2_with_a_message(
    log: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """It exits 2 with a one-line message, never a traceback."""
    code, _, err = run(capsys, *(a.format(log=log) for a in argv))
    assert code == 2
    assert err.startswith("ai-sandbox audit: ")
    assert "Traceback" not in err


def test_show_prints_one_line_per_action(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It prints a header and one line per action; refusals stand out in capitals."""
    code, out, _ = run(capsys, "show", str(log))
    rows = out.splitlines()
    assert code == 0
    assert rows[0].split() == [
        "TIME",
        "SEQ",
        "SESSION",
        "CALLER",
        "TOOL",
        "OUTCOME",
        "MS",
        "DETAIL",
    ]
    actions = [r for r in rows[1:] if "genesis" not in r]
    assert len(actions) == 8
    refused = [r for r in actions if "REFUSED" in r]
    assert len(refused) == 2
    assert all("rule=outside_root" in r for r in refused)
    assert "\x1b[" not in out  # not a terminal: no colour


@pytest.mark.parametrize(
    ("flags", "count"),
    [
        pytest.param(["--tool", "read_file"], 4, id="tool"),
        pytest.param(["--outcome", "refused"], 2, id="outcome"),
        pytest.param(["--outcome", "failed", "--session", "beta"], 1, id="outcome-session"),
        pytest.param(["--grep", "notes\\.txt"], 4, id="grep"),
        pytest.param(["--since", "2000-01-01", "--until", "2999-01-01T00:00:00Z"], 9, id="times"),
        pytest.param(["--until", "2000-01-01"], 0, id="until-before"),
    ],
)
def test_show_filters_as_json_lines(
    log: Path, capsys: pytest.CaptureFixture[str], flags: list[str], count: int
) -> None:
    """It filters by tool, outcome, session, time and pattern, and emits JSON lines."""
    code, out, _ = run(capsys, "show", str(log), "--json", *flags)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(rows) == count


def test_show_json_joins_request_and_outcome(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It shows each action with its arguments and its outcome, rule and caller."""
    _, out, _ = run(capsys, "show", str(log), "--json", "--outcome", "refused")
    action = json.loads(out.splitlines()[0])
    assert action["args"] == {"path": "../../etc/passwd"}
    assert (action["tool"], action["rule"], action["decision"]) == (
        "read_file",
        "outside_root",
        "deny",
    )


def test_outcomes_are_coloured_on_a_terminal() -> None:
    """It colours the outcome cell (refused on red) when asked to."""
    row = format_row({"outcome": "refused", "tool": "read_file"}, colour=True)
    assert "\x1b[1;97;41mREFUSED" in row


def test_a_request_without_outcome_shows_as_pending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It shows a request whose process died before the outcome as pending."""
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as audit:
        audit.record("requested", call_id="c1", tool="run_python", via="call", args={})
    _, out, _ = run(capsys, "show", str(path))
    assert "pending" in out.splitlines()[-1]


def test_stats_counts_tools_outcomes_rules_and_sessions(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It counts by tool and outcome, refusals by rule, the slowest calls, per session."""
    code, out, _ = run(capsys, "stats", str(log), "--json")
    data = json.loads(out)
    assert code == 0
    assert data["actions"] == 8
    assert data["by_tool"]["read_file"] == {"completed": 2, "refused": 2}
    assert data["refusals_by_rule"] == {"outside_root": 2}
    assert set(data["sessions"]) == {"alpha", "beta"}
    assert len(data["slowest"]) == 5
    _, text, _ = run(capsys, "stats", str(log))
    assert "refusals by policy rule:\n  outside_root: 2" in text


def test_tail_prints_the_last_records(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It prints the last N records."""
    _, out, _ = run(capsys, "tail", str(log), "-n", "3", "--json")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [14, 15, 16]


def test_tail_follow_prints_new_records_as_they_come(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It follows the log and prints records appended while it runs, then stops on time."""
    path = make_log(tmp_path / "a.jsonl", 1)

    def append_later() -> None:
        time.sleep(0.3)
        make_log(path, 2)

    writer = threading.Thread(target=append_later)
    writer.start()
    code, out, _ = run(capsys, "tail", str(path), "-n", "0", "-f", "--max-seconds", "1.2", "--json")
    writer.join()
    assert code == 0
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [2, 3]


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_tail_follow_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """It exits 0 without a traceback when interrupted (Ctrl-C)."""
    path = make_log(tmp_path / "a.jsonl", 1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_sandbox.audit.cli", "tail", "-f", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As in a terminal's foreground job: a background job (`cmd &`, as CI scripts may start
        # the tests) inherits SIGINT *ignored*, and Ctrl-C would not reach the tail at all.
        preexec_fn=_interruptible,
    )
    with proc:
        assert proc.stdout is not None
        proc.stdout.readline()  # it is running once the existing records are printed
        os.kill(proc.pid, signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=10)
        finally:
            proc.kill()  # never leave it following the log after the test
    assert proc.returncode == 0
    assert b"Traceback" not in err


def test_the_main_command_has_the_audit_subcommands(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It is reachable as `ai-sandbox audit ...`."""
    from ai_sandbox.cli import main as ai_sandbox_main

    assert ai_sandbox_main(["audit", "verify", str(log)]) == 0
    assert "OK: 17 records intact" in capsys.readouterr().out


def test_show_neutralises_terminal_control_characters() -> None:
    """It prints agent-chosen strings on one line with control characters escaped."""
    row = format_row({"tool": "read_file", "outcome": "refused", "args": {"path": "a\x1b[2Jb\nc"}})
    assert "\x1b" not in row
    assert "\n" not in row
    assert "\\x1b[2Jb\\nc" in row


FORGED_ROW = "2026-11-26 16:40:02.117 9      7030910aef424d25 -   read_file   REFUSED  0.1  .env"

#: Agent-chosen strings that try to draw what the reviewer sees: where each goes, and the string.
FORGERIES = [
    ("path-padded-into-a-fake-row", "path", "notes.txt" + " " * 16 + FORGED_ROW),
    ("tool-name-filling-the-columns", "tool", "read_file          completed 0.1      notes.txt"),
    ("look-alike-letter", "path", "s\u0435cret.txt"),
    ("bidi-override", "path", "report\u202etxt.exe"),
    ("c1-control", "path", "a\x9b2Jb"),
    ("long-error-type", "error", "E" * 5000),
]


def _action(where: str, text: str) -> dict[str, Any]:
    action: dict[str, Any] = {"tool": "write_file", "outcome": "completed"}
    if where == "path":
        action["args"] = {"path": text}
    elif where == "tool":
        action["tool"] = text
    else:
        action["error"] = {"type": text, "message": "m"}
    return action


@pytest.mark.parametrize(
    ("where", "text"), [f[1:] for f in FORGERIES], ids=[f[0] for f in FORGERIES]
)
def test_show_quotes_what_could_pass_for_something_else(where: str, text: str) -> None:
    """It shows an agent-chosen string that is not plain ASCII with single spaces (or is too
    long) quoted, escaped and cut: it cannot line up fake columns or rows, or pass for another
    name."""
    row = format_row(_action(where, text))
    assert row.isascii()
    assert row.isprintable()
    assert text not in row
    assert ascii(text).replace(" ", "\\x20")[:12] in row  # quoted, every space escaped
    assert len(row) < 300


def test_stats_quote_agent_chosen_tool_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It prints tool names in the stats the way the table does: no terminal control, no line
    break an agent could use to add a fake row."""
    from ai_sandbox import Sandbox, SandboxPolicy
    from ai_sandbox.audit import AuditLog

    path = tmp_path / "a.jsonl"
    with (
        AuditLog(path) as audit,
        Sandbox(tmp_path, SandboxPolicy(isolation="none"), audit=audit) as box,
    ):
        box.call("\x1b[2J\x1b[Hrun_python\n  fake_tool  completed 3", {})
    _, out, _ = run(capsys, "stats", str(path))
    assert "\x1b" not in out
    assert not any(line.lstrip().startswith("fake_tool") for line in out.splitlines())


def test_json_output_is_ascii(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It writes --json lines in ASCII: bidi overrides and C1 controls arrive escaped."""
    from ai_sandbox import Sandbox, SandboxPolicy
    from ai_sandbox.audit import AuditLog

    path = tmp_path / "a.jsonl"
    with (
        AuditLog(path) as audit,
        Sandbox(tmp_path, SandboxPolicy(isolation="none"), audit=audit) as box,
    ):
        box.call("read_file", {"path": "x\u202e\x9b.txt"})
    _, out, _ = run(capsys, "show", str(path), "--json")
    assert out.isascii()
    assert "\\u202e" in out
