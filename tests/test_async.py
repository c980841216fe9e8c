"""The native async API: Sandbox.arun/acall and Session.arun/acall park no thread per call."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import respx
from openai import AsyncOpenAI

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.adapters.langchain import langchain_tools
from ai_sandbox.adapters.openai import ahandle_tool_calls, arun_agent_loop

POLICY = SandboxPolicy(timeout_s=2.0, pool_size=1)
T = TypeVar("T")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("async")
    (root / "data.txt").write_text("42", encoding="utf-8")
    with Sandbox(root, POLICY) as box:
        yield box


class NoThreads(concurrent.futures.ThreadPoolExecutor):
    """A default executor that refuses ai-sandbox's work: a ``to_thread`` of ours fails (the
    OpenAI SDK's own small jobs, such as reading the platform once, still run)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if "ai_sandbox" in _describe(fn, *args):
            raise AssertionError(f"a thread was asked to run {_describe(fn, *args)}")
        return super().submit(fn, *args, **kwargs)


def _describe(fn: Any, *args: Any) -> str:
    """Where ``fn`` (or what a ``to_thread`` partial wraps) comes from."""
    parts = [fn, *args, *getattr(fn, "args", ()), getattr(fn, "func", None)]
    return " ".join(
        f"{getattr(p, '__module__', '')}.{getattr(p, '__qualname__', '')}" for p in parts
    )


