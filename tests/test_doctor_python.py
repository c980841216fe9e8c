"""``ai-sandbox doctor`` in python mode: arbitrary code, and every attempt still held."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.isolation.doctor import doctor_main
from ai_sandbox.isolation.doctor_python import python_live_checks

pytest.importorskip("numpy", reason="the data extra (numpy) is not installed")

_NAMES = [name for name, _, _ in python_live_checks(Path("/x"), "c", hard_link=True, numpy=True)]


def test_doctor_proves_python_mode_live(tmp_path: Path) -> None:
    """It runs every python-mode check in a real worker and each one holds."""
    out = io.StringIO()
    status = doctor_main(tmp_path, out)
    report = out.getvalue()
    assert 'language="python"' in report
    for name in _NAMES:
        assert f"HELD   {name}" in report, report
    assert "FAILED" not in report, report
    assert status == 0


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, Path]]:
    """A python-mode sandbox (numpy preloaded, tight limits) whose root holds a .env."""
    root = tmp_path_factory.mktemp("doctor-python")
    (root / ".env").write_text("TOKEN=doctor-secret\n", encoding="utf-8")
    policy = SandboxPolicy(
        language="python", timeout_s=1.0, memory_limit_mb=128, preload=("numpy",)
    )
    with Sandbox(root, policy) as sb:
        yield sb, root


@pytest.mark.parametrize(
    ("name", "code"),
    [
        (name, code)
        for name, code, _ in python_live_checks(Path("/x"), "c", hard_link=False, numpy=True)
    ],
    ids=lambda value: str(value)[:40],
)
def test_each_attack_fails_in_python_mode(
    sandbox: tuple[Sandbox, Path], name: str, code: str
) -> None:
    """It refuses, stops or kills each python-mode attack (none ends with a result)."""
    sb, root = sandbox
    res = sb.run(code)
    assert res.status != "ok", (name, res)
    assert "doctor-secret" not in res.model_dump_json()
    assert not (root / "planted.txt").exists()
