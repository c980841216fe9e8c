"""The host side of a worker's file access.

A worker never opens a file beneath the root itself: the AI code's ``open()`` becomes a
``read``/``write`` request on the channel, and the :class:`Broker` answers it with the host's
:class:`~ai_sandbox.security.SafeFS`, so the path policy, ``openat2`` resolution, size caps
and atomic writes live in exactly one place. A request is untrusted data: anything malformed
gets an error reply, never an exception in the host.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ai_sandbox.exceptions import ResourceLimitExceeded, SandboxError, SecurityError
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import FileAccess

__all__ = ["Broker"]

#: OS errors reported to the AI under their own name (everything else becomes ``OSError``).
_NAMED_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


class Broker:
    """Answers one worker request with data or an ``{type, message, rule}`` error."""

    def __init__(self, fs: FileAccess, policy: SandboxPolicy) -> None:
        self._fs = fs
        self._policy = policy

    @property
    def policy(self) -> SandboxPolicy:
        """The policy the broker applies (the host checks a worker's result against it too)."""
        return self._policy

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply to ``request`` (a ``read`` or ``write`` message from a worker).

        Never raises: whatever the worker sends, the host answers with a reply.
        """
        try:
            return self._handle(request)
        except Exception as exc:  # a bug of ours must not let a worker crash the host
            return _refusal(
                "OSError", f"the file operation failed in the host ({type(exc).__name__})", None
            )

    def _handle(self, request: object) -> dict[str, Any]:
        if not isinstance(request, dict):
            return _refusal("SecurityError", "unknown file operation", "protocol")
        kind = request.get("type")
        path = request.get("path")
        if kind not in ("read", "write"):
            return _refusal("SecurityError", "unknown file operation", "protocol")
        if not isinstance(path, str) or len(path) > 4 * self._policy.max_path_length:
            return _refusal("SecurityError", "the path must be a string of sane length", "path")
        try:
            if kind == "read":
                data = self._fs.read_bytes(path)
                return {"type": "reply", "ok": True, "data_b64": base64.b64encode(data).decode()}
            return {"type": "reply", "ok": True, "written": self._write(path, request)}
        except SecurityError as exc:
            return _refusal("SecurityError", str(exc), exc.rule)
        except ResourceLimitExceeded as exc:
            return _refusal("ResourceLimitExceeded", str(exc), exc.limit)
        except _NAMED_OS_ERRORS as exc:
            return _refusal(type(exc).__name__, _os_message(exc, path), None)
        except OSError as exc:
            return _refusal("OSError", _os_message(exc, path), None)
        except SandboxError as exc:
            return _refusal(type(exc).__name__, str(exc), None)

    def _write(self, path: str, request: dict[str, Any]) -> int:
        encoded = request.get("data_b64")
        if not isinstance(encoded, str):
            raise SecurityError("a write request must carry base64 data", rule="protocol")
        if len(encoded) > 4 * ((self._policy.max_file_bytes + 2) // 3):
            raise ResourceLimitExceeded(
                "file_size", f"file larger than the limit of {self._policy.max_file_bytes} bytes"
            )
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SecurityError("a write request must carry base64 data", rule="protocol") from None
        return self._fs.write_bytes(path, data)


def _refusal(kind: str, message: str, rule: str | None) -> dict[str, Any]:
    return {"type": "reply", "ok": False, "error": {"type": kind, "message": message, "rule": rule}}


def _os_message(exc: OSError, path: str) -> str:
    """The OS error in words, naming the path as the AI gave it (never a host path)."""
    return f"{exc.strerror or 'file operation failed'}: {path!r}"
