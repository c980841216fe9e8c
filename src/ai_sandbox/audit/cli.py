"""``ai-sandbox audit verify|head|show|stats|tail``: review a log from the shell.

:func:`register` adds the ``audit`` command to the main parser; :func:`main` runs it alone.
Exit status, for every subcommand:

- 0: success (``verify``: every record is intact);
- 1: ``verify`` found a problem (edited, deleted, inserted, reordered records, wrong key...);
- 2: bad usage, or a log that cannot be read;
- 3: the log file does not exist (no file of its series);
- 4: the file is not an audit log (no line of it is an ai-sandbox audit record).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from ai_sandbox.audit.reader import files_of, read_records
from ai_sandbox.audit.review import Filters, actions, format_row, format_stats, header, parse_time
from ai_sandbox.audit.review import stats as compute_stats
from ai_sandbox.audit.verify import parse_head, verify
from ai_sandbox.exceptions import AuditError

__all__ = ["main", "register"]

_POLL_S = 0.2

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_NO_FILE = 3
EXIT_NOT_A_LOG = 4

_EPILOG = (
    "exit status: 0 ok (verify: intact), 1 verify found a problem, 2 bad usage or an "
    "unreadable log, 3 no such file, 4 not an audit log"
)
#: Longest line looked at when telling whether a file is an audit log at all.
_MAX_PROBE_LINE = 1 << 20
#: Fields every audit record has.
_RECORD_FIELDS = frozenset({"event", "seq", "hash", "prev_hash"})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command (with its subcommands) to ``subparsers``."""
    audit = subparsers.add_parser(
        "audit", help="verify and review an audit log", description=_EPILOG
    )
    sub = audit.add_subparsers(dest="audit_command", required=True)

    p = sub.add_parser(
        "verify", help="recompute the hash chain; exit 1 on any problem", epilog=_EPILOG
    )
    p.add_argument(
        "paths", nargs="+", metavar="PATH", help="a log (with its rotated files), or files in order"
    )
    p.add_argument("--key-file", help="file holding the HMAC key the log was written with")
    p.add_argument("--head", help="SEQ:HASH kept from `audit head`; fail if no longer reached")
    p.set_defaults(func=_verify)

    p = sub.add_parser("head", help="print the current head as SEQ:HASH (keep it elsewhere)")
    p.add_argument("path", metavar="PATH")
    p.set_defaults(func=_head)

    p = sub.add_parser("show", help="one line per action (or JSON lines with --json)")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--tool", help="only this tool")
    p.add_argument("--outcome", help="only this outcome (completed, refused, failed, ...)")
    p.add_argument("--session", help="only this session id")
    p.add_argument("--since", help="only actions at or after this ISO-8601 time")
    p.add_argument("--until", help="only actions at or before this ISO-8601 time")
    p.add_argument("--grep", help="only actions matching this regular expression")
    p.add_argument("--json", action="store_true", help="JSON lines for piping")
    p.set_defaults(func=_show)

    p = sub.add_parser("stats", help="counts by tool, outcome, rule and session; slowest calls")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=_stats)

    p = sub.add_parser("tail", help="the last records; -f follows the log live (Ctrl-C stops)")
    p.add_argument("path", metavar="PATH")
    p.add_argument("-n", "--lines", type=int, default=10, help="records to show first")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new records")
    p.add_argument("--max-seconds", type=float, default=None, help="stop following after this")
    p.add_argument("--json", action="store_true", help="raw records as JSON lines")
    p.set_defaults(func=_tail)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``audit ...`` on its own (``argv`` without the leading ``audit``)."""
    parser = argparse.ArgumentParser(prog="ai-sandbox")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    print(f"ai-sandbox audit: {message}", file=sys.stderr)
    return status


def _check_log(paths: str | list[str]) -> int | None:
    """Exit status 3 (and the message) when no file of the log exists, 4 when none of its
    files holds an audit record; ``None`` when there is a log to read."""
    named = [Path(paths)] if isinstance(paths, str) else [Path(p) for p in paths]
    files = files_of(paths)
    absent = [p for p in named if not p.exists()]
    if isinstance(paths, str) and not any(f.exists() for f in files):
        return _fail(f"{paths}: no such file", EXIT_NO_FILE)
    if not isinstance(paths, str) and absent:
        return _fail(f"{absent[0]}: no such file", EXIT_NO_FILE)
    existing = [f for f in files if f.exists()]
    if existing and not any(_holds_a_record(f) for f in existing):
        shown = paths if isinstance(paths, str) else ", ".join(map(str, named))
        return _fail(
            f"{shown}: not an audit log (no line is an ai-sandbox audit record)", EXIT_NOT_A_LOG
        )
    return None


def _holds_a_record(path: Path) -> bool:
    """Whether any line of ``path`` is a JSON object with an audit record's fields (an empty
    file counts as one: `verify` reports on it)."""
    try:
        with path.open("rb") as handle:
            if path.stat().st_size == 0:
                return True
            while line := handle.readline(_MAX_PROBE_LINE):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.keys() >= _RECORD_FIELDS:
                    return True
    except OSError:
        return True  # unreadable: the command reports it in its own words
    return False


def _verify(args: argparse.Namespace) -> int:
    key = None
    if args.key_file:
        try:
            key = Path(args.key_file).read_bytes().strip()
        except OSError as exc:
            return _fail(f"cannot read the key file: {exc.strerror}")
    head = None
    if args.head:
        try:
            head = parse_head(args.head)
        except ValueError as exc:
            return _fail(str(exc))
    paths = args.paths[0] if len(args.paths) == 1 else args.paths
    status = _check_log(paths)
    if status is not None:
        return status
    try:
        report = verify(paths, key=key, head=head)
    except AuditError as exc:
        return _fail(str(exc))
    print(report.summary())
    return 0 if report.ok else 1


def _head(args: argparse.Namespace) -> int:
    status = _check_log(args.path)
    if status is not None:
        return status
    last: dict[str, Any] | None = None
    try:
        for last in read_records(args.path):  # noqa: B007 - we want the last one
            pass
    except AuditError as exc:
        return _fail(str(exc))
    if last is None:
        return _fail(f"{args.path}: the log is empty")
    print(f"{last.get('seq')}:{last.get('hash')}")
    return 0


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(
        tool=args.tool,
        outcome=args.outcome,
        session=args.session,
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
        grep=re.compile(args.grep, re.IGNORECASE) if args.grep else None,
    )


def _show(args: argparse.Namespace) -> int:
    try:
        filters = _filters(args)
    except (ValueError, re.error) as exc:
        return _fail(f"bad filter: {exc}")
    status = _check_log(args.path)
    if status is not None:
        return status
    out = sys.stdout
    colour = _use_colour(out)
    try:
        if not args.json:
            print(header(), file=out)
        for action in actions(read_records(args.path)):
            if filters.keep(action):
                line = _json_line(action) if args.json else format_row(action, colour=colour)
                print(line, file=out)
    except AuditError as exc:
        return _fail(str(exc))
    return 0


def _stats(args: argparse.Namespace) -> int:
    status = _check_log(args.path)
    if status is not None:
        return status
    try:
        data = compute_stats(read_records(args.path))
    except AuditError as exc:
        return _fail(str(exc))
    print(_json_line(data) if args.json else format_stats(data))
    return 0


def _tail(args: argparse.Namespace) -> int:
    try:
        return _tail_until_interrupted(args)
    except KeyboardInterrupt:  # Ctrl-C is how one stops `tail -f`: a clean exit
        return 0


def _tail_until_interrupted(args: argparse.Namespace) -> int:
    status = _check_log(args.path)
    if status is not None:
        return status
    out = sys.stdout
    colour = _use_colour(out)

    def emit(record: dict[str, Any]) -> None:
        line = _json_line(record) if args.json else format_row(_as_row(record), colour=colour)
        print(line, file=out, flush=True)

    try:
        records = list(read_records(args.path))
    except AuditError as exc:
        return _fail(str(exc))
    for record in records[-args.lines :] if args.lines > 0 else []:
        emit(record)
    if not args.follow:
        return 0
    deadline = None if args.max_seconds is None else time.monotonic() + args.max_seconds
    for record in _follow(Path(args.path), deadline):
        emit(record)
    return 0


def _follow(path: Path, deadline: float | None) -> Iterator[dict[str, Any]]:
    """New records appended to ``path`` from now on, across rotations, until ``deadline``."""
    ino, offset, pending = _identity(path), _size(path), b""
    while deadline is None or time.monotonic() < deadline:
        current = _identity(path)
        if current != ino:  # rotated: the new file starts with its genesis
            ino, offset, pending = current, 0, b""
        if _size(path) > offset:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            offset += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue  # a torn line; the next writer seals it with a `recovered` record
                if isinstance(record, dict):
                    yield record
        time.sleep(_POLL_S)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _as_row(record: dict[str, Any]) -> dict[str, Any]:
    event = str(record.get("event"))
    return {**record, "outcome": event}


def _json_line(value: Any) -> str:
    # ASCII: agent-chosen strings may hold C1 controls or bidi overrides meant for a terminal
    return json.dumps(value, ensure_ascii=True, sort_keys=True)


def _use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


if __name__ == "__main__":  # pragma: no cover - `python -m ai_sandbox.audit.cli verify ...`
    raise SystemExit(main())
