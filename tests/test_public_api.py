"""The public API: what `import ai_sandbox` exports, and what it must never import."""

from __future__ import annotations

import json
import subprocess
import sys

import ai_sandbox

EXPECTED = [
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


def _isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def test_all_is_pinned() -> None:
    """It exports exactly the documented names."""
    assert ai_sandbox.__all__ == EXPECTED


def test_all_is_sorted() -> None:
    """It keeps __all__ sorted (constants, classes, functions), so additions are reviewable."""
    assert ai_sandbox.__all__ == sorted(ai_sandbox.__all__, key=_isort_key)


def test_every_exported_name_exists() -> None:
    """It defines every name it exports."""
    for name in ai_sandbox.__all__:
        assert getattr(ai_sandbox, name) is not None


def test_errors_share_one_root() -> None:
    """It roots every exported exception at SandboxError."""
    errors = [getattr(ai_sandbox, n) for n in ai_sandbox.__all__ if n.endswith("Error")]
    errors += [ai_sandbox.ExecutionTimeout, ai_sandbox.ResourceLimitExceeded]
    errors += [ai_sandbox.IsolationUnavailable]
    for exc in errors:
        assert issubclass(exc, ai_sandbox.SandboxError), exc


def test_import_never_imports_an_agent_framework() -> None:
    """It imports no adapter framework (openai, langchain, mcp) on `import ai_sandbox`."""
    code = (
        "import sys, json, ai_sandbox, ai_sandbox.adapters;"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'openai', 'langchain_core', 'mcp', 'httpx', 'httpx2'})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []
