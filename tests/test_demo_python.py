"""``ai-sandbox demo``'s python-mode part: a pandas analysis whose plot lands in a file."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest

from ai_sandbox.demo_python import run_python_demo

pytest.importorskip("pandas", reason="the data extra (pandas) is not installed")


def test_the_demo_writes_the_plot_and_says_where(tmp_path: Path) -> None:
    """It runs the pandas analysis in python mode and saves the returned PNG, naming its size."""
    out = io.StringIO()
    assert run_python_demo(out, image_dir=tmp_path) == 0
    text = out.getvalue()
    png = tmp_path / "figure-1.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert f"640x480 PNG, {png.stat().st_size:,} bytes -> {png}" in text
    assert "language=python; ok" in text
    assert "east" in text


def test_the_demo_says_what_to_install_without_the_data_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It skips with the install command (and success) when pandas is missing."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else real(name, *a)
    )
    out = io.StringIO()
    assert run_python_demo(out) == 0
    assert "pip install 'ai-sandbox[data]'" in out.getvalue()
