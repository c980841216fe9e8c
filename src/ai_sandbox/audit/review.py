"""Reviewing a log: actions (a request joined with its outcome), filters, a table, stats.

Pure functions over records, so the CLI stays a thin shell and tests need no terminal.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "ACTION_OUTCOMES",
    "Filters",
    "actions",
    "format_row",
    "format_stats",
    "header",
    "parse_time",
    "stats",
]

#: Outcome records; ``pending`` marks a request without one (in flight, or the process died).
ACTION_OUTCOMES = ("completed", "refused", "failed", "timeout", "limit")

_COLOURS = {
    "completed": "\x1b[32m",
    "refused": "\x1b[1;97;41m",
    "failed": "\x1b[33m",
    "timeout": "\x1b[35m",
    "limit": "\x1b[35m",
    "pending": "\x1b[36m",
    "requested": "\x1b[2m",
}
_RESET = "\x1b[0m"
_KEEP_FROM_REQUEST = frozenset({"seq", "time", "args", "hash", "prev_hash", "event"})
_COLUMNS = ("TIME", "SEQ", "SESSION", "CALLER", "TOOL", "OUTCOME", "MS", "DETAIL")
_WIDTHS = (23, 6, 16, 16, 14, 9, 8, 0)


def parse_time(text: str) -> datetime:
    """An ISO-8601 time (``Z`` or offset; no zone means UTC); ``ValueError`` if malformed."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Filters:
    """What ``show`` keeps; ``None`` means any."""

    tool: str | None = None
    outcome: str | None = None
    session: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    grep: re.Pattern[str] | None = None

    def keep(self, action: dict[str, Any]) -> bool:
        if self.tool is not None and action.get("tool") != self.tool:
            return False
        if self.outcome is not None and action.get("outcome") != self.outcome:
            return False
        if self.session is not None and action.get("session") != self.session:
            return False
        if self.since is not None or self.until is not None:
            try:
                when = parse_time(str(action.get("time")))
            except ValueError:
                return False
            if self.since is not None and when < self.since:
                return False
            if self.until is not None and when > self.until:
                return False
        return self.grep is None or bool(self.grep.search(repr(action)))


