"""ai-sandbox: run AI-generated code and file tools without letting them hurt the machine.

RestrictedPython is the guard rail that gives early, clear errors; the security boundary is a
locked-down, single-use worker process (see ``ai_sandbox.isolation``).
"""

from __future__ import annotations

from ai_sandbox.audit import AuditLog
from ai_sandbox.exceptions import (
    AuditError,
    ConfigurationError,
    ExecutionError,
    ExecutionTimeout,
    IsolationUnavailable,
    ModelReplyError,
    ResourceLimitExceeded,
    SandboxError,
    SecurityError,
    ToolInputError,
    WorkerError,
)
from ai_sandbox.executor import execute_ai_code
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import DirEntry, ErrorInfo, ExecutionResult, ToolResult
from ai_sandbox.sandbox import Sandbox
from ai_sandbox.security import safe_open, safe_path_access
from ai_sandbox.session import Session
from ai_sandbox.tools import TOOL_SPECS, ListDirectory, ReadFile, RunPython, ToolSpec, WriteFile

__all__ = [
    "TOOL_SPECS",
    "AuditError",
    "AuditLog",
    "ConfigurationError",
    "DirEntry",
    "ErrorInfo",
    "ExecutionError",
    "ExecutionResult",
    "ExecutionTimeout",
    "IsolationUnavailable",
    "ListDirectory",
    "ModelReplyError",
    "ReadFile",
    "ResourceLimitExceeded",
    "RunPython",
    "Sandbox",
    "SandboxError",
    "SandboxPolicy",
    "SecurityError",
    "Session",
    "ToolInputError",
    "ToolResult",
    "ToolSpec",
    "WorkerError",
    "WriteFile",
    "execute_ai_code",
    "safe_open",
    "safe_path_access",
]

__version__ = "0.1.0"
