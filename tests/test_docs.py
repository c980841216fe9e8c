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


def test_agents_guide_files_block_prints_what_it_says(tmp_path: Path) -> None:
    """It runs docs/agents.md's paged-read block and prints exactly the output shown below it."""
    guide = (REPO / "docs" / "agents.md").read_text(encoding="utf-8")
    section = guide.split("## Files as an agent reads them", 1)[1].split("\n## ", 1)[0]
    block = next(b for b in _python_blocks(section) if "read_file" in b)
    shown = section.split(block, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == shown


def test_agents_guide_covers_files_images_and_installing() -> None:
    """It documents paged reads, images per surface, listings, mistakes and installing from a
    checkout or a wheel, with the MCP server registered off PATH."""
    guide = (REPO / "docs" / "agents.md").read_text(encoding="utf-8")
    for needle in (
        "offset=2000 to read on",
        "ImageContent",
        '{"type": "image", "base64", "mime_type"}',
        "input_image",
        "Chat Completions | text only",
        "recursive=N",
        "leading outside the project root",
        "FileNotFoundError",
        "uv add /path/to/ai-sandbox",
        "uv build",
        '"uv", "args": ["run", "--directory"',
        ".venv/bin/ai-sandbox",
    ):
        assert needle in guide, needle


def test_readme_conversation_block_prints_what_it_says(tmp_path: Path) -> None:
    """It runs the README's multi-turn block and prints exactly the output shown below it:
    state carries over between calls of one conversation, and reset forgets it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = next(b for b in _python_blocks(readme) if "session() as chat" in b)
    shown = readme.split(block, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my-project").mkdir()
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == shown
