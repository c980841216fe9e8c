"""``ai-sandbox doctor``: the layer report and the live containment checks."""

from __future__ import annotations

import io
import os

import pytest

from ai_sandbox.isolation.doctor import doctor_main
from ai_sandbox.isolation.layers import LAYER_NAMES


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str]:
    """One doctor run over a fresh root: (exit status, printed report)."""
    out = io.StringIO()
    status = doctor_main(tmp_path_factory.mktemp("doctor"), out)
    return status, out.getvalue()


def test_lists_every_layer_as_available_and_active(report: tuple[int, str]) -> None:
    """It prints each layer with whether the kernel offers it and a worker applied it."""
    _, text = report
    for name in LAYER_NAMES:
        line = next(line for line in text.splitlines() if line.strip().startswith(name + " "))
        assert line.split()[1:3] == ["yes", "yes"], line


@pytest.mark.parametrize(
    "check",
    [
        "read /etc/passwd",
        "read a file outside the root",
        "write outside the root",
        "connect to a loopback listener",
        "start a process (fork)",
        "start a process (exec)",
        "read the host's environment",
        "allocate 4x the 128 MiB memory limit",
        "spin past the timeout",
        "see /etc/passwd (stat)",
        "see a file outside the root (stat)",
    ],
)
def test_every_live_check_holds(report: tuple[int, str], check: str) -> None:
    """It reports HELD for each containment check on this machine."""
    _, text = report
    line = next(line for line in text.splitlines() if check in line)
    assert line.split()[0] == "HELD", line


def test_exits_zero_only_when_everything_held(report: tuple[int, str]) -> None:
    """It exits 0 exactly when no check failed."""
    status, text = report
    assert ("FAILED" in text) == (status != 0)
    assert status == 0, text


def test_leaves_the_host_environment_as_it_was(report: tuple[int, str]) -> None:
    """It removes the canary it set in the host environment for the environment check."""
    assert "AI_SANDBOX_DOCTOR_CANARY" not in os.environ
