"""Resource exhaustion that the language layer cannot stop: stopped by the OS layer.

RestrictedPython has no time or memory limit, and some single operations cannot be bounded
from Python at all: a huge allocation (``'a' * 10**10``, a billion-column format width), a long
C computation (``2 ** 10**9``, catastrophic regex backtracking) or a C recursion without a depth
check (hashing a tuple nested a million deep overflows the C stack and kills the process). In
``isolation="none"`` these reach the host process, which is why that mode is for trusted code
only. Through the default strict ``Sandbox`` every one of them comes back as a clean result
(``limit`` or ``timeout``), and the sandbox keeps serving the next run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_sandbox import Sandbox, SandboxPolicy

_DEEP_TUPLE = "t = ()\nfor i in range(10**6):\n    t = (t,)\n"

#: id, code, the status the OS layer turns it into.
EXHAUSTION: list[tuple[str, str, str]] = [
    ("c-stack-tuple-hash", _DEEP_TUPLE + "x = hash(t)", "limit"),
    ("c-stack-tuple-set-member", _DEEP_TUPLE + "x = t in {1}", "limit"),
    ("str-repeat", "x = 'a' * 10**10", "limit"),
    ("format-width", "x = '{:>3000000000}'.format(1)", "limit"),
    ("fstring-width", "x = f'{1:>3000000000}'", "limit"),
    ("percent-width", "x = '%3000000000d' % 1", "limit"),
    ("str-center", "x = 'a'.center(10**10)", "limit"),
    ("bytes-size", "x = bytes(10**10)", "limit"),
    ("list-repeat", "x = [0] * 10**10", "limit"),
    ("permutations-list", "import itertools\nx = list(itertools.permutations(range(12)))", "limit"),
    ("big-power", "x = 2 ** (10**9)", "timeout"),
    ("regex-backtracking", "import re\nx = re.match('(a+)+b', 'a' * 40)", "timeout"),
    ("factorial", "import math\nx = math.factorial(10**7)", "timeout"),
]


@pytest.fixture(scope="module", params=["restricted", "python"])
def language(request: pytest.FixtureRequest) -> str:
    """Both languages: RestrictedPython then the OS layers, or full Python and the OS alone."""
    return str(request.param)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, language: str) -> Iterator[Sandbox]:
    """One strict sandbox (every OS layer) with tight limits, in the language under test."""
    root: Path = tmp_path_factory.mktemp("project")
    policy = SandboxPolicy(timeout_s=1.0, memory_limit_mb=256, language=language)  # type: ignore[arg-type]
    with Sandbox(root, policy) as box:
        yield box


@pytest.fixture(scope="module")
def patient_sandbox(tmp_path_factory: pytest.TempPathFactory, language: str) -> Iterator[Sandbox]:
    """The same limits with a long wall clock: a memory attack meets the memory limit even on
    a loaded machine (with 1 s, a slow allocation could end as a timeout instead)."""
    root: Path = tmp_path_factory.mktemp("project")
    policy = SandboxPolicy(timeout_s=20.0, memory_limit_mb=256, language=language)  # type: ignore[arg-type]
    with Sandbox(root, policy) as box:
        yield box


@pytest.mark.parametrize(
    ("code", "status"), [e[1:] for e in EXHAUSTION], ids=[e[0] for e in EXHAUSTION]
)
def test_exhaustion_is_stopped_by_the_os_layer(
    sandbox: Sandbox, patient_sandbox: Sandbox, code: str, status: str
) -> None:
    """It turns an exhaustion attack into a clean result and keeps serving the next run."""
    if status == "limit":
        sandbox = patient_sandbox
    outcome = sandbox.run(code)
    assert outcome.status == status, outcome
    assert outcome.result is None
    assert outcome.error is not None
    assert "Traceback" not in outcome.error.message
    assert sandbox.run("result = 1 + 1").result == 2


def test_huge_integer_text_is_refused_in_process(sandbox: Sandbox) -> None:
    """It refuses int() of a million digits before any work (the interpreter's digit limit,
    which the code cannot raise: sys is never importable)."""
    outcome = sandbox.run("x = int('9' * 10**6)")
    assert outcome.status == "error"
    assert outcome.error is not None
    assert outcome.error.type == "ValueError"
