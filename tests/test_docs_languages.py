"""docs/languages.md: its example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "languages.md"

pytest.importorskip("pandas", reason="the data extra (pandas) is not installed")


def test_the_languages_example_runs(tmp_path: Path) -> None:
    """It runs the example of docs/languages.md and prints what its comments say."""
    block = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)[0]
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["6", "python {'x': 2.0, 'y': 5.0} [(640, 480)]"]
