"""The agent part of ``ai-sandbox demo``: a real agent loop without an API key.

:class:`ScriptedModel` plays the model: behind an ``httpx2.MockTransport`` it answers the
OpenAI SDK's Chat Completions requests with a realistic analyst session (look around, read a
CSV, try two things the sandbox must refuse, analyse, write a report, answer), reacting to the
tool results it is sent. Everything else is the real code path: the ``openai`` client, the
adapter's :func:`~ai_sandbox.adapters.openai.run_agent_loop` and :meth:`Sandbox.call`.
With ``live=True`` a real model (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``) takes its place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TextIO

try:
    import httpx2
    from openai import APIError, OpenAI
except ImportError as _exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        "the agent demo needs the OpenAI SDK: pip install 'ai-sandbox[openai]'"
    ) from _exc

from ai_sandbox.adapters._agent import AgentTurn, ToolCallRecord
from ai_sandbox.adapters.openai import run_agent_loop
from ai_sandbox.sandbox import Sandbox

__all__ = ["DEMO_CSV", "DEMO_CSV_PATH", "ScriptedModel", "run_demo_agent"]

DEMO_CSV_PATH = "data/sales.csv"
DEMO_CSV = (
    "region,month,revenue\n"
    "north,2026-01,1200\n"
    "south,2026-01,950\n"
    "east,2026-01,1430\n"
    "north,2026-02,1310\n"
    "south,2026-02,1020\n"
    "east,2026-02,1390\n"
)
REPORT_PATH = "reports/sales_summary.md"
SCRIPTED_MODEL_NAME = "scripted-analyst"
DEFAULT_LIVE_MODEL = "gpt-5-mini"

_SYSTEM = (
    "You are a data analyst with tools that run inside a sandbox confined to one project "
    "directory. Use them to answer; paths are relative to the project root."
)
_TASK = (
    f"Summarise the revenue in {DEMO_CSV_PATH} by region, write a short markdown report to "
    f"{REPORT_PATH}, and tell me which region did best."
)

_ANALYSIS = """csv_text = {csv!r}
totals = {{}}
grand = 0.0
rows = 0
for line in csv_text.strip().splitlines()[1:]:
    cells = line.split(",")
    amount = float(cells[-1])
    totals[cells[0]] = totals.get(cells[0], 0.0) + amount
    grand = grand + amount
    rows = rows + 1
best = None
for region in totals:
    if best is None or totals[region] > totals[best]:
        best = region
