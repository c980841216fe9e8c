"""``ai-sandbox doctor``'s live checks for ``language="python"``: arbitrary code, the OS alone.

In python mode the attacker has every module and ``ctypes``; these checks prove the layers
hold against what only full Python can try: system calls through ``ctypes``, sockets, process
creation through ``os`` and ``subprocess``, numpy's C loops and allocations, and the file view
beneath the root (a deny-pattern file, a write without ``allow_writes``, a hard link leading
outside). They run in a worker of a throw-away root (its ``.env`` and hard link are ours), with
the generic live checks of :mod:`.doctor` first.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ai_sandbox.exceptions import SandboxError
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import ExecutionResult

__all__ = ["python_live_checks", "python_mode_report"]

_TIMEOUT_S = 1.0
_MEMORY_MB = 128

#: ``(name, code, held)``: ``held(result, elapsed)`` tells that the OS stopped the attempt.
PythonCheck = tuple[str, str, Callable[[ExecutionResult, float], bool]]


def _refused(result: ExecutionResult, _elapsed: float) -> bool:
    return result.status != "ok"


def _timed_out(result: ExecutionResult, elapsed: float) -> bool:
    return result.status == "timeout" and elapsed <= _TIMEOUT_S * 1.5 + 0.25


def python_live_checks(
    root: Path, canary: str, *, hard_link: bool, numpy: bool
) -> tuple[PythonCheck, ...]:
    """The python-mode attacks against a worker whose root is ``root``."""

    def unread(result: ExecutionResult, elapsed: float) -> bool:
        return _refused(result, elapsed) and canary not in result.model_dump_json()

    def not_written(result: ExecutionResult, elapsed: float) -> bool:
        return _refused(result, elapsed) and not (root / "planted.txt").exists()

    checks: list[PythonCheck] = [
        (
            "read a deny-pattern file in the root (os.open)",
            "import os\nfd = os.open('.env', os.O_RDONLY)\nresult = os.read(fd, 256).decode()",
            unread,
        ),
        (
            "write in the root without allow_writes (os.open)",
            "import os\nos.open('planted.txt', os.O_WRONLY | os.O_CREAT, 0o644)",
            not_written,
        ),
        (
            "ctypes: open(2) /etc/shadow",
            "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "fd = libc.open(b'/etc/shadow', os.O_RDONLY)\n"
            "if fd < 0:\n    raise OSError(ctypes.get_errno(), 'open(2) refused')\n"
            "result = os.read(fd, 64).decode('latin-1')",
            _refused,
        ),
        ("socket.socket()", "import socket\nresult = socket.socket().fileno()", _refused),
        (
            "os.fork()",
            "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nresult = pid",
            _refused,
        ),
        (
            "subprocess.run",
            "import subprocess\nresult = subprocess.run(['/bin/true']).returncode",
            _refused,
        ),
    ]
    if hard_link:
        checks.insert(
            2,
            (
                "read a hard link to a file outside the root",
                "result = open('notes.txt').read()",
                unread,
            ),
        )
    if numpy:
        checks += [
            (
                "numpy: a C-level loop past the timeout",
                "import numpy as np\na = np.ones(3000)\n"
                "result = float(np.einsum('i,j,k->', a, a, a))",
                _timed_out,
            ),
            (
                f"numpy: allocate 4x the {_MEMORY_MB} MiB limit",
                f"import numpy as np\na = np.ones(4 * {_MEMORY_MB} * 1024 * 1024 // 8)\n"
                "result = float(a.sum())",
                _refused,
            ),
        ]
    return tuple(checks)


def python_mode_report(targets: Any, out: TextIO) -> int:
    """Run the generic live checks and the python-mode ones in a python-mode worker; print a
    verdict per check; return the number of checks that did not hold (or 1 if no worker)."""
    from ai_sandbox.isolation.doctor import live_checks

    numpy = importlib.util.find_spec("numpy") is not None
    with tempfile.TemporaryDirectory(prefix="ai-sandbox-doctor-python-") as tmp:
        root = Path(tmp)
        (root / ".env").write_text(f"TOKEN={targets.canary}\n", encoding="utf-8")
        hard_link = _link(Path(targets.secret_file), root / "notes.txt")
        policy = SandboxPolicy(
            language="python",
            timeout_s=_TIMEOUT_S,
            memory_limit_mb=_MEMORY_MB,
            preload=("numpy",) if numpy else (),
        )
        out.write('\nLive checks in a real worker, language="python" (arbitrary code):\n')
        try:
            backend = WorkerBackend(root, policy)
        except SandboxError as exc:
            out.write(f"  FAILED no python-mode worker could start: {exc}\n")
            return 1
        failures = 0
        try:
            generic = [(c.name, c.code, c.held) for c in live_checks(targets)]
            for name, code, held in (
                *generic,
                *python_live_checks(root, targets.canary, hard_link=hard_link, numpy=numpy),
            ):
                ok, summary = _attempt(backend, code, held)
                failures += 0 if ok else 1
                out.write(f"  {'HELD  ' if ok else 'FAILED'} {name:<50} {summary}\n")
        finally:
            backend.close()
        if not numpy:
            out.write("  (numpy is not installed: its checks were skipped)\n")
        if not hard_link:
            out.write("  (no hard link could be made across filesystems: that check was skipped)\n")
        return failures


def _link(source: Path, link: Path) -> bool:
    try:
        os.link(source, link)
    except OSError:
        return False
    return True


def _attempt(
    backend: WorkerBackend, code: str, held: Callable[[ExecutionResult, float], bool]
) -> tuple[bool, str]:
    start = time.monotonic()
    result = backend.execute(code)
    elapsed = time.monotonic() - start
    ok = held(result, elapsed)
    if result.error is not None:
        summary = f"{result.status}: {result.error.type}: {result.error.message}"
    else:
        summary = f"{result.status}: {str(result.result)[:60]!r}"
    return ok, f"({summary[:100]}, {elapsed:.2f} s)"
