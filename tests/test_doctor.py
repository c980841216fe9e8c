"""``ai-sandbox doctor``: the layer report and the live containment checks."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import ai_sandbox
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
        "clear its parent-death signal (prctl)",
        "use native AIO (a machine-wide budget)",
        "list the directory containing ai_sandbox",
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


def _read_rule_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Landlock read rules"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].strip())
    return lines[start + 1 : end]


def test_lists_every_landlock_read_rule(report: tuple[int, str]) -> None:
    """It lists each read rule: the package itself and the interpreter's paths, nothing wider."""
    _, text = report
    rules = _read_rule_lines(text)
    paths = {line.split()[1] for line in rules}
    package = Path(ai_sandbox.__file__).resolve().parent
    assert str(package) in paths
    assert str(package.parent) not in paths
    assert str(Path(sysconfig.get_path("stdlib")).resolve()) in paths
    assert os.path.realpath(sys.executable) in paths
    assert all(line.split()[0] in {"read+list", "read-only", "REFUSED"} for line in rules)


def test_every_listed_rule_matches_the_workers_ruleset(report: tuple[int, str]) -> None:
    """It lists the same rules the worker's ruleset is built from: what a fresh ``python -I``
    computes, as the zygote does (this test process's ``sys.path`` may have grown: importing
    ray adds its vendored packages to it)."""
    _, text = report
    listed = [line.split()[1] for line in _read_rule_lines(text) if line.split()[0] != "REFUSED"]
    program = (
        "import importlib.util as u, sys; "
        "sys.modules['ai_sandbox'] = u.module_from_spec(u.find_spec('ai_sandbox')); "
        "from ai_sandbox.isolation.read_rules import plan_read_rules; "
        "print('\\n'.join(r.path for r in plan_read_rules().rules))"
    )
    fresh = subprocess.run(
        [sys.executable, "-I", "-c", program], env={}, capture_output=True, text=True, check=True
    )
    assert listed == fresh.stdout.splitlines()


def test_says_who_the_host_runs_as(report: tuple[int, str]) -> None:
    """It says whether the host is root (workers drop to nobody) or keeps its own uid."""
    _, text = report
    line = next(line for line in text.splitlines() if line.startswith("Host user:"))
    assert ("not root" in line) == (os.geteuid() != 0)
    assert ("workers keep this uid" in line) == (os.geteuid() != 0)


def test_says_how_the_path_layer_tells_mounts_apart(report: tuple[int, str]) -> None:
    """It says whether pseudo file systems and other mounts below the root can be recognised."""
    from ai_sandbox.pathlayer.mounts import support

    _, text = report
    line = next(line for line in text.splitlines() if line.startswith("Path layer:"))
    found = support("/")
    assert ("refused by fstatfs" in line) == found.fstatfs
    assert ("by mount id" in line) == found.mount_ids
