"""Output as it happens: on_output gets printed text in chunks while the code runs."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from layers_support import FIND_CHANNEL
from mcp import Client, StdioServerParameters

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.exceptions import WorkerError
from ai_sandbox.isolation.streaming import OutputRelay
from ai_sandbox.isolation.worker_backend import WorkerBackend

POLICY = SandboxPolicy(timeout_s=3.0, pool_size=1, max_output_bytes=4096)
CONSOLE_SCRIPT = str(Path(sys.executable).with_name("ai-sandbox"))

#: Prints, then computes for a while (about 0.1-0.3 s each), three times.
TICKS = (
    "for i in range(3):\n    print('tick', i)\n    n = 0\n"
    "    for j in range(300000):\n        n += j\n"
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("stream"), POLICY) as box:
        yield box


class Recorder:
    """Collects chunks with the time each arrived."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.chunks: list[tuple[float, str]] = []

    def __call__(self, text: str) -> None:
        self.chunks.append((time.monotonic() - self.start, text))

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.chunks)


def test_output_arrives_while_the_code_runs(sandbox: Sandbox) -> None:
    """It delivers the first line before the run ends, and all of it by the end."""
    seen = Recorder()
    res = sandbox.run(TICKS, on_output=seen)
    assert res.status == "ok"
    assert seen.text == res.stdout == "tick 0\ntick 1\ntick 2\n"
    assert len(seen.chunks) >= 2
    first_at, first = seen.chunks[0]
    assert first.startswith("tick 0")
    assert first_at < res.duration_ms / 1000  # before the run ended


def test_a_session_streams_and_keeps_state(sandbox: Sandbox) -> None:
    """It streams a session run's output too."""
    seen = Recorder()
    with sandbox.session() as live:
        live.run("word = 'kept'")
        res = live.run("print(word)\n" + TICKS, on_output=seen)
    assert seen.text == res.stdout
    assert seen.text.startswith("kept\n")


def test_streamed_output_stays_within_max_output_bytes(sandbox: Sandbox) -> None:
    """It streams no more than max_output_bytes, however much is printed."""
    seen = Recorder()
    res = sandbox.run("for i in range(2000):\n    print('x' * 50)", on_output=seen)
    assert len(seen.text.encode()) <= POLICY.max_output_bytes
    assert "output truncated" in res.stdout
    assert res.stdout.startswith(seen.text[:1000])


def test_a_timeout_still_delivers_what_was_printed(sandbox: Sandbox) -> None:
    """It delivers output printed before the deadline of a run that timed out."""
    seen = Recorder()
    with sandbox.session() as live:
        res = live.run("print('before')\nwhile True:\n    pass", on_output=seen, timeout_s=0.3)
    assert res.status == "timeout"
    assert seen.text == "before\n"


def test_a_failing_callback_does_not_stop_the_run(sandbox: Sandbox) -> None:
    """It stops calling a callback that raised and finishes the run normally."""
    calls: list[str] = []

    def broken(text: str) -> None:
        calls.append(text)
        raise RuntimeError("host bug")

    res = sandbox.run(TICKS, on_output=broken)
    assert res.status == "ok"
    assert res.stdout == "tick 0\ntick 1\ntick 2\n"
    assert len(calls) == 1


def test_no_callback_no_frames(sandbox: Sandbox) -> None:
    """It sends no output frames unless asked (the result alone carries stdout)."""
    assert sandbox.run("print('x')\nresult = 1").stdout == "x\n"


FORGED_OUTPUT = FIND_CHANNEL + """
import json, socket, struct
channel = socket.socket(fileno=CHANNEL_FD)
for _ in range(FRAMES):
    body = json.dumps({"type": "output", "job": JOB, "text": "y" * 4000}).encode()
    channel.sendall(struct.pack('>I', len(body)) + body)
channel.detach()
result = 'sent'
"""


