"""Helpers shared by the audit tests: building logs and rewriting their lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ai_sandbox.audit import AuditLog
from ai_sandbox.audit.chain import canonical, record_hash

KEY = b"0123456789abcdef-test-key"


def make_log(path: Path, records: int, **options: Any) -> Path:
    """A log at ``path`` with a genesis and ``records`` records (seq 1..records)."""
    with AuditLog(path, session_id="s1", fsync="never", **options) as log:
        for n in range(1, records + 1):
            log.record("requested", call_id=f"c{n}", tool="read_file", args={"path": f"f{n}.txt"})
    return path


def lines(path: Path) -> list[bytes]:
    """The file's lines, each with its newline."""
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, content: list[bytes]) -> None:
    path.write_bytes(b"".join(content))


def rehash(line: bytes, key: bytes | None = None, **changes: Any) -> bytes:
    """``line`` with fields changed and its own hash recomputed (what a forger does)."""
    record = json.loads(line)
    record.update(changes)
    record["hash"] = record_hash(record, key)
    return canonical(record) + b"\n"


def append_records(path: str, count: int, session: str, fsync: str) -> None:
    """A writer process: ``count`` records into the shared log (run via multiprocessing)."""
    with AuditLog(path, session_id=session, fsync=fsync) as log:  # type: ignore[arg-type]
        for n in range(count):
            log.record("requested", call_id=f"{session}-{n}", tool="run_python", args={"n": n})