def actions(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One dict per action, in request order: the request's fields plus its outcome's.

    An action is ``event="action"`` with ``outcome`` one of :data:`ACTION_OUTCOMES` or
    ``pending`` (no outcome record: still running, or the process died). Records that are not
    part of an action (``genesis``, ``recovered``, the host's own events) come through as
    themselves with ``outcome`` set to their event name.
    """
    order: list[dict[str, Any]] = []
    open_calls: dict[str, dict[str, Any]] = {}
    for record in records:
        event, call_id = record.get("event"), record.get("call_id")
        if event == "requested" and isinstance(call_id, str):
            action = {**record, "event": "action", "outcome": "pending"}
            open_calls[call_id] = action
            order.append(action)
        elif event in ACTION_OUTCOMES and isinstance(call_id, str) and call_id in open_calls:
            action = open_calls.pop(call_id)
            action.update({k: v for k, v in record.items() if k not in _KEEP_FROM_REQUEST})
            action.update(outcome=event, outcome_seq=record.get("seq"))
        else:
            order.append({**record, "outcome": str(event)})
    yield from order


def format_row(action: dict[str, Any], *, colour: bool = False) -> str:
    """One table line for an action (or a single record); refusals in capitals."""
    outcome = str(action.get("outcome", action.get("event", "")))
    duration = action.get("duration_ms")
    cells = [
        str(action.get("time", ""))[:23].replace("T", " "),
        str(action.get("seq", "")),
        shown(str(action.get("session") or ""), 16),
        shown(str(action.get("caller") or "-"), 16),
        shown(str(action.get("tool") or "-"), 24),
        outcome.upper() if outcome == "refused" else outcome,
        f"{duration:.1f}" if isinstance(duration, int | float) else "",
        _detail(action),
    ]
    cells = [_printable(cell) for cell in cells]
    padded = [cell.ljust(w) if w else cell for cell, w in zip(cells, _WIDTHS, strict=True)]
    if colour and outcome in _COLOURS:
        padded[5] = _COLOURS[outcome] + padded[5] + _RESET
    return " ".join(padded).rstrip()


def _printable(text: str) -> str:
    """One line, no terminal control: the log holds strings an agent chose (paths, messages),
    and an escape sequence must not be able to rewrite what the reviewer sees."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


#: What an agent-chosen string may hold to be shown as it is: ASCII letters, digits and
#: punctuation, with single spaces between words.
_PLAIN = re.compile(r"[!-~]+(?: [!-~]+)*")
#: Spaces that could line up fake columns: a run of two or more, or one at either end.
_LAYOUT_SPACES = re.compile(r"^ +| +$| {2,}")


def shown(text: str, limit: int) -> str:
    """``text`` (a tool name, path, rule or message an agent chose) as a reviewer may safely
    read it in a table.

    Plain ASCII with single spaces reads as it is, and when longer than ``limit`` it is quoted
    and cut (``'no such file or directory unde...``). Anything else is quoted with every
    character that could deceive escaped: control and bidi characters, every non-ASCII letter
    (look-alikes show: ``'s\u0435cret.txt'``) and every space of a run or at either end
    (``\x20``), so it cannot line up fake columns or rows; then cut at ``limit``.
    """
    if not text or (len(text) <= limit and _PLAIN.fullmatch(text)):
        return text
    quoted = ascii(text)
    if not _PLAIN.fullmatch(text):
        inner = _LAYOUT_SPACES.sub(lambda m: "\\x20" * len(m.group()), quoted[1:-1])
        quoted = quoted[0] + inner + quoted[-1]
    return quoted if len(quoted) <= limit + 2 else quoted[: limit + 2] + "..."


def header() -> str:
    """The table's column titles."""
    return " ".join(c.ljust(w) if w else c for c, w in zip(_COLUMNS, _WIDTHS, strict=True))


def _detail(action: dict[str, Any]) -> str:
    parts: list[str] = []
    args = action.get("args")
    if isinstance(args, dict):
        if isinstance(args.get("path"), str):
            parts.append(shown(args["path"], 80))
        code = args.get("code")
        if isinstance(code, dict) and isinstance(code.get("head"), str):
            first = code["head"].split("\n", 1)[0]
            parts.append(ascii(first[:60]))
    if action.get("rule") and action.get("outcome") in ("refused", "failed"):
        by_worker = " (reported by the worker)" if action.get("reported_by") == "worker" else ""
        parts.append(f"rule={shown(str(action['rule']), 32)}{by_worker}")
    files = action.get("files")
    if isinstance(files, list) and files:
        parts.append(_files_detail(files, action.get("files_omitted")))
    error = action.get("error")
    if isinstance(error, dict):
        kind = shown(str(error.get("type")), 40)
        parts.append(f"{kind}: {shown(str(error.get('message', '')), 100)}")
    if action.get("event") == "genesis":
        parts.append(f"chain start, continues {str(action.get('prev_hash'))[:12]}…")
    return "  ".join(parts)


#: How many of a run's file requests a table row names (``--json`` shows them all).
_FILES_SHOWN = 3


def _files_detail(files: list[Any], omitted: object) -> str:
    """A run's file requests in a few words: refused ones first, then the others."""
    entries = [f for f in files if isinstance(f, dict)]
    entries.sort(key=lambda f: f.get("outcome") != "refused")
    words = []
    for entry in entries[:_FILES_SHOWN]:
        outcome = str(entry.get("outcome"))
        text = f"{entry.get('op')} {shown(str(entry.get('path')), 60)} {entry.get('bytes')}B"
        if outcome != "ok":
            rule = f" {shown(str(entry['rule']), 32)}" if entry.get("rule") else ""
            text = f"{outcome.upper() if outcome == 'refused' else outcome}{rule}: {text}"
        words.append(text)
    more = len(files) - len(words) + (omitted if isinstance(omitted, int) else 0)
    if more > 0:
        words.append(f"+{more} more")
    return f"files[{'; '.join(words)}]"


def stats(records: Iterable[dict[str, Any]], *, slowest: int = 5) -> dict[str, Any]:
    """Counts by tool and outcome, refusals by rule, the slowest actions, per-session totals."""
    by_tool: dict[str, Counter[str]] = defaultdict(Counter)
    refusals: Counter[str] = Counter()
    mistakes: Counter[str] = Counter()
    sessions: dict[str, Counter[str]] = defaultdict(Counter)
    timed: list[dict[str, Any]] = []
    total = 0
    for action in actions(records):
        if action.get("event") != "action":
            continue
        total += 1
        outcome = str(action["outcome"])
        by_tool[str(action.get("tool"))][outcome] += 1
        sessions[str(action.get("session"))][outcome] += 1
        if outcome == "refused":
            refusals[str(action.get("rule") or "policy")] += 1
        elif outcome == "failed" and action.get("rule"):
            mistakes[str(action["rule"])] += 1  # e.g. not_found: a typo, not an attack
        if isinstance(action.get("duration_ms"), int | float):
            timed.append(action)
    timed.sort(key=lambda a: float(a["duration_ms"]), reverse=True)
    return {
        "actions": total,
        "by_tool": {tool: dict(counts) for tool, counts in sorted(by_tool.items())},
        "refusals_by_rule": dict(refusals.most_common()),
        "failures_by_rule": dict(mistakes.most_common()),
        "slowest": [
            {k: a.get(k) for k in ("seq", "tool", "outcome", "duration_ms", "session")}
            for a in timed[:slowest]
        ],
        "sessions": {s: dict(c) for s, c in sorted(sessions.items())},
    }


def format_stats(data: dict[str, Any]) -> str:
    """``stats`` as text for a person."""
    lines = [f"{data['actions']} actions", "", "by tool and outcome:"]
    outcomes = [*ACTION_OUTCOMES, "pending"]
    lines.append("  " + "tool".ljust(16) + "".join(o.rjust(11) for o in outcomes))
    for tool, counts in data["by_tool"].items():
        row = "".join(str(counts.get(o, 0)).rjust(11) for o in outcomes)
        lines.append("  " + shown(tool, 24).ljust(16) + row)
    lines += ["", "refusals by policy rule:"]
    lines += [f"  {shown(rule, 32)}: {n}" for rule, n in data["refusals_by_rule"].items()] or [
        "  (none)"
    ]
    lines += ["", "failures by rule (mistakes such as a missing file; not refusals):"]
    lines += [
        f"  {shown(rule, 32)}: {n}" for rule, n in data.get("failures_by_rule", {}).items()
    ] or ["  (none)"]
    lines += ["", "slowest actions:"]
    lines += [
        f"  seq {a['seq']}: {shown(str(a['tool']), 24)} {a['outcome']} {a['duration_ms']:.1f} ms"
        for a in data["slowest"]
    ] or ["  (none)"]
    lines += ["", "per session:"]
    for session, counts in data["sessions"].items():
        detail = ", ".join(f"{o} {n}" for o, n in sorted(counts.items()))
        lines.append(f"  {shown(session, 32)}: {sum(counts.values())} actions ({detail})")
    return "\n".join(lines)
