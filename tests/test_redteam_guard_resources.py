"""In-process resource limits hold against the code's own number types: ``time.sleep`` reads the
plain number, past a subclass's overridden comparison operators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ai_sandbox.executor.runtime import execute_payload
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS


def run(code: str, root: Path) -> dict[str, Any]:
    pol = SandboxPolicy(isolation="none", timeout_s=2)
    with SafeFS(root, pol) as fs:
        return execute_payload(code, None, policy=pol, fs=fs)


SLEEPS: list[tuple[str, str]] = [
    (
        "int-subclass-gt",
        "class N(int):\n    def __gt__(self, o):\n        return False\nx = N(3600)",
    ),
    (
        "float-subclass-gt",
        "class N(float):\n    def __gt__(self, o):\n        return False\nx = N(3600.0)",
    ),
    (
        "int-subclass-le",
        "class N(int):\n    def __le__(self, o):\n        return True\n"
        "    def __gt__(self, o):\n        return False\nx = N(3600)",
    ),
    ("plain-int", "x = 3600"),
]


@pytest.mark.parametrize("code", [c for _, c in SLEEPS], ids=[n for n, _ in SLEEPS])
def test_sleep_never_outlasts_the_time_limit(code: str, project: Path) -> None:
    """It refuses a time.sleep past the run's limit, whatever the number's class says."""
    payload = run("import time\n" + code + "\ntime.sleep(x)\nresult = 1", project)
    assert payload["status"] == "limit", payload


def test_short_sleeps_still_sleep(project: Path) -> None:
    """It still sleeps for a short int, float or subclass value."""
    code = (
        "import time\nclass N(float):\n    pass\n"
        "time.sleep(0)\ntime.sleep(0.01)\ntime.sleep(N(0.01))\nresult = 1"
    )
    payload = run(code, project)
    assert payload["status"] == "ok", payload
