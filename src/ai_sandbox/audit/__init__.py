"""The audit trail: every agent action on an append-only, tamper-evident log.

Write with :class:`AuditLog` (pass it to ``Sandbox(audit=...)``); review with
:func:`read_records` and :func:`verify`, or the ``ai-sandbox audit`` command.
"""

from __future__ import annotations

from ai_sandbox.audit.appender import FsyncMode
from ai_sandbox.audit.chain import log_series
from ai_sandbox.audit.reader import read_records
from ai_sandbox.audit.redact import DEFAULT_REDACT_KEYS, DEFAULT_REDACT_PATTERNS, Redactor
from ai_sandbox.audit.verify import VerifyReport, verify
from ai_sandbox.audit.writer import AuditLog

__all__ = [
    "DEFAULT_REDACT_KEYS",
    "DEFAULT_REDACT_PATTERNS",
    "AuditLog",
    "FsyncMode",
    "Redactor",
    "VerifyReport",
    "log_series",
    "read_records",
    "verify",
]
