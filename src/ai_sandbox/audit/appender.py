"""The end of the pipeline: append chained records to the log file, safely across processes.

Every append takes ``fcntl.flock`` on the log file (plus a thread lock, since flock is per open
file description), checks the path still names the file it holds open (it may have been rotated
by another process), re-reads the tail record to learn the last ``seq`` and ``hash``, and only
then numbers, hashes and writes the new record in a single ``write``. So any number of
processes appending to one log produce one unbroken chain.

A torn last line (a writer killed mid-``write``) is sealed by the next writer: it terminates the
fragment and writes a ``recovered`` record naming its size and digest, which ``verify`` accepts.

``fsync`` modes: ``"always"`` syncs every record before the action runs; ``"batch"`` syncs after
every :data:`BATCH_RECORDS` records or :data:`BATCH_SECONDS` seconds (checked at each append),
at rotation and at close; ``"never"`` leaves it to the OS. In every mode a record is in the
kernel before the action runs, so killing the process loses nothing; fsync only decides what a
power loss or kernel crash can lose.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ai_sandbox.audit.chain import (
    FORMAT_VERSION,
    ZERO_HASH,
    canonical,
    key_id,
    mac_name,
    record_hash,
    rotated_numbers,
    rotated_path,
    sha256_hex,
)
from ai_sandbox.exceptions import AuditError

__all__ = ["BATCH_RECORDS", "BATCH_SECONDS", "ChainAppender", "FsyncMode"]

FsyncMode = Literal["batch", "always", "never"]

#: In ``fsync="batch"`` mode, sync after this many records written by one ``AuditLog``...
BATCH_RECORDS = 64
#: ... or when this many seconds have passed since the last sync.
BATCH_SECONDS = 1.0

_CHUNK = 64 * 1024
_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class _Tail:
    """What the appender needs to know about the end of the file it holds."""

    ino: int
    size: int
    seq: int
    hash: str
    event: str


class _Handle:
    """The open file descriptor; closed by ``AuditLog.close`` or its finalizer."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