def without_threads(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` on a loop whose default executor refuses work."""

    async def guarded() -> T:
        asyncio.get_running_loop().set_default_executor(NoThreads())
        return await main()

    return asyncio.run(guarded())


def test_arun_needs_no_thread(sandbox: Sandbox) -> None:
    """It runs code with arun without handing anything to a thread."""
    res = without_threads(lambda: sandbox.arun("result = open('data.txt').read()"))
    assert res.status == "ok"
    assert res.result == "42"


def test_many_aruns_at_once(sandbox: Sandbox) -> None:
    """It runs several calls concurrently on one loop, each with its own answer."""

    async def main() -> list[Any]:
        runs = [sandbox.arun("result = n * n", {"n": n}) for n in range(6)]
        return [r.result for r in await asyncio.gather(*runs)]

    assert without_threads(main) == [n * n for n in range(6)]


def test_the_loop_stays_responsive(sandbox: Sandbox) -> None:
    """It keeps the event loop running while a long run waits for its worker."""

    async def main() -> tuple[int, str]:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.02)

        task = asyncio.create_task(ticker())
        res = await sandbox.arun("n = 0\nfor i in range(1_500_000):\n    n += i\nresult = 'done'")
        done = True
        await task
        return ticks, res.status

    ticks, status = without_threads(main)
    assert status == "ok"
    assert ticks >= 5


def test_arun_timeout_and_refusal(sandbox: Sandbox) -> None:
    """It reports a timeout and a refusal like run does."""

    async def main() -> tuple[str, str]:
        slow = await sandbox.arun("while True:\n    pass", timeout_s=0.3)
        refused = await sandbox.arun("result = open('../../etc/passwd').read()")
        return slow.status, refused.status

    assert without_threads(main) == ("timeout", "rejected")


def test_an_async_session_keeps_state_through_an_interrupt(sandbox: Sandbox) -> None:
    """It keeps a session's state across arun calls and an interrupted timeout."""

    async def main() -> tuple[str, Any, Any]:
        with sandbox.session() as live:
            await live.arun("kept = 41")
            slow = await live.arun("while True:\n    pass", timeout_s=0.3)
            after = await live.arun("kept + 1")
            called = await live.acall("run_python", {"code": "result = kept"})
            return slow.status, after.result, called.content

    assert without_threads(main) == ("timeout", 42, "result: 41")


def test_an_async_session_restarts_clean_after_a_kill(sandbox: Sandbox) -> None:
    """It kills a worker that ignores the interrupt and starts clean, saying so."""
    ignores = (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except KeyboardInterrupt:\n        pass"
    )

    async def main() -> tuple[str | None, str]:
        with sandbox.session() as live:
            await live.arun("kept = 1")
            killed = await live.arun(ignores, timeout_s=0.3)
            later = await live.arun("result = kept")
            return killed.notice, later.status

    notice, later = without_threads(main)
    assert notice is not None
    assert "the Python state was reset" in notice
    assert later == "error"


def test_acall_streams_output(sandbox: Sandbox) -> None:
    """It delivers printed output to on_output during acall."""
    seen: list[str] = []

    async def main() -> Any:
        return await sandbox.acall(
            "run_python", {"code": "print('hello')\nresult = 1"}, on_output=seen.append
        )

    answer = without_threads(main)
    assert answer.ok
    assert "".join(seen) == "hello\n"


def test_acall_validates_like_call(sandbox: Sandbox) -> None:
    """It gives the same answers as call for bad arguments and file tools."""

    async def main() -> tuple[str, str, str]:
        bad = await sandbox.acall("run_python", {"code": 1})
        read = await sandbox.acall("read_file", {"path": "data.txt"})
        unknown = await sandbox.acall("nope", {})
        return bad.content, read.content, unknown.content

    bad, read, unknown = without_threads(main)
    assert bad == sandbox.call("run_python", {"code": 1}).content
    assert read == "42"
    assert unknown == sandbox.call("nope", {}).content


def test_langchain_ainvoke_needs_no_thread(sandbox: Sandbox) -> None:
    """It serves LangChain's ainvoke without a thread, keeping the toolkit's state."""
    tool = next(t for t in langchain_tools(sandbox) if t.name == "run_python")

    async def main() -> Any:
        await tool.ainvoke({"code": "z = 5"})
        return await tool.ainvoke({"code": "z * 2"})

    assert without_threads(main) == "result: 10"


def test_the_async_openai_loop_needs_no_thread(sandbox: Sandbox) -> None:
    """It runs arun_agent_loop's tool calls without a thread (respx mocks the API)."""
    base = "https://api.test/v1"

    def reply(call: tuple[str, str] | None, content: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if call:
            message["tool_calls"] = [
                {
                    "id": call[0],
                    "type": "function",
                    "function": {"name": "run_python", "arguments": json.dumps({"code": call[1]})},
                }
            ]
        return {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        }

    async def main() -> list[str]:
        with respx.mock(base_url=base) as api:
            api.post("/chat/completions").mock(
                side_effect=[
                    httpx.Response(200, json=reply(("1", "a = 2"))),
                    httpx.Response(200, json=reply(("2", "a * 21"))),
                    httpx.Response(200, json=reply(None, "done")),
                ]
            )
            http: Any = httpx.AsyncClient()
            async with AsyncOpenAI(
                api_key="t", base_url=base, max_retries=0, http_client=http
            ) as client:
                run = await arun_agent_loop(
                    client, sandbox, model="m", messages=[{"role": "user", "content": "go"}]
                )
        return [c.result.content for c in run.tool_calls]

    assert without_threads(main) == ["result: null", "result: 42"]


def test_ahandle_tool_calls_in_a_session(sandbox: Sandbox) -> None:
    """It runs ahandle_tool_calls in the session it is given."""
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "1",
                "type": "function",
                "function": {"name": "run_python", "arguments": '{"code": "q = 3"}'},
            },
            {
                "id": "2",
                "type": "function",
                "function": {"name": "run_python", "arguments": '{"code": "q + 1"}'},
            },
        ],
    }

    async def main() -> list[dict[str, Any]]:
        with sandbox.session() as live:
            return await ahandle_tool_calls(sandbox, message, session=live)

    answers = without_threads(main)
    assert answers[1]["content"] == "result: 4"


def test_in_process_arun_uses_a_thread(tmp_path: Path) -> None:
    """It runs isolation='none' code in a thread (the code runs in this process) and gets the
    same answer."""
    with (
        pytest.warns(UserWarning, match="isolation"),
        Sandbox(tmp_path, SandboxPolicy(isolation="none")) as box,
    ):
        assert asyncio.run(box.arun("result = 2 + 2")).result == 4
