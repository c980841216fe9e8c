"""The compatibility corpus: everyday Python runs in python mode exactly as in plain CPython.

Every program of ``tests/corpus/python_mode/`` (see its README for the sources) runs once in a
strict python-mode sandbox and once in a plain CPython subprocess; status, printed output and
``result`` must be the same. The pass figure must be 100 %.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox import Sandbox, SandboxPolicy

CORPUS = Path(__file__).parent / "corpus" / "python_mode"
DATA_STACK = ("numpy", "pandas", "matplotlib")


def load_programs() -> list[tuple[str, str]]:
    """Every ``(file:name, source)`` of the corpus, in file order."""
    programs: list[tuple[str, str]] = []
    for path in sorted(CORPUS.glob("*.py")):
        name: str | None = None
        lines: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.startswith("# %% "):
                if name is not None:
                    programs.append((f"{path.stem}:{name}", "".join(lines)))
                name, lines = line[5:].strip(), []
            elif name is not None:
                lines.append(line)
        if name is not None:
            programs.append((f"{path.stem}:{name}", "".join(lines)))
    return programs


PROGRAMS = load_programs()

#: Plain CPython: each program in a fresh ``__main__`` module, its output captured, its
#: ``result`` made JSON the same way python mode does (so only the *running* is compared).
_REFERENCE = r"""
import contextlib, io, json, linecache, sys, types
import matplotlib
matplotlib.use("Agg")
from ai_sandbox.executor.data_values import to_plain
out = []
for name, code in json.load(sys.stdin):
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    linecache.cache["<ai-code>"] = (len(code), None, code.splitlines(True), "<ai-code>")
    buffer = io.StringIO()
    status, result = "ok", None
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            exec(compile(code, "<ai-code>", "exec"), module.__dict__)
            result = to_plain(module.__dict__.get("result"))
        except SystemExit as exc:
            if exc.code not in (None, 0):
                status = "error"
        except BaseException as exc:
            status = "error:" + type(exc).__name__
    import matplotlib.pyplot as plt
    figures = len(plt.get_fignums())
    plt.close("all")
    out.append({"name": name, "status": status, "stdout": buffer.getvalue(),
                "result": json.loads(json.dumps(result)), "figures": figures})
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, Any]]:
    """Plain CPython's outcome of every program (one subprocess for the whole corpus)."""
    done = subprocess.run(
        [sys.executable, "-c", _REFERENCE],
        input=json.dumps(PROGRAMS),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env={"OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"},
    )
    return {item["name"]: item for item in json.loads(done.stdout)}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A python-mode sandbox with the data stack preloaded, as an analysis agent would use."""
    policy = SandboxPolicy(language="python", preload=DATA_STACK, timeout_s=20)
    with Sandbox(tmp_path_factory.mktemp("corpus-root"), policy) as sb:
        yield sb


def test_the_corpus_is_a_few_hundred_programs() -> None:
    """It holds a few hundred distinct programs."""
    names = [name for name, _ in PROGRAMS]
    assert len(names) == len(set(names))
    assert len(names) >= 200


@pytest.mark.parametrize(("name", "code"), PROGRAMS, ids=[name for name, _ in PROGRAMS])
def test_it_runs_like_plain_cpython(
    sandbox: Sandbox, reference: dict[str, dict[str, Any]], name: str, code: str
) -> None:
    """It gives the same status, output, result (and figure count) as plain CPython."""
    expected = reference[name]
    assert expected["status"] == "ok", f"the program itself fails in CPython: {expected}"
    res = sandbox.run(code)
    assert res.status == "ok", res.error
    assert res.stdout == expected["stdout"]
    assert res.result == expected["result"]
    assert len(res.images) == expected["figures"]
