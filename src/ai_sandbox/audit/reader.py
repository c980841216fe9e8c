"""Reading a log back: its lines, and the records in them.

A path names a whole log: the file and its rotated predecessors (``PATH.1``, ``PATH.2``...), in
chain order. A list of paths is read exactly as given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_sandbox.audit.chain import log_series, sha256_hex
from ai_sandbox.exceptions import AuditError

__all__ = ["Line", "PathArg", "files_of", "read_lines", "read_records", "seals"]

PathArg = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a log file (without its newline) and where it is."""

    file: Path
    number: int
    data: bytes
    first_in_file: bool
    #: True for an unterminated last fragment (a write that did not finish).
    torn: bool = False

    def parse(self) -> dict[str, Any] | None:
        """The line as a JSON object, or ``None`` if it is not one."""
        try:
            value = json.loads(self.data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.number}"


def files_of(paths: PathArg) -> list[Path]:
    """The files a path argument names: a single path means its whole rotated series."""
    if isinstance(paths, str | os.PathLike):
        return log_series(paths)
    return [Path(p) for p in paths]


def read_lines(paths: PathArg) -> Iterator[Line]:
    """Every line of the log's files in order, torn fragments marked. Raises ``AuditError``."""
    for path in files_of(paths):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AuditError(f"cannot read the audit log {path}: {exc.strerror}") from exc
        parts = data.split(b"\n")
        fragment = parts.pop()  # b"" when the file ends with a newline
        for number, part in enumerate(parts, start=1):
            yield Line(path, number, part, first_in_file=number == 1)
        if fragment:
            yield Line(path, len(parts) + 1, fragment, not parts, torn=True)


def read_records(paths: PathArg) -> Iterator[dict[str, Any]]:
    """The records of a log, oldest first (a single path includes its rotated files).

    A torn last line and torn lines sealed by a ``recovered`` record are skipped; any other
    line that is not a record raises ``AuditError`` (run :func:`~ai_sandbox.audit.verify`).
    """
    pending: Line | None = None
    for line in read_lines(paths):
        record = line.parse()
        if pending is not None:
            if not seals(record, pending):
                raise AuditError(f"{pending.where}: not an audit record (run `audit verify`)")
            pending = None
        if record is None:
            pending = line
            continue
        yield record
    if pending is not None and not pending.torn:
        raise AuditError(f"{pending.where}: not an audit record (run `audit verify`)")


def seals(record: dict[str, Any] | None, torn: Line) -> bool:
    """Whether ``record`` is the ``recovered`` record the next writer wrote for ``torn``."""
    return (
        record is not None
        and record.get("event") == "recovered"
        and record.get("torn_bytes") == len(torn.data)
        and record.get("torn_sha256") == sha256_hex(torn.data)
    )
