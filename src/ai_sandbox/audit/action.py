"""One audited action: a ``requested`` record before it runs, one outcome record after.

Like a write-ahead log: if the ``requested`` record cannot be written, :class:`Action` raises
``AuditError`` on entry and the action never starts; a crash mid-action leaves a request with
no outcome, visible in review. Outcomes: ``completed``, ``refused`` (the policy said no),
``failed``, ``timeout``, ``limit``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from ai_sandbox.audit.writer import AuditLog
from ai_sandbox.exceptions import (
    MISTAKE_RULES,
    ExecutionError,
    ExecutionTimeout,
    ResourceLimitExceeded,
    SandboxError,
    SecurityError,
    ToolInputError,
)
from ai_sandbox.results import ErrorInfo, ExecutionResult, FileAccessRecord, ToolResult

__all__ = [
    "COMPLETED",
    "Action",
    "Outcome",
    "Verdict",
    "Via",
    "verdict_for_exception",
    "verdict_for_execution",
    "verdict_for_tool_result",
]

Outcome = Literal["completed", "refused", "failed", "timeout", "limit"]
Via = Literal["call", "direct", "session"]

_STATUS_OUTCOME: dict[str, Outcome] = {
    "ok": "completed",
    "error": "failed",
    "rejected": "refused",
    "timeout": "timeout",
    "limit": "limit",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """How an action ended, and which policy rule decided if it was refused."""

    outcome: Outcome
    rule: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    #: ``"worker"`` when the rule came from an isolated worker, unverified by the host.
    reported_by: str | None = None

    @property
    def decision(self) -> Literal["allow", "deny"]:
        return "deny" if self.outcome == "refused" else "allow"


COMPLETED = Verdict("completed")


def _from_info(outcome: Outcome, info: ErrorInfo | None) -> Verdict:
    if info is None:
        return Verdict(outcome)
    rule = info.rule if info.rule is not None or outcome != "refused" else "policy"
    return Verdict(outcome, rule, info.type, info.message, info.reported_by)


def _file_entry(access: FileAccessRecord) -> dict[str, Any]:
    """One file request as an audit record lists it."""
    entry: dict[str, Any] = {
        "op": access.op,
        "path": access.path,
        "bytes": access.size_bytes,
        "outcome": access.outcome,
    }
    if access.rule is not None:
        entry["rule"] = access.rule
    return entry


def verdict_for_execution(result: ExecutionResult) -> Verdict:
    """The verdict on a run, from its status."""
    return _from_info(_STATUS_OUTCOME.get(result.status, "failed"), result.error)


def verdict_for_tool_result(result: ToolResult) -> Verdict:
    """The verdict on a tool call that returned (a run reports its status in ``data``)."""
    if isinstance(result.data, Mapping) and result.data.get("status") in _STATUS_OUTCOME:
        return _from_info(_STATUS_OUTCOME[result.data["status"]], result.error)
    if result.ok:
        return COMPLETED
    refused = result.error is not None and result.error.rule is not None
    if refused and result.error is not None and result.error.rule in MISTAKE_RULES:
        refused = False  # a typo is not a refusal: "failed", with its rule
    return _from_info("refused" if refused else "failed", result.error)


def verdict_for_exception(exc: BaseException) -> Verdict:
    """The verdict on an action that raised ``exc``."""
    if isinstance(exc, SecurityError) and exc.rule in MISTAKE_RULES:
        return Verdict("failed", exc.rule, MISTAKE_RULES[exc.rule], str(exc))
    if isinstance(exc, SecurityError):
        return Verdict("refused", exc.rule, "SecurityError", str(exc))
    if isinstance(exc, ToolInputError):
        return Verdict("refused", "invalid_arguments", "ToolInputError", str(exc))
    if isinstance(exc, ExecutionTimeout):
        return Verdict("timeout", None, "ExecutionTimeout", str(exc))
    if isinstance(exc, ResourceLimitExceeded):
        return Verdict("limit", exc.limit, "ResourceLimitExceeded", str(exc))
    if isinstance(exc, ExecutionError):
        return Verdict("failed", None, exc.type_name, exc.message)
    message = str(exc) if isinstance(exc, SandboxError) else "internal error"
    return Verdict("failed", None, type(exc).__name__, message)


class Action:
    """Context manager around one action. With ``log=None`` it records nothing.

    Call :meth:`finish` with the verdict when the action returns; if the block raises
    instead, the exception's verdict is recorded and the exception propagates — unless the
    outcome record itself cannot be written, which raises ``AuditError`` (the host's problem
    comes first).
    """

    __slots__ = (
        "_done",
        "_log",
        "_started",
        "call_id",
        "isolation",
        "layers",
        "python_session",
        "tool",
        "via",
    )

    def __init__(
        self,
        log: AuditLog | None,
        tool: str,
        args: Any,
        *,
        via: Via,
        isolation: str,
        layers: tuple[str, ...],
        python_session: str | None = None,
    ) -> None:
        self._log = log
        #: The Python session (conversation) a run belonged to; recorded when set.
        self.python_session = python_session
        self.tool = tool
        self.via = via
        self.isolation = isolation
        self.layers = layers
        self.call_id = uuid.uuid4().hex[:16] if log is not None else ""
        self._done = log is None
        self._started = time.monotonic()
        if log is not None:
            extra = {"python_session": python_session} if python_session is not None else {}
            log.record("requested", call_id=self.call_id, tool=tool, via=via, args=args, **extra)
            self._started = time.monotonic()

    def finish(
        self,
        verdict: Verdict,
        *,
        payload: Any = None,
        isolation: str | None = None,
        layers: tuple[str, ...] | None = None,
        files: Sequence[FileAccessRecord] = (),
        files_omitted: int = 0,
        language: str | None = None,
    ) -> None:
        """Write the outcome record (once). Raises ``AuditError`` if it cannot be written.

        ``files``: the file requests a run made through the host (op, path relative to the
        root, bytes, outcome, rule), with ``files_omitted`` more beyond them. ``language`` is
        the language a run of code used ("restricted" or "python"); records of other actions
        carry none."""
        if self._done or self._log is None:
            return
        self._done = True
        error = (
            {"type": verdict.error_type, "message": verdict.error_message or ""}
            if verdict.error_type is not None
            else None
        )
        extra: dict[str, Any] = {}
        if verdict.reported_by is not None:
            extra["reported_by"] = verdict.reported_by
        if files or files_omitted:
            extra["files"] = [_file_entry(access) for access in files]
            extra["files_omitted"] = files_omitted
        if self.python_session is not None:
            extra["python_session"] = self.python_session
        self._log.record(
            verdict.outcome,
            call_id=self.call_id,
            tool=self.tool,
            via=self.via,
            decision=verdict.decision,
            rule=verdict.rule,
            duration_ms=round((time.monotonic() - self._started) * 1000, 3),
            payload=payload,
            error=error,
            isolation=isolation or self.isolation,
            layers=list(layers if layers is not None else self.layers),
            **extra,
            **({"language": language} if isinstance(language, str) else {}),
        )

    def __enter__(self) -> Action:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and not self._done:
            self.finish(verdict_for_exception(exc))
