"""The README's usage, the example and the demo run as a newcomer would run them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED_RESULT = "{'summary': 'Data analysis complete', 'count': 3}"


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def test_readme_opens_with_the_two_commands() -> None:
    """It opens the README with the demo command and the test command."""
    head = (REPO / "README.md").read_text(encoding="utf-8")[:400]
    assert "uv run ai-sandbox demo" in head
    assert "uv run pytest" in head


def test_readme_usage_block_runs(tmp_path: Path) -> None:
    """It runs the README's usage block exactly as written and prints the seed result."""
    block = next(
        b for b in _python_blocks((REPO / "README.md").read_text()) if "execute_ai_code" in b
    )
    (tmp_path / "data").mkdir()
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == SEED_RESULT


def test_readme_sandbox_block_runs(tmp_path: Path) -> None:
    """It runs the README's Sandbox block (the agent-facing API) as written."""
    block = next(b for b in _python_blocks((REPO / "README.md").read_text()) if "Sandbox(" in b)
    (tmp_path / "my-project").mkdir()
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first.startswith("ok 285 (")
    assert second.startswith("False Error: SecurityError:")


def test_example_prints_the_seed_result_and_two_refusals() -> None:
    """It runs examples/safe_execution.py: two clear refusals, then exactly the seed dict."""
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "safe_execution.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "allowed path: data/training.json"
    assert lines[1].startswith("blocked file access: ")
    assert lines[2].startswith("blocked import: ")
    assert "'os'" in lines[2]
    assert lines[-1] == SEED_RESULT


def test_demo_command_runs() -> None:
    """It runs `ai-sandbox demo` through the installed console script and every snippet behaves."""
    script = Path(sys.executable).with_name("ai-sandbox")
    out = subprocess.run([str(script), "demo"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "all snippets behaved as expected" in text
    for title in ("analyse a CSV", "write a report file", "read /etc/passwd", "import os"):
        assert title in text
    assert text.count("REJECTED") >= 3
