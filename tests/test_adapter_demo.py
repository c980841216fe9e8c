"""The scripted agent demo and the agent examples: real loops, no API key needed.

The scripted model answers either behind ``httpx2.MockTransport`` (the demo's default) or from a
real local HTTP server, which lets the live code paths and the examples run end to end.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.adapters._scripted import DEMO_CSV_PATH, REPORT_PATH, ScriptedModel, run_demo_agent

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
POLICY = SandboxPolicy(isolation="none", allow_writes=True)


class _ScriptedHandler(BaseHTTPRequestHandler):
    """Serves the scripted model over real HTTP, as an OpenAI-compatible server would."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = httpx2.Request("POST", f"http://local{self.path}", content=body)
        response = ScriptedModel().handle(request)
        self.send_response(response.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def scripted_server() -> Iterator[str]:
    """The base URL of a local OpenAI-compatible server played by the scripted model."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_scripted_demo_runs_the_real_loop(tmp_path: Path) -> None:
    """It drives the real OpenAI loop with the scripted model and prints every turn."""
    out = io.StringIO()
    with Sandbox(tmp_path, POLICY) as sandbox:
        assert run_demo_agent(sandbox, out) == 0
    text = out.getvalue()
    for tool in ("list_directory", "read_file", "run_python", "write_file"):
        assert f"-> {tool}" in text
    assert text.count("REFUSED") == 2
    assert "the best region is east" in text
    assert "refused 2 of my requests" in text
    assert "east" in (tmp_path / REPORT_PATH).read_text()


def test_scripted_demo_works_on_an_existing_csv(tmp_path: Path) -> None:
    """It analyses a sales CSV that is already there instead of seeding its own."""
    csv = tmp_path / DEMO_CSV_PATH
    csv.parent.mkdir()
    csv.write_text("region,amount\nnorth,120.5\nsouth,98.0\nnorth,75.25\neast,210.0\n")
    out = io.StringIO()
    with Sandbox(tmp_path, POLICY) as sandbox:
        assert run_demo_agent(sandbox, out) == 0
    assert "Total revenue is 503.75 across 4 rows; the best region is east" in out.getvalue()


def test_live_demo_without_a_key_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It explains that the live demo needs OPENAI_API_KEY and returns 2."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = io.StringIO()
    with Sandbox(tmp_path, POLICY) as sandbox:
        assert run_demo_agent(sandbox, out, live=True) == 2
    assert "OPENAI_API_KEY" in out.getvalue()


def test_live_demo_talks_to_an_openai_compatible_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scripted_server: str
) -> None:
    """It uses OPENAI_API_KEY and OPENAI_BASE_URL with the real client in live mode."""
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("OPENAI_BASE_URL", scripted_server)
    out = io.StringIO()
    with Sandbox(tmp_path, POLICY) as sandbox:
        assert run_demo_agent(sandbox, out, live=True, model="local-model") == 0
    assert "live: local-model" in out.getvalue()
    assert "the best region is east" in out.getvalue()


def _example_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return {**env, **extra}


@pytest.mark.parametrize("example", ["openai_agent.py", "langchain_agent.py"])
def test_examples_without_a_key_exit_2(example: str, tmp_path: Path) -> None:
    """It prints a clear message and exits 2 when OPENAI_API_KEY is not set."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / example), "--root", str(tmp_path)],
        env=_example_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "OPENAI_API_KEY is not set" in proc.stderr


def test_openai_example_runs_a_real_loop(tmp_path: Path, scripted_server: str) -> None:
    """It runs examples/openai_agent.py end to end against an OpenAI-compatible server."""
    (tmp_path / "data").mkdir()
    (tmp_path / DEMO_CSV_PATH).write_text("region,amount\nnorth,1\nwest,5\n")
    proc = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "openai_agent.py"),
            "--root",
            str(tmp_path),
            "--isolation",
            "none",
            "--allow-writes",
            "--model",
            "local-model",
        ],
        env=_example_env(OPENAI_API_KEY="test", OPENAI_BASE_URL=scripted_server),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "-> list_directory" in proc.stdout
    assert "[model] Total revenue is 6.0 across 2 rows; the best region is west" in proc.stdout
    assert "west" in (tmp_path / REPORT_PATH).read_text()
