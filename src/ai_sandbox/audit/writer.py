"""``AuditLog``: the record pipeline, built with structlog on a private logger.

Each record passes through a chain of small processors — stamp (time, session, caller), redact,
summarise (digests instead of bulky or sensitive values), make JSON-safe — and ends in
:class:`~ai_sandbox.audit.appender.ChainAppender`, which numbers, hashes and appends it under a
file lock. The pipeline is made with ``structlog.wrap_logger`` and explicit processors, wrapper
and context classes: ``structlog.configure()`` is never called, so the host's logging is
untouched and its configuration cannot drop or reshape our records.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import uuid
import weakref
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, get_args

import structlog
from structlog.typing import EventDict

from ai_sandbox.audit.appender import ChainAppender, FsyncMode
from ai_sandbox.audit.chain import canonical, sha256_hex
from ai_sandbox.audit.redact import (
    DEFAULT_REDACT_KEYS,
    DEFAULT_REDACT_PATTERNS,
    MASK,
    Redactor,
)
from ai_sandbox.exceptions import AuditError, ConfigurationError

__all__ = ["CODE_HEAD_LINES", "RESERVED_FIELDS", "AuditLog"]

#: How many leading lines of submitted code a record keeps (after redaction).
CODE_HEAD_LINES = 5
_MAX_LINE_CHARS = 200
_MAX_TEXT_CHARS = 1000
_MAX_INLINE_BYTES = 2048

#: Fields the log sets itself; ``AuditLog.record`` refuses them from callers.
RESERVED_FIELDS = frozenset({"event", "seq", "prev_hash", "hash", "time", "session", "caller"})


class AuditLog:
    """An append-only, hash-chained JSON-lines audit log. Pass it to ``Sandbox(audit=...)``.

    ``key`` switches record hashes to HMAC-SHA-256, so rewriting the file needs the key.
    ``fsync`` is ``"batch"`` (default), ``"always"`` or ``"never"`` (see
    :mod:`ai_sandbox.audit.appender`). ``max_bytes`` rotates the file to ``PATH.1``,
    ``PATH.2``... when the next record would make it larger. ``session_id`` tags every record
    (a random id by default); ``caller_id`` is the default caller, changed per context with
    :meth:`caller`. ``redact_keys`` / ``redact_patterns`` replace the default redaction rules.

    Opening checks the file can be opened for appending (``AuditError`` if not); nothing is
    written until the first record. Safe to share between threads and processes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        key: bytes | None = None,
        fsync: FsyncMode = "batch",
        max_bytes: int | None = None,
        session_id: str | None = None,
        caller_id: str | None = None,
        redact_keys: Iterable[str] = DEFAULT_REDACT_KEYS,
        redact_patterns: Iterable[str | re.Pattern[str]] = DEFAULT_REDACT_PATTERNS,
    ) -> None:
        if fsync not in get_args(FsyncMode):
            raise ConfigurationError(f"fsync must be 'batch', 'always' or 'never', not {fsync!r}")
        if key is not None and (not isinstance(key, bytes) or len(key) < 16):
            raise ConfigurationError("the audit key must be bytes, at least 16 of them")
        if max_bytes is not None and max_bytes < 1024:
            raise ConfigurationError("max_bytes must be at least 1024")
        self.path = Path(path)
        self.session_id = session_id or uuid.uuid4().hex[:16]
        self.redactor = Redactor(redact_keys, redact_patterns)
        self._default_caller = caller_id
        self._caller: ContextVar[str | None] = ContextVar(f"audit_caller_{id(self)}", default=None)
        self._appender = ChainAppender(
            self.path,
            key=key,
            fsync=fsync,
            max_bytes=max_bytes,
            genesis_fields=self._chain_envelope,
        )
        self._finalizer = weakref.finalize(self, self._appender.handle.close)
        self._logger = structlog.wrap_logger(
            self._appender,
            processors=[self._stamp, self._redact, _summarise, _jsonable_event],
            wrapper_class=structlog.BoundLogger,
            context_class=dict,
            cache_logger_on_first_use=True,
        ).bind()

    # -- writing -----------------------------------------------------------------------------
    def record(self, event: str, **fields: Any) -> int:
        """Append one record (redacted, summarised, chained); returns its ``seq``.

        Raises ``AuditError`` if it could not be written — callers must not act then.
        """
        clash = RESERVED_FIELDS.intersection(fields)
        if clash:
            raise ConfigurationError(f"audit fields set by the log itself: {sorted(clash)}")
        try:
            seq: int = self._logger.msg(event, **fields)
        except (AuditError, ConfigurationError):
            raise
        except Exception as exc:  # any failure in the pipeline means: not recorded
            raise AuditError(f"could not build the audit record: {type(exc).__name__}") from exc
        return seq

    @property
    def caller_id(self) -> str | None:
        """The caller id records written now carry."""
        return self._caller.get() or self._default_caller

    @contextlib.contextmanager
    def caller(self, caller_id: str) -> Iterator[None]:
        """Tag records written inside this block (this thread or task) with ``caller_id``."""
        token = self._caller.set(str(caller_id))
        try:
            yield
        finally:
            self._caller.reset(token)

    def head(self) -> tuple[int, str] | None:
        """The current head ``(seq, hash)`` of the file, or ``None`` while it is empty."""
        try:
            return self._appender.head()
        except OSError as exc:
            raise AuditError(f"cannot read the audit log {self.path}: {exc}") from exc

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Sync outstanding records and close the file. Idempotent."""
        self._appender.close()
        self._finalizer.detach()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r}, session_id={self.session_id!r})"

    # -- processors --------------------------------------------------------------------------
    def _chain_envelope(self) -> dict[str, Any]:
        """What records the log writes on its own (genesis, recovered) carry."""
        return {"time": _now(), "session": self.session_id}

    def _envelope(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"time": _now(), "session": self.session_id}
        caller = self.caller_id
        if caller is not None:
            fields["caller"] = caller
        return fields

    def _stamp(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.update(self._envelope())
        return event_dict

    def _redact(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        redactor = self.redactor
        return {
            k: (
                v
                if k in RESERVED_FIELDS
                else MASK if redactor.key_is_secret(k) else redactor.value(v)
            )
            for k, v in event_dict.items()
        }


#: Longest error type name kept (the code may define an exception class with any name).
_MAX_TYPE_CHARS = 200


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _summarise(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Replace code, file content and results by digests; bound every other value."""
    args = event_dict.get("args")
    if args is not None:
        event_dict["args"] = _summarise_args(args)
    if "payload" in event_dict:
        event_dict["result"] = _digest(event_dict.pop("payload"))
    error = event_dict.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        error["message"] = _bound_text(error["message"], _MAX_TEXT_CHARS)
    if isinstance(error, dict) and isinstance(error.get("type"), str):
        error["type"] = _bound_text(error["type"], _MAX_TYPE_CHARS)  # the code names its classes
    return event_dict


