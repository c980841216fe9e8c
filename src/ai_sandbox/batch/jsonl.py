"""The batch files: programs in (one JSON object a line), results out (one a line).

Input lines are ``{"id": ..., "code": "...", "inputs": {...}}``. A line that is not such an
object is a :class:`BadLine` with its line number, never an exception: one bad line must not
stop a run of a million. Output lines are written whole, with one ``write`` each, to a file
opened for appending; a line cut short by a crash (no final newline) is removed before a run
resumes, and every id already in the file is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.results import ExecutionResult

__all__ = [
    "BadLine",
    "BatchItem",
    "ResultWriter",
    "count_lines",
    "done_ids",
    "id_key",
    "read_items",
]

#: The longest input line read (a program with its inputs); longer lines are refused whole.
MAX_LINE_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BatchItem:
    """One program of a batch: its id (as given), source and inputs."""

    line: int
    id: str | int
    code: str
    inputs: Mapping[str, Any] | None


@dataclass(frozen=True)
class BadLine:
    """An input line that is not a program, and why."""

    line: int
    reason: str


def id_key(value: str | int) -> str:
    """The id as a set key: its JSON text, so ``1`` and ``"1"`` stay different ids."""
    return json.dumps(value, ensure_ascii=False)


def count_lines(path: Path) -> int:
    """Lines in ``path`` (for progress and ETA), counted in chunks without decoding."""
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(line_no: int, raw: bytes) -> BatchItem | BadLine:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(line_no, f"not UTF-8 (byte {exc.start})")
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        return BadLine(line_no, f"not JSON: {str(exc)[:120]}")
    if not isinstance(obj, dict):
        return BadLine(line_no, f"expected a JSON object, got {type(obj).__name__}")
    ident = obj.get("id")
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        return BadLine(line_no, '"id" must be a string or an integer')
    code = obj.get("code")
    if not isinstance(code, str):
        return BadLine(line_no, '"code" must be a string')
    inputs = obj.get("inputs")
    if inputs is not None and not isinstance(inputs, dict):
        return BadLine(line_no, '"inputs" must be an object or null')
    unknown = sorted(set(obj) - {"id", "code", "inputs"})
    if unknown:
        return BadLine(line_no, f"unknown fields: {', '.join(unknown)[:120]}")
    return BatchItem(line_no, ident, code, inputs)


def read_items(path: Path) -> Iterator[BatchItem | BadLine]:
    """Each non-blank line of ``path`` as a program or a bad line, streamed (bounded memory)."""
    with path.open("rb") as handle:
        line_no = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            line_no += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                    raw = handle.readline(_CHUNK)
                yield BadLine(line_no, f"longer than {MAX_LINE_BYTES} bytes")
                continue
            if raw.strip():
                yield _parse(line_no, raw)


def done_ids(path: Path) -> set[str]:
    """The ids (as :func:`id_key`) already in an output file; a torn last line is cut off.

    Only whole lines count: a line without its newline was being written when the run was
    killed, so the file is truncated to the last newline and that program runs again.
    """
    if not path.exists():
        return set()
    seen: set[str] = set()
    with path.open("rb+") as handle:
        good_end = 0
        offset = 0
        for raw in handle:
            offset += len(raw)
            if not raw.endswith(b"\n"):
                break
            good_end = offset
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            ident = obj.get("id") if isinstance(obj, dict) else None
            if isinstance(ident, str | int) and not isinstance(ident, bool):
                seen.add(id_key(ident))
        if good_end != offset:
            handle.truncate(good_end)
    return seen


class ResultWriter:
    """Appends result lines to the output file, one whole ``write`` per line."""

    def __init__(self, path: Path, *, fsync_every: int = 256) -> None:
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            message = f"cannot open {str(path)!r} for writing: {exc.strerror}"
            raise ConfigurationError(message) from None
        self._fsync_every = fsync_every
        self._unsynced = 0

    def write(self, ident: str | int, result: ExecutionResult) -> None:
        record = {"id": ident, **result.model_dump(mode="json")}
        data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:  # a regular file takes it in one write; loop for the rare short write
            view = view[os.write(self._fd, view) :]
        self._unsynced += 1
        if self._unsynced >= self._fsync_every:
            self.sync()

    def sync(self) -> None:
        os.fsync(self._fd)
        self._unsynced = 0

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = -1
