"""The host side of a worker's file access.

A worker never opens a file beneath the root itself: the AI code's ``open()`` becomes a
``read``/``write`` request on the channel, and the :class:`Broker` answers it with the host's
:class:`~ai_sandbox.security.SafeFS`, so the path policy, ``openat2`` resolution, size caps
and atomic writes live in exactly one place. A request is untrusted data: anything malformed
gets an error reply, never an exception in the host. Every answer comes with a
:class:`~ai_sandbox.results.FileAccessRecord` for the audit trail.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any, NamedTuple

from ai_sandbox.exceptions import ResourceLimitExceeded, SandboxError, SecurityError
from ai_sandbox.executor.context import BENIGN_FS_RULES
from ai_sandbox.executor.inputs import replace_lone_surrogates
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import FileAccessRecord
from ai_sandbox.security import FileAccess

__all__ = ["Broker", "Served"]

#: OS errors reported to the AI under their own name (everything else becomes ``OSError``).
_NAMED_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)

#: Longest path an access record keeps (the code chooses it).
_MAX_RECORDED_PATH = 200


class Served(NamedTuple):
    """The broker's answer to one request: the reply (for a successful read, without its
    data, which is ``data``: the channel sends it as base64 piece by piece), and the record."""

    reply: dict[str, Any]
    data: bytes | None
    access: FileAccessRecord


class Broker:
    """Answers one worker request with data or an ``{type, message, rule}`` error."""

    def __init__(self, fs: FileAccess, policy: SandboxPolicy) -> None:
        self._fs = fs
        self._policy = policy
        root = getattr(fs, "root", None)
        self._root = os.fspath(root) if root is not None else None

    @property
    def policy(self) -> SandboxPolicy:
        """The policy the broker applies (the host checks a worker's result against it too)."""
        return self._policy

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """The complete reply to ``request`` (a ``read`` or ``write`` message from a worker,
        written data as ``data_b64``). Never raises."""
        served = self.serve(request)
        if served.data is None:
            return served.reply
        return {**served.reply, "data_b64": base64.b64encode(served.data).decode("ascii")}

    def serve(self, request: object) -> Served:
        """Answer a decoded ``read`` request, or a write whose data the channel decoded
        (``{"type": "write", "path": str, "data": bytes}``). Never raises: whatever the worker
        sends, the host answers with a reply."""
        op = "write" if isinstance(request, dict) and request.get("type") == "write" else "read"
        path = request.get("path") if isinstance(request, dict) else None
        try:
            return self._serve(request, op)
        except Exception as exc:  # a bug of ours must not let a worker crash the host
            message = f"the file operation failed in the host ({type(exc).__name__})"
            return self._refusal(op, path, 0, "OSError", message, None)

    def _serve(self, request: object, op: str) -> Served:
        if not isinstance(request, dict) or request.get("type") not in ("read", "write"):
            return self._refusal(op, None, 0, "SecurityError", "unknown file operation", "protocol")
        path = request.get("path")
        if not isinstance(path, str):
            message = "the path must be a string"
            return self._refusal(op, path, 0, "SecurityError", message, "protocol")
        if len(path) > 4 * self._policy.max_path_length:
            message = "the path must be a string of sane length"
            return self._refusal(op, path, 0, "SecurityError", message, "path_too_long")
        size = 0
        try:
            if op == "read":
                data = self._fs.read_bytes(path)
                access = self._record(op, path, len(data), "ok", None)
                return Served({"type": "reply", "ok": True}, data, access)
            payload = self._payload(request)
            size = len(payload)
            written = self._fs.write_bytes(path, payload)
            access = self._record(op, path, written, "ok", None)
            return Served({"type": "reply", "ok": True, "written": written}, None, access)
        except SecurityError as exc:
            return self._refusal(op, path, size, "SecurityError", str(exc), exc.rule)
        except ResourceLimitExceeded as exc:
            return self._refusal(op, path, size, "ResourceLimitExceeded", str(exc), exc.limit)
        except _NAMED_OS_ERRORS as exc:
            return self._refusal(op, path, size, type(exc).__name__, _os_message(exc, path), None)
        except OSError as exc:
            return self._refusal(op, path, size, "OSError", _os_message(exc, path), None)
        except SandboxError as exc:
            return self._refusal(op, path, size, type(exc).__name__, str(exc), None)

    def _payload(self, request: dict[str, Any]) -> bytes:
        """A write's data: already decoded by the channel, or base64 text (see :meth:`handle`)."""
        data = request.get("data")
        if isinstance(data, bytes | bytearray):
            return bytes(data)  # the same object when it is bytes already
        encoded = request.get("data_b64")
        if not isinstance(encoded, str):
            raise SecurityError("a write request must carry base64 data", rule="protocol")
        if len(encoded) > 4 * ((self._policy.max_file_bytes + 2) // 3):
            raise ResourceLimitExceeded(
                "file_size", f"file larger than the limit of {self._policy.max_file_bytes} bytes"
            )
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SecurityError("a write request must carry base64 data", rule="protocol") from None

    def _refusal(
        self, op: str, path: object, size: int, kind: str, message: str, rule: str | None
    ) -> Served:
        error = {"type": kind, "message": message, "rule": rule}
        refused = kind == "ResourceLimitExceeded" or (
            kind == "SecurityError" and rule not in BENIGN_FS_RULES
        )
        access = self._record(op, path, size, "refused" if refused else "failed", rule)
        return Served({"type": "reply", "ok": False, "error": error}, None, access)

    def _record(
        self, op: str, path: object, size: int, outcome: str, rule: str | None
    ) -> FileAccessRecord:
        return FileAccessRecord.model_validate(
            {
                "op": op,
                "path": self._shown(path),
                "size_bytes": size,
                "outcome": outcome,
                "rule": rule,
            }
        )

    def _shown(self, path: object) -> str:
        """``path`` for the record: relative to the root when it names the root (lexically:
        no second resolution on the host), cut to a bounded length."""
        if not isinstance(path, str):
            return f"<{type(path).__name__}>"
        shown = path
        if self._root is not None and path.startswith(self._root + "/"):
            shown = path[len(self._root) + 1 :] or "."
        if len(shown) > _MAX_RECORDED_PATH:
            shown = shown[:_MAX_RECORDED_PATH] + "...(truncated)"
        return replace_lone_surrogates(shown)


def _os_message(exc: OSError, path: str) -> str:
    """The OS error in words, naming the path as the AI gave it (never a host path)."""
    return f"{exc.strerror or 'file operation failed'}: {path!r}"
