"""The host works in a process whose descriptor numbers pass 1024 (a busy agent server).

``select.select`` raises ``ValueError`` for such descriptors; the host must never use it. The
cases run in a child interpreter that first opens 1100 descriptors, so this test process keeps
its own limits and descriptors.
"""

from __future__ import annotations

import ast
import json
import subprocess  # nosec B404 - runs our own interpreter on our own script
import sys
from pathlib import Path

import pytest

#: Run in the child: raise the descriptor limit, open 1100 descriptors, then exercise the
#: isolation and session cases whose host side waits on descriptors.
CHILD = r"""
import json, os, resource, sys
from pathlib import Path

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
null = os.open(os.devnull, os.O_RDONLY)
held = [os.dup(null) for _ in range(1100)]

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.isolation.worker_backend import WorkerBackend

root = Path(sys.argv[1])
policy = SandboxPolicy(timeout_s=1.5, pool_size=1, allow_writes=True)
out = {"max_fd": max(held)}

def row(result):
    return [result.status, result.error.rule if result.error else None, result.result]

with Sandbox(root, policy) as box:
    out["run"] = row(box.run("result = 6 * 7"))
    out["write"] = row(box.run("open('note.txt', 'w').write('hello')"))
    out["read"] = row(box.run("result = open('note.txt').read()"))
    out["refused"] = row(box.run("result = open('../outside.txt').read()"))
    session = box.session()
    out["session_1"] = row(session.run("x = 20"))
    out["session_2"] = row(session.run("result = x + 1"))
    out["session_3"] = row(session.run("result = x + 2"))
    session.close()
    out["timeout"] = row(box.run("while True:\n    pass"))
    out["after_timeout"] = row(box.run("result = 1"))
backend = WorkerBackend(root, policy, _language_guard=False)
try:
    out["dies"] = row(backend.execute("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"))
    out["exits"] = row(backend.execute("import os\nos._exit(3)"))
    out["after_death"] = row(backend.execute("result = 2"))
finally:
    backend.close()
print(json.dumps(out))
"""


def test_no_select_select_in_the_host() -> None:
    """It never calls select.select in the package or the test helpers (fd numbers >= 1024)."""
    here = Path(__file__).parent
    offenders: list[str] = []
    for path in [
        *(here.parent / "src").rglob("*.py"),
        *here.glob("*.py"),
        *here.parent.glob("bench/*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "select"
                and isinstance(node.value, ast.Name)
                and node.value.id == "select"
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_runs_and_sessions_work_past_fd_1024(tmp_path: Path) -> None:
    """It runs, refuses, times out, survives a dying worker and keeps sessions with fds > 1024."""
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("outside", encoding="utf-8")
    proc = subprocess.run(  # nosec B603 - our interpreter, our script
        [sys.executable, "-c", CHILD, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["max_fd"] < 1024:
        pytest.skip("the descriptor limit could not be raised past 1024 on this machine")
    assert out["run"] == ["ok", None, 42]
    assert out["write"][0] == "ok"
    assert out["read"] == ["ok", None, "hello"]
    assert out["refused"][:2] == ["rejected", "outside_root"]
    assert out["session_1"][0] == "ok"
    assert out["session_2"] == ["ok", None, 21]
    assert out["session_3"] == ["ok", None, 22]
    assert out["timeout"][0] == "timeout"
    assert out["after_timeout"] == ["ok", None, 1]
    assert out["dies"][0] == "limit"
    assert out["exits"][0] == "error"
    assert out["after_death"] == ["ok", None, 2]