class ChainAppender:
    """The private "logger" structlog hands each processed record to."""

    def __init__(
        self,
        path: Path,
        *,
        key: bytes | None,
        fsync: FsyncMode,
        max_bytes: int | None,
        genesis_fields: Callable[[], dict[str, Any]],
    ) -> None:
        self.path = path
        self._key = key
        self._fsync = fsync
        self._max_bytes = max_bytes
        self._genesis_fields = genesis_fields
        self._lock = threading.Lock()
        self._tail: _Tail | None = None
        self._unsynced = 0
        self._last_sync = time.monotonic()
        self.handle = _Handle(self._open())

    # -- the structlog logger interface ------------------------------------------------------
    def msg(self, **record: Any) -> int:
        """Number, chain and append ``record``; returns its ``seq``. Raises ``AuditError``."""
        with self._lock:
            if self.handle.fd < 0:
                raise AuditError("the audit log is closed")
            try:
                return self._append_locked(record)
            except AuditError:
                raise
            except (OSError, ValueError, TypeError) as exc:
                raise AuditError(f"could not write the audit record to {self.path}: {exc}") from exc

    def head(self) -> tuple[int, str] | None:
        """The ``(seq, hash)`` of the last record in the file, or ``None`` if it is empty."""
        with self._lock:
            fd = self._lock_current()
            try:
                tail = self._read_tail(fd)
                return None if tail is None else (tail.seq, tail.hash)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Sync pending records (unless ``fsync="never"``) and close the file. Idempotent."""
        with self._lock:
            if self.handle.fd >= 0 and self._fsync != "never" and self._unsynced:
                with contextlib.suppress(OSError):
                    os.fdatasync(self.handle.fd)
            self.handle.close()

    # -- internals ---------------------------------------------------------------------------
    def _open(self) -> int:
        try:
            return os.open(self.path, _OPEN_FLAGS, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror}") from exc

    def _lock_current(self) -> int:
        """flock the file the path names now, reopening it if it was rotated away."""
        while True:
            fd = self.handle.fd
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fd)
            if current is not None and (current.st_ino, current.st_dev) == (
                mine.st_ino,
                mine.st_dev,
            ):
                return fd
            fcntl.flock(fd, fcntl.LOCK_UN)
            self.handle.close()
            self.handle.fd = self._open()

    def _append_locked(self, record: dict[str, Any]) -> int:
        while True:
            fd = self._lock_current()
            try:
                tail = self._read_tail(fd)
                out = b""
                if tail is None:
                    genesis = self._genesis(self._tail, prev_file=None, stamp=record.get("time"))
                    out = _line(genesis)
                    tail = _Tail(
                        os.fstat(fd).st_ino, len(out), genesis["seq"], genesis["hash"], "genesis"
                    )
                chained = self._chained(record, tail)
                line = _line(chained)
                if (
                    self._max_bytes is not None
                    and tail.event != "genesis"
                    and tail.size + len(line) > self._max_bytes
                ):
                    self._rotate(fd, tail)
                    continue  # retry on the new file
                before = _size(fd)
                out += line
                self._write(fd, out, before)
                self._tail = _Tail(
                    tail.ino, before + len(out), chained["seq"], chained["hash"], chained["event"]
                )
                self._after_write(fd, out.count(b"\n"))
                return int(chained["seq"])
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _chained(self, record: dict[str, Any], tail: _Tail) -> dict[str, Any]:
        body = {k: v for k, v in record.items() if k not in ("seq", "prev_hash", "hash")}
        body["seq"] = tail.seq + 1
        body["prev_hash"] = tail.hash
        body["hash"] = record_hash(body, self._key)
        return body

    def _genesis(
        self, continues: _Tail | None, *, prev_file: str | None, stamp: Any = None
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            **self._genesis_fields(),
            **({"time": stamp} if stamp else {}),
            "event": "genesis",
            "v": FORMAT_VERSION,
            "mac": mac_name(self._key),
            "key_id": key_id(self._key),
            "prev_file": prev_file,
            "seq": 0 if continues is None else continues.seq + 1,
            "prev_hash": ZERO_HASH if continues is None else continues.hash,
        }
        record["hash"] = record_hash(record, self._key)
        return record

    def _read_tail(self, fd: int) -> _Tail | None:
        st = os.fstat(fd)
        cached = self._tail
        if cached is not None and (cached.ino, cached.size) == (st.st_ino, st.st_size):
            return cached
        if st.st_size == 0:
            return None
        last, fragment = _last_line(fd, st.st_size)
        tail = _parse_tail(last, st.st_ino, st.st_size)
        if fragment:
            tail = self._seal_torn(fd, tail, fragment, st.st_size)
        self._tail = tail
        return tail

    def _seal_torn(self, fd: int, tail: _Tail | None, fragment: bytes, size: int) -> _Tail:
        """Terminate a torn last line and chain a ``recovered`` record after it."""
        done = _complete_record(fragment, self._key)
        if done is not None:  # everything but the newline made it to disk
            self._write(fd, b"\n", size)
            return _Tail(os.fstat(fd).st_ino, size + 1, done["seq"], done["hash"], done["event"])
        if tail is None:
            raise AuditError(f"the audit log {self.path} holds no complete record; cannot chain")
        fields = self._genesis_fields()
        recovery = self._chained(
            {
                "time": fields["time"],
                "session": fields["session"],
                "event": "recovered",
                "torn_bytes": len(fragment),
                "torn_sha256": sha256_hex(fragment),
            },
            tail,
        )
        data = b"\n" + _line(recovery)
        self._write(fd, data, size)
        return _Tail(tail.ino, size + len(data), recovery["seq"], recovery["hash"], "recovered")

    def _rotate(self, fd: int, tail: _Tail) -> None:
        """Move the full file to ``PATH.N``; atomically put a new file (genesis only) in place."""
        numbers = rotated_numbers(self.path)
        target = rotated_path(self.path, (numbers[-1] if numbers else 0) + 1)
        genesis = self._genesis(tail, prev_file=target.name)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.rotating")
        new_fd = os.open(tmp, _OPEN_FLAGS | os.O_TRUNC, 0o600)
        try:
            self._write(new_fd, _line(genesis), 0)
            if self._fsync != "never":
                os.fdatasync(new_fd)
                os.fdatasync(fd)
            os.link(self.path, target)
            os.rename(tmp, self.path)
            if self._fsync != "never":
                _sync_dir(self.path.parent)
        finally:
            os.close(new_fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._unsynced = 0

    def _write(self, fd: int, data: bytes, size_before: int) -> None:
        """Write all of ``data`` or, on failure, cut the file back and raise ``AuditError``."""
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size_before)
            raise AuditError(
                f"could not write the audit record to {self.path}: {exc.strerror}"
            ) from exc

    def _after_write(self, fd: int, records: int) -> None:
        if self._fsync == "never":
            return
        self._unsynced += records
        now = time.monotonic()
        if (
            self._fsync == "always"
            or self._unsynced >= BATCH_RECORDS
            or now - self._last_sync >= BATCH_SECONDS
        ):
            try:
                os.fdatasync(fd)
            except OSError as exc:
                raise AuditError(f"could not sync the audit log {self.path}: {exc}") from exc
            self._unsynced = 0
            self._last_sync = now


def _line(record: dict[str, Any]) -> bytes:
    return canonical(record) + b"\n"


def _size(fd: int) -> int:
    return os.fstat(fd).st_size


def _sync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _last_line(fd: int, size: int) -> tuple[bytes | None, bytes]:
    """The last complete (newline-terminated) line and any unterminated fragment after it."""
    end, buf = size, b""
    while True:
        start = max(0, end - _CHUNK)
        buf = os.pread(fd, end - start, start) + buf
        end = start
        if start == 0 or buf.count(b"\n", 0, len(buf) - 1) >= 2:
            break
    if buf.endswith(b"\n"):
        return buf[buf.rfind(b"\n", 0, len(buf) - 1) + 1 :], b""
    cut = buf.rfind(b"\n")
    fragment = buf[cut + 1 :]
    if cut < 0:
        return None, fragment
    before = buf[:cut]
    return before[before.rfind(b"\n") + 1 :] + b"\n", fragment


def _parse_tail(line: bytes | None, ino: int, size: int) -> _Tail | None:
    if line is None:
        return None
    try:
        record = json.loads(line)
        return _Tail(ino, size, int(record["seq"]), str(record["hash"]), str(record["event"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(
            "the last record of the audit log is unreadable, so the chain cannot continue; "
            "run `ai-sandbox audit verify` on it"
        ) from exc


def _complete_record(fragment: bytes, key: bytes | None) -> dict[str, Any] | None:
    """``fragment`` as a record if it is one whole, correctly hashed record."""
    try:
        record = json.loads(fragment)
    except ValueError:
        return None
    if not isinstance(record, dict) or canonical(record) != fragment:
        return None
    if record.get("hash") != record_hash(record, key):
        return None
    return record
