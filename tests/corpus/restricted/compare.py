"""Run the restricted-mode compatibility corpus in plain CPython and in the sandbox, compare.

Usage: ``uv run python tests/corpus/restricted/compare.py`` prints the figure and every program
that CPython runs and the sandbox does not (with the reason). ``tests/test_corpus_restricted.py``
asserts the figure.

Each corpus file is JSON lines ``{"id", "source", "code"}``. A program passes when CPython runs
it without an exception and the sandbox (default policy, ``isolation="none"``: the language
layer is what is measured) runs it too, printing the same output and leaving the same
``result`` (compared as JSON).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

#: Runs in a fresh interpreter: every program in its own namespace, stdout captured.
_CPYTHON = r"""
import contextlib, io, json, sys
programs = json.load(sys.stdin)
out = {}
for pid, code in programs.items():
    buf = io.StringIO()
    namespace = {"__name__": "__main__"}
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            exec(compile(code, "<corpus>", "exec"), namespace)
        result = json.loads(json.dumps(namespace.get("result"), default=repr))
        out[pid] = {"status": "ok", "result": result, "stdout": buf.getvalue()}
    except BaseException as exc:
        out[pid] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


def load() -> list[dict[str, str]]:
    """Every program of every corpus file, in file order."""
    programs: list[dict[str, str]] = []
    for path in sorted(HERE.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["file"] = path.name
                programs.append(row)
    return programs


def run_cpython(programs: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-c", _CPYTHON],
        input=json.dumps({p["id"]: p["code"] for p in programs}),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    found: dict[str, dict[str, Any]] = json.loads(proc.stdout)
    return found


def run_sandbox(programs: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    from ai_sandbox.executor.runtime import execute_payload
    from ai_sandbox.policy import SandboxPolicy
    from ai_sandbox.security import SafeFS

    policy = SandboxPolicy(isolation="none")
    out: dict[str, dict[str, Any]] = {}
    with SafeFS(tempfile.mkdtemp(), policy) as fs:
        for program in programs:
            out[program["id"]] = execute_payload(program["code"], None, policy=policy, fs=fs)
    return out


def compare() -> tuple[int, int, list[tuple[str, str]]]:
    """(programs CPython runs, of those the sandbox runs alike, [(id, why not)])."""
    programs = load()
    reference = run_cpython(programs)
    sandboxed = run_sandbox(programs)
    runs = 0
    differing: list[tuple[str, str]] = []
    for program in programs:
        pid = program["id"]
        expected = reference[pid]
        if expected["status"] != "ok":
            continue
        runs += 1
        got = sandboxed[pid]
        if got["status"] != "ok":
            error = got["error"] or {}
            why = f"{got['status']}: {error.get('type')}: {error.get('message')}"
        elif got["result"] != expected["result"]:
            why = f"result differs: {got['result']!r} != {expected['result']!r}"
        elif got["stdout"] != expected["stdout"]:
            why = f"output differs: {got['stdout'][:200]!r} != {expected['stdout'][:200]!r}"
        else:
            continue
        differing.append((pid, why.replace("\n", " ")[:400]))
    return runs, runs - len(differing), differing


def main() -> None:
    runs, same, differing = compare()
    by_file: dict[str, list[str]] = {}
    for program in load():
        by_file.setdefault(program["file"], []).append(program["id"])
    print(
        f"{same}/{runs} programs that CPython runs pass in the default policy "
        f"({100.0 * same / runs:.1f} %)"
    )
    for name, ids in by_file.items():
        bad = sum(1 for pid, _ in differing if pid in set(ids))
        print(f"  {name}: {len(ids)} programs, {bad} not alike")
    for pid, why in differing:
        print(f"  - {pid}: {why}")


if __name__ == "__main__":
    main()
