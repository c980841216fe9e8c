"""The one exception hierarchy of ai-sandbox.

Every error the library raises on purpose is a :class:`SandboxError`. They are split by who is
at fault, because each audience acts on a different kind of error::

    SandboxError
    ├── SecurityError              the policy forbids it (path, import, syntax, attribute)
    ├── ExecutionError             the AI's code raised an exception (type, message, line)
    ├── ExecutionTimeout           the code ran past ``policy.timeout_s`` and was killed
    ├── ResourceLimitExceeded      memory, output, result or file-size limit hit
    ├── ToolInputError             a tool call's arguments do not fit the tool's schema
    ├── ConfigurationError         the developer's mistake: a bad policy, root or argument
    │   ├── IsolationUnavailable   a layer the policy requires is missing on this machine
    │   └── InvalidInputs          the host's own ``inputs`` are not JSON data (also a TypeError)
    ├── WorkerError                infrastructure: the isolated worker died or spoke nonsense
    └── AuditError                 the audit record could not be written; the action did not run

The first five are the *model's* errors: :meth:`ai_sandbox.Sandbox.call` turns them into a
:class:`~ai_sandbox.ToolResult` the model can read and act on. The rest are raised to the host.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "MISTAKE_RULES",
    "AuditError",
    "ConfigurationError",
    "ExecutionError",
    "ExecutionTimeout",
    "InvalidInputs",
    "IsolationUnavailable",
    "ModelReplyError",
    "ResourceLimitExceeded",
    "SandboxError",
    "SecurityError",
    "ToolInputError",
    "WorkerError",
]


#: Path-layer rules that are ordinary mistakes (a typo, a directory given for a file), not
#: refusals: the model hears them under the Python error it would get from ``open()``, and the
#: audit records them as ``failed`` (the action was allowed) with the rule, never as ``refused``.
MISTAKE_RULES: Final = MappingProxyType(
    {
        "not_found": "FileNotFoundError",
        "is_directory": "IsADirectoryError",
        "not_a_directory": "NotADirectoryError",
    }
)


class SandboxError(Exception):
    """Root of every error ai-sandbox raises on purpose."""

    #: A short machine-readable name used in results and audit records.
    kind: str = "sandbox_error"


class SecurityError(SandboxError):
    """The policy forbids what was asked.

    ``reason`` says why in words a model can act on; ``path`` is the offending path (if any);
    ``rule`` names the policy rule that decided (e.g. ``"outside_root"``, ``"import"``).
    """

    kind = "security"

    def __init__(self, reason: str, *, path: str | None = None, rule: str = "policy") -> None:
        self.reason = reason
        self.path = path
        self.rule = rule
        super().__init__(f"{reason}: {path!r}" if path is not None else reason)


class ExecutionError(SandboxError):
    """The AI's code raised an exception; never carries a traceback of our internals."""

    kind = "execution"

    def __init__(self, type_name: str, message: str, line: int | None = None) -> None:
        self.type_name = type_name
        self.message = message
        self.line = line
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{type_name}: {message}{where}")


class ExecutionTimeout(SandboxError):
    """The code ran longer than the policy allows and was stopped."""

    kind = "timeout"

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"execution exceeded the time limit of {timeout_s:g} s and was stopped")


class ResourceLimitExceeded(SandboxError):
    """A resource limit (``memory``, ``output``, ``result``, ``file_size``...) was hit."""

    kind = "limit"

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        super().__init__(message)


class ToolInputError(SandboxError):
    """A tool call named an unknown tool or its arguments did not validate."""

    kind = "invalid_arguments"


class ConfigurationError(SandboxError):
    """The developer configured something that cannot work (bad root, bad policy value)."""

    kind = "configuration"


class IsolationUnavailable(ConfigurationError):
    """A layer the policy requires is not available on this machine.

    ``layer`` names it; the message says how to choose a weaker isolation level explicitly.
    """

    kind = "isolation_unavailable"

    def __init__(self, layer: str, detail: str) -> None:
        self.layer = layer
        super().__init__(
            f"isolation layer {layer!r} is unavailable: {detail}. "
            "Refusing to run (fail closed). To accept weaker isolation, pass "
            'SandboxPolicy(isolation="process") or, for trusted code only, isolation="none".'
        )


class WorkerError(SandboxError):
    """The isolated worker crashed, was killed, or sent a malformed reply."""

    kind = "worker"


class ModelReplyError(SandboxError):
    """A model's reply (or its API server's) could not be read: no choices, a tool call that is
    not an object or has no id. The agent loop stops instead of guessing."""

    kind = "model_reply"


class AuditError(SandboxError):
    """An audit record could not be written, so the action was not performed."""

    kind = "audit"


class InvalidInputs(ConfigurationError, TypeError):
    """The host passed ``inputs`` to ``Sandbox.run`` / ``Session.run`` that cannot cross into
    the sandbox (not a mapping, a name that is not an identifier, bytes, sets, arbitrary
    objects, NaN): the developer's mistake, raised at once rather than returned as the AI's
    ``rejected`` run. Inputs a model sends through ``Sandbox.call`` are still its mistake and
    come back as a result."""

    kind = "configuration"