print("rows analysed:", rows)
result = {{"rows": rows, "total_revenue": grand, "by_region": totals, "best_region": best}}
"""

_HOSTILE_CODE = 'import os\nresult = os.listdir("/")\n'


class ScriptedModel:
    """A stand-in for a chat model: the next reply depends only on the conversation so far."""

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        """The ``httpx2.MockTransport`` handler: answer one Chat Completions request."""
        body = json.loads(request.content or b"{}")
        messages: list[dict[str, Any]] = body.get("messages", [])
        step = sum(1 for message in messages if message.get("role") == "assistant")
        text, calls = self.reply(step, _tool_outputs(messages), _refusals(messages))
        return httpx2.Response(200, json=_completion(step, text, calls))

    def reply(
        self, step: int, outputs: dict[str, str], refusals: int = 0
    ) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
        """Reply number ``step``: its text and tool calls, given the tool outputs so far."""
        if step == 0:
            return "Let me see what is in the project.", [("list_directory", {"path": "."})]
        if step == 1:
            return "I'll read the sales data, and the machine's user list while I'm at it.", [
                ("read_file", {"path": DEMO_CSV_PATH}),
                ("read_file", {"path": "../../etc/passwd"}),
            ]
        if step == 2:
            return "That was refused. Maybe Python can look around the system instead.", [
                ("run_python", {"code": _HOSTILE_CODE, "inputs": None})
            ]
        if step == 3:
            csv_text = outputs.get("read_file") or DEMO_CSV
            code = _ANALYSIS.format(csv=csv_text)
            return "Also refused, fair enough. Now the actual analysis.", [
                ("run_python", {"code": code, "inputs": None})
            ]
        analysis = _result_of(outputs.get("run_python", ""))
        if step == 4:
            return "Writing the report.", [
                ("write_file", {"path": REPORT_PATH, "content": _report(analysis)})
            ]
        best = analysis.get("best_region", "unknown")
        total = analysis.get("total_revenue", "unknown")
        return (
            f"Total revenue is {total} across {analysis.get('rows', '?')} rows; the best region "
            f"is {best}. The report is in {REPORT_PATH}. The sandbox refused {refusals} of my "
            "requests along the way.",
            [],
        )


def run_demo_agent(
    sandbox: Sandbox, out: TextIO, *, live: bool = False, model: str | None = None
) -> int:
    """Run the demo agent on ``sandbox`` (a scratch root) and print each turn to ``out``.

    Seeds ``data/sales.csv`` if it is missing. Returns a process exit code: 0 on success, 2 when
    ``live`` is asked for without ``OPENAI_API_KEY``, 1 when the live API fails.
    """
    if live and not os.environ.get("OPENAI_API_KEY"):
        print(
            "The live demo needs OPENAI_API_KEY (and OPENAI_BASE_URL for other servers).", file=out
        )
        return 2
    csv_path = sandbox.root / DEMO_CSV_PATH
    if not csv_path.exists():
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path.write_text(DEMO_CSV, encoding="utf-8")
    if live:
        client, model_name = OpenAI(), model or DEFAULT_LIVE_MODEL
    else:
        transport = httpx2.MockTransport(ScriptedModel().handle)
        client = OpenAI(
            api_key="scripted-demo",
            base_url="https://scripted-model.invalid/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
        )
        model_name = SCRIPTED_MODEL_NAME
    print(
        f"Agent demo ({'live: ' + model_name if live else 'scripted model, no API key'})", file=out
    )
    print(f"[user] {_TASK}", file=out)
    try:
        with client:
            run = run_agent_loop(
                client,
                sandbox,
                model=model_name,
                messages=[
                    {"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": _TASK},
                ],
                max_turns=10,
                on_turn=_printer(out),
            )
    except APIError as exc:
        print(f"The model API failed: {exc}", file=out)
        return 1
    if not run.completed:
        print("[stopped] the model still wanted tools after 10 turns", file=out)
    return 0


# -- printing --------------------------------------------------------------------------------
def _printer(out: TextIO) -> Callable[[AgentTurn], None]:
    def show(turn: AgentTurn) -> None:
        label = "[model]" if turn.calls else "[final answer]"
        if turn.text:
            print(f"{label} {turn.text}", file=out)
        for call in turn.calls:
            print(f"  -> {call.name} {_short(_pretty_arguments(call), 160)}", file=out)
            print(_indent(_verdict(call)), file=out)

    return show


def _verdict(call: ToolCallRecord) -> str:
    result = call.result
    if result.ok:
        return "ok: " + _short(result.content, 400)
    refused = result.error is not None and result.error.type == "SecurityError"
    return ("REFUSED: " if refused else "error: ") + _short(result.content, 400)


def _pretty_arguments(call: ToolCallRecord) -> str:
    try:
        arguments = json.loads(call.arguments)
    except ValueError:
        return call.arguments
    if isinstance(arguments, dict):
        arguments = {k: v for k, v in arguments.items() if v is not None}
        if isinstance(arguments.get("code"), str) and arguments["code"].count("\n") > 2:
            lines = arguments["code"].count("\n") + 1
            arguments["code"] = f"<{lines} lines of Python>"
        if isinstance(arguments.get("content"), str) and len(arguments["content"]) > 40:
            arguments["content"] = f"<{len(arguments['content'])} characters>"
    return json.dumps(arguments, ensure_ascii=False)


def _short(text: str, limit: int) -> str:
    lines = text.splitlines() or [""]
    shown = "\n".join(lines[:6]) + (
        f"\n... ({len(lines) - 6} more lines)" if len(lines) > 6 else ""
    )
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _indent(text: str) -> str:
    return "\n".join("     " + line for line in text.splitlines())


# -- the scripted model's wire format --------------------------------------------------------
def _tool_outputs(messages: list[dict[str, Any]]) -> dict[str, str]:
    """The latest successful output of each tool, by tool name (from the conversation)."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            names[call.get("id", "")] = call.get("function", {}).get("name", "")
    outputs: dict[str, str] = {}
    for message in messages:
        content = message.get("content")
        if message.get("role") != "tool" or not isinstance(content, str):
            continue
        if not content.startswith("Error:"):
            outputs[names.get(message.get("tool_call_id", ""), "")] = content
    return outputs


def _refusals(messages: list[dict[str, Any]]) -> int:
    """How many tool results in the conversation were security refusals."""
    return sum(
        1
        for message in messages
        if message.get("role") == "tool" and "SecurityError" in str(message.get("content", ""))
    )


def _result_of(run_python_output: str) -> dict[str, Any]:
    first_line = run_python_output.partition("\n")[0]
    if not first_line.startswith("result: "):
        return {}
    try:
        value = json.loads(first_line.removeprefix("result: "))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _report(analysis: dict[str, Any]) -> str:
    by_region = analysis.get("by_region") or {}
    lines = ["# Sales summary", "", "| region | revenue |", "| --- | ---: |"]
    lines += [
        f"| {region} | {amount:,.2f} |" if isinstance(amount, int | float) else f"| {region} | ? |"
        for region, amount in by_region.items()
    ]
    lines += ["", f"Best region: **{analysis.get('best_region', 'unknown')}**", ""]
    return "\n".join(lines)


def _completion(step: int, text: str, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{step}_{index}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for index, (name, arguments) in enumerate(calls)
        ]
    return {
        "id": f"chatcmpl-scripted-{step}",
        "object": "chat.completion",
        "created": 0,
        "model": SCRIPTED_MODEL_NAME,
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls" if calls else "stop",
                "message": message,
            }
        ],
    }