def _summarise_args(args: Any) -> Any:
    if isinstance(args, str):
        # Arguments that did not parse: the text may hold a file's content, which a parsed
        # call would have recorded as a digest only. Keep the same promise here.
        return {"raw": _digest(args)}
    if not isinstance(args, dict):
        return {"raw": _bound(args)}
    out: dict[str, Any] = {}
    for name, value in args.items():
        if name == "code" and isinstance(value, str):
            out[name] = _code_summary(value)
        elif name == "content" and isinstance(value, str):
            out[name] = _digest(value)
        else:
            out[name] = _bound(value)
    return out


def _code_summary(code: str) -> dict[str, Any]:
    lines = code.splitlines()
    head = [_bound_text(line, _MAX_LINE_CHARS) for line in lines[:CODE_HEAD_LINES]]
    data = code.encode("utf-8", "replace")
    return {
        "bytes": len(data),
        "sha256": sha256_hex(data),
        "lines": len(lines),
        "head": "\n".join(head),
    }


def _digest(value: Any) -> dict[str, Any] | None:
    """Size and SHA-256 of ``value`` (text as UTF-8, anything else as canonical JSON)."""
    if value is None:
        return None
    data = value.encode("utf-8", "replace") if isinstance(value, str) else canonical(_json(value))
    return {"bytes": len(data), "sha256": sha256_hex(data)}


def _bound(value: Any) -> Any:
    """``value`` itself when small; long text cut; large structures replaced by a digest."""
    if isinstance(value, str):
        return _bound_text(value, _MAX_TEXT_CHARS)
    safe = _json(value)
    if isinstance(safe, dict | list) and len(canonical(safe)) > _MAX_INLINE_BYTES:
        data = canonical(safe)
        return {"bytes": len(data), "sha256": sha256_hex(data), "truncated": True}
    return safe


def _bound_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [+{len(text) - limit} chars]"


def _json(value: Any) -> Any:
    """A JSON-safe copy: str keys, finite floats, unknown objects as their type name."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return f"<{type(value).__name__}>"


def _jsonable_event(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """The last processor: a JSON-safe dict, handed to the appender as keyword arguments."""
    return {str(k): _json(v) for k, v in event_dict.items()}
