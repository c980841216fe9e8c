"""Adapters are optional: importing the package never pulls a framework in, and a missing
framework is reported with the extra to install."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

FRAMEWORKS = ("openai", "langchain_core", "mcp", "httpx2")


def test_importing_the_adapters_package_imports_no_framework() -> None:
    """It keeps `import ai_sandbox.adapters` free of openai, langchain and mcp."""
    code = (
        "import sys, ai_sandbox, ai_sandbox.adapters, ai_sandbox.adapters._schema\n"
        f"loaded = [m for m in {FRAMEWORKS!r} if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == ""


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [
        pytest.param("ai_sandbox.adapters.openai", "openai", "openai", id="openai"),
        pytest.param("ai_sandbox.adapters._scripted", "openai", "openai", id="demo"),
        pytest.param(
            "ai_sandbox.adapters.langchain", "langchain_core", "langchain", id="langchain"
        ),
        pytest.param("ai_sandbox.adapters.mcp", "mcp", "mcp", id="mcp"),
    ],
)
def test_missing_framework_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, framework: str, extra: str
) -> None:
    """It raises an ImportError that says which extra to install."""
    for name in list(sys.modules):
        if name == framework or name.startswith(f"{framework}."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, framework, None)
    for name in (module, "ai_sandbox.adapters.openai"):
        if name in sys.modules:
            monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=rf"pip install 'ai-sandbox\[{extra}\]'"):
        importlib.import_module(module)
