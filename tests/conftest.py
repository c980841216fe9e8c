"""Shared fixtures: a project root with a canary file outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

CANARY = "CANARY-7f3a-outside-the-root"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A sandbox root (``tmp_path/project``) with a little data in it."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "numbers.csv").write_text("n\n1\n2\n3\n", encoding="utf-8")
    return root


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A secret file next to (outside) the project root; no test may ever read it."""
    path = tmp_path / "secret.txt"
    path.write_text(CANARY, encoding="utf-8")
    return path