@pytest.mark.parametrize(
    ("job", "frames", "words"),
    [
        pytest.param("'forged'", 1, "another job", id="another-job"),
        pytest.param("None", 1, "another job", id="no-job"),
    ],
)
def test_forged_output_frames_end_the_run(
    tmp_path: Path, job: str, frames: int, words: str
) -> None:
    """It refuses output frames for another job (the language guard off: the OS alone)."""
    backend = WorkerBackend(tmp_path, POLICY, _language_guard=False)
    try:
        code = FORGED_OUTPUT.replace("FRAMES", str(frames)).replace("JOB", job)
        res = backend.execute(code, on_output=lambda _: None)
    finally:
        backend.close()
    assert res.status == "error"
    assert res.error is not None
    assert words in res.error.message


def test_unguarded_writes_stream_within_the_cap(tmp_path: Path) -> None:
    """It streams sys.stdout writes of code with the language guard off within the cap too."""
    backend = WorkerBackend(tmp_path, POLICY, _language_guard=False)
    seen: list[str] = []
    try:
        res = backend.execute(
            "import sys\nfor i in range(10000):\n    sys.stdout.write('z' * 100)",
            on_output=seen.append,
        )
    finally:
        backend.close()
    assert res.status == "ok"
    assert 0 < sum(len(s) for s in seen) <= POLICY.max_output_bytes


@pytest.mark.parametrize(
    ("message", "words"),
    [
        pytest.param({"job": "j", "text": "x" * 5000}, "more output", id="over-budget"),
        pytest.param({"job": "j", "text": 5}, "malformed", id="not-text"),
        pytest.param({"job": "k", "text": "x"}, "another job", id="another-job"),
    ],
)
def test_the_host_checks_every_output_frame(message: dict[str, Any], words: str) -> None:
    """It refuses output frames over max_output_bytes in total, not text, or for another job."""
    relay = OutputRelay(lambda _: None, "j", 4096)
    with pytest.raises(WorkerError, match=words):
        relay.deliver(message)


def test_the_host_makes_streamed_text_valid_unicode() -> None:
    """It replaces lone surrogates in streamed text before the callback sees it."""
    seen: list[str] = []
    OutputRelay(seen.append, "j", 100).deliver({"job": "j", "text": "a\ud800b"})
    assert seen == ["a\ufffdb"]


def test_mcp_sends_output_as_progress_notifications(project: Path) -> None:
    """It sends run_python's printed output as MCP progress notifications to a client of a
    real `ai-sandbox mcp` process, and the complete output in the result."""
    params = StdioServerParameters(
        command=CONSOLE_SCRIPT, args=["mcp", "--root", str(project)], env=dict(os.environ)
    )
    messages: list[str] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async def main() -> Any:
        with anyio.fail_after(30):
            async with Client(params) as client:
                return await client.call_tool(
                    "run_python", {"code": TICKS}, progress_callback=progress
                )

    result = anyio.run(main)
    assert result.is_error is False
    assert "".join(messages) == "tick 0\ntick 1\ntick 2\n"
    assert len(messages) >= 2


def test_python_mode_streams_too(tmp_path: Path) -> None:
    """It delivers full Python's printed output while the code runs, in a run and a session."""
    pytest.importorskip("numpy", reason="the data extra is not installed")
    os.chmod(tmp_path, 0o755)
    with Sandbox(tmp_path, POLICY.model_copy(update={"language": "python"})) as box:
        seen = Recorder()
        res = box.run(TICKS, on_output=seen)
        assert res.status == "ok"
        assert seen.text == res.stdout == "tick 0\ntick 1\ntick 2\n"
        assert len(seen.chunks) >= 2
        assert seen.chunks[0][0] < res.duration_ms / 1000  # the first line before the end
        in_session = Recorder()
        with box.session() as live:
            live.run("word = 'kept'")
            res = live.run("print(word)\n" + TICKS, on_output=in_session)
        assert in_session.text == res.stdout
        assert len(in_session.chunks) >= 2
