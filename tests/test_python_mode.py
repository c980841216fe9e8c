"""``language="python"``: full CPython in a strict worker, the policy that allows it, and
the record of which language ran."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ai_sandbox import ConfigurationError, Sandbox, SandboxPolicy
from ai_sandbox.audit import AuditLog, read_records
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.isolation.worker_policy import WorkerPolicy

PYTHON = SandboxPolicy(language="python")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One python-mode sandbox for the module (a zygote costs a second to start)."""
    with Sandbox(tmp_path_factory.mktemp("root"), PYTHON) as sb:
        yield sb


# -- the policy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("isolation", ["process", "none"])
def test_it_refuses_full_python_outside_strict_isolation(isolation: str) -> None:
    """It refuses language="python" with any isolation but strict, saying why."""
    with pytest.raises(ValidationError, match='needs isolation="strict"'):
        SandboxPolicy(language="python", isolation=isolation)  # type: ignore[arg-type]


@pytest.mark.parametrize("isolation", ["process", "none"])
def test_it_refuses_a_copied_policy_that_skips_validation(tmp_path: Path, isolation: str) -> None:
    """It refuses full Python outside strict even in a policy built with model_copy."""
    policy = PYTHON.model_copy(update={"isolation": isolation})
    with pytest.raises(ConfigurationError, match='needs isolation="strict"'):
        Sandbox(tmp_path, policy)
    with pytest.raises(ConfigurationError, match='needs isolation="strict"'):
        WorkerBackend(tmp_path, policy)


def test_the_default_language_is_restricted() -> None:
    """It keeps RestrictedPython as the default language."""
    assert SandboxPolicy().language == "restricted"


@pytest.mark.parametrize(
    "name", ["", "1abc", "a..b", "os path", "numpy;import os"], ids=lambda n: repr(n)
)
def test_it_refuses_a_preload_entry_that_is_not_a_module_name(name: str) -> None:
    """It refuses preload entries that are not dotted module names."""
    with pytest.raises(ValidationError, match="preload"):
        SandboxPolicy(language="python", preload=(name,))


def test_it_refuses_to_preload_a_module_that_is_not_installed(tmp_path: Path) -> None:
    """It refuses a preload module that is not installed, naming it, before any zygote starts."""
    policy = SandboxPolicy(language="python", preload=("no_such_module_xyz",))
    with pytest.raises(ConfigurationError, match="no_such_module_xyz"):
        Sandbox(tmp_path, policy)


def test_the_zygote_policy_carries_the_language_fields() -> None:
    """It carries language, preload and the image caps into the zygote's policy copy."""
    policy = SandboxPolicy(language="python", preload=["json"], max_images=3)
    rebuilt = WorkerPolicy.from_json(policy.model_dump(mode="json"))
    assert (rebuilt.language, rebuilt.preload, rebuilt.max_images) == ("python", ("json",), 3)


def test_the_zygote_policy_refuses_an_unknown_language() -> None:
    """It fails closed on a language the zygote does not know."""
    data = PYTHON.model_dump(mode="json")
    data["language"] = "javascript"
    with pytest.raises(ValueError, match="language"):
        WorkerPolicy.from_json(data)


# -- everything CPython runs ------------------------------------------------------------------
_PROGRAMS = [
    pytest.param("import sys\nresult = sys.maxsize", 2**63 - 1, id="sys-maxsize"),
    pytest.param("result = __name__", "__main__", id="name-is-main"),
    pytest.param(
        "import asyncio\nasync def f(x):\n    await asyncio.sleep(0)\n    return x * 2\n"
        "async def main():\n    return await asyncio.gather(f(1), f(2))\n"
        "result = asyncio.run(main())",
        [2, 4],
        id="asyncio-run",
    ),
    pytest.param("result = eval('6 * 7')", 42, id="eval"),
    pytest.param("ns = {}\nexec('y = 5', ns)\nresult = ns['y']", 5, id="exec"),
    pytest.param(
        "match {'k': [1, 2]}:\n    case {'k': [a, b]}:\n        result = a + b", 3, id="match"
    ),
    pytest.param(
        "def outer():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n"
        "    inc(); inc()\n    return n\nresult = outer()",
        2,
        id="nonlocal",
    ),
    pytest.param(
        "from dataclasses import dataclass, field\nfrom typing import List\n@dataclass\n"
        "class P:\n    xs: List[int] = field(default_factory=list)\n"
        "    def __len__(self):\n        return len(self.xs)\nresult = len(P([1, 2]))",
        2,
        id="dataclass-dunder",
    ),
    pytest.param(
        "from __future__ import annotations\nimport dataclasses, typing\n@dataclasses.dataclass\n"
        "class C:\n    x: typing.ClassVar[int] = 1\n    y: int = 2\n"
        "result = [f.name for f in dataclasses.fields(C)]",
        ["y"],
        id="future-annotations-classvar",
    ),
    pytest.param(
        "class A:\n    def __init__(self):\n        self._x = 1\nclass B(A):\n"
        "    def __init__(self):\n        super().__init__()\n        self._x += 1\n"
        "result = B()._x",
        2,
        id="super-private",
    ),
    pytest.param(
        "import enum\nclass Color(enum.Enum):\n    RED = 1\nresult = Color(1).name",
        "RED",
        id="enum",
    ),
    pytest.param("result = type(lambda: 0).__name__", "function", id="dunder-attributes"),
    pytest.param("x: int = 3\nresult = __annotations__['x'].__name__", "int", id="annotations"),
    pytest.param(
        "try:\n    raise ExceptionGroup('g', [ValueError(1)])\nexcept* ValueError:\n"
        "    result = 'caught'",
        "caught",
        id="except-star",
    ),
    pytest.param("import sys\nsys.exit()\nresult = 1", None, id="sys-exit-ends-cleanly"),
]


@pytest.mark.parametrize(("code", "expected"), _PROGRAMS)
def test_it_runs_what_cpython_runs(sandbox: Sandbox, code: str, expected: Any) -> None:
    """It runs every kind of Python program with plain CPython's result."""
    res = sandbox.run(code)
    assert res.status == "ok", res.error
    assert res.result == expected


def test_inputs_become_variables(sandbox: Sandbox) -> None:
    """It gives the inputs to the code as variables."""
    res = sandbox.run("result = sum(numbers) * factor", {"numbers": [1, 2, 3], "factor": 2})
    assert res.result == 12


def test_it_captures_print_and_stderr(sandbox: Sandbox) -> None:
    """It captures print, sys.stdout and sys.stderr writes in order."""
    code = "import sys\nprint('a')\nsys.stderr.write('b\\n')\nsys.stdout.write('c\\n')"
    assert sandbox.run(code).stdout == "a\nb\nc\n"


def test_it_caps_printed_output(tmp_path: Path) -> None:
    """It keeps at most max_output_bytes of output, with a marker."""
    policy = SandboxPolicy(language="python", max_output_bytes=100)
    with Sandbox(tmp_path, policy) as sb:
        res = sb.run("for i in range(10000):\n    print('x' * 50)")
    assert res.ok
    assert len(res.stdout.encode()) <= 100
    assert "truncated" in res.stdout


@pytest.mark.parametrize(
    ("code", "kind", "line"),
    [
        ("x = 1\n\ndef f():\n    return 1 / 0\nf()", "ZeroDivisionError", 4),
        ("x = 1\ny = (", "SyntaxError", 2),
        ("import no_such_module_xyz", "ModuleNotFoundError", 1),
        ("eval('1 +')", "SyntaxError", None),
        ("raise SystemExit(3)", "SystemExit", None),
        ("import sys\nsys.setrecursionlimit(100)\ndef f(): f()\nf()", "RecursionError", 3),
    ],
    ids=["in-function", "syntax", "import", "syntax-in-eval", "exit-status", "recursion"],
)
def test_it_reports_errors_with_the_line_in_the_code(
    sandbox: Sandbox, code: str, kind: str, line: int | None
) -> None:
    """It reports an exception by type, message and the line of the submitted code."""
    res = sandbox.run(code)
    assert res.status == "error"
    assert res.error is not None
    assert res.error.type == kind
    if line is not None:
        assert res.error.line == line
    assert "ai_sandbox" not in res.error.message
    assert "Traceback" not in res.error.message


def test_a_printed_traceback_shows_the_codes_own_lines(sandbox: Sandbox) -> None:
    """It lets the code print its own traceback with its source lines, none of ours."""
    code = "import traceback\ntry:\n    {}['missing']\nexcept KeyError:\n    traceback.print_exc()"
    res = sandbox.run(code)
    assert "{}['missing']" in res.stdout
    assert "ai_sandbox" not in res.stdout


def test_a_result_that_is_not_json_is_explained(sandbox: Sandbox) -> None:
    """It explains a result that is not JSON data instead of failing obscurely."""
    res = sandbox.run("result = object()")
    assert res.status == "error"
    assert res.error is not None
    assert "not JSON data" in res.error.message


def test_a_result_over_the_cap_is_a_limit(tmp_path: Path) -> None:
    """It holds the result to max_result_bytes."""
    with Sandbox(tmp_path, SandboxPolicy(language="python", max_result_bytes=1000)) as sb:
        res = sb.run("result = 'x' * 5000")
    assert res.status == "limit"


def test_each_run_starts_from_a_fresh_module(sandbox: Sandbox) -> None:
    """It runs every call in a fresh __main__: nothing of one run leaks into the next."""
    sandbox.run("import json\njson.secret_marker = 1\nleft = 1")
    res = sandbox.run("import json\nresult = [hasattr(json, 'secret_marker'), 'left' in dir()]")
    assert res.result == [False, False]


def test_a_session_keeps_state(sandbox: Sandbox) -> None:
    """It keeps variables, functions and classes between runs of one session."""
    with sandbox.session() as session:
        session.run("class K:\n    n = 41\ndef bump(k):\n    return k.n + 1\nk = K()")
        res = session.run("result = bump(k)")
    assert res.result == 42
    assert res.language == "python"


def test_results_say_which_language_ran(sandbox: Sandbox, tmp_path: Path) -> None:
    """It stamps every result with the language that ran, in both languages."""
    assert sandbox.run("result = 1").language == "python"
    assert sandbox.run("x = (").language == "python"
    with Sandbox(tmp_path, SandboxPolicy(isolation="none")) as restricted:
        assert restricted.run("result = 1").language == "restricted"


def test_python_mode_does_not_claim_the_language_guard(sandbox: Sandbox) -> None:
    """It does not list restricted_python among the layers of a full-Python run."""
    res = sandbox.run("result = 1")
    assert "restricted_python" not in res.layers
    assert "seccomp" in res.layers
    assert "landlock_fs" in res.layers


def test_audit_records_say_which_language_ran(tmp_path: Path) -> None:
    """It writes the language of each run into the audit record of its outcome."""
    root = tmp_path / "root"
    root.mkdir()
    with (
        AuditLog(tmp_path / "audit.jsonl", session_id="s") as log,
        Sandbox(root, PYTHON, audit=log) as sb,
    ):
        sb.run("result = 1")
        sb.call("run_python", {"code": "result = 2"})
        with sb.session() as session:
            session.run("result = 3")
    outcomes = [r for r in read_records(log.path) if r["event"] == "completed"]
    assert [r.get("language") for r in outcomes] == ["python", "python", "python"]


def test_the_host_file_broker_is_closed_to_python_mode(tmp_path: Path) -> None:
    """It refuses file requests a python-mode worker sends over its channel to the host."""
    (tmp_path / "data.txt").write_text("SECRET-IN-ROOT", encoding="utf-8")
    code = (
        "import gc\n"
        "channel = next(o for o in gc.get_objects() if type(o).__name__ == 'Channel')\n"
        "channel.send({'type': 'read', 'path': 'data.txt'})\n"
        "result = channel.recv()"
    )
    with Sandbox(tmp_path, PYTHON) as sb:
        res = sb.run(code)
    assert res.status == "rejected"
    assert "SECRET-IN-ROOT" not in res.model_dump_json()


def test_python_mode_reads_the_root_but_not_denied_files(tmp_path: Path) -> None:
    """It lets full Python open files beneath the root itself, the deny patterns still refused."""
    root = tmp_path / "root"
    root.mkdir(mode=0o755)
    tmp_path.chmod(0o755)  # the worker may run as another uid: the path must be traversable
    (root / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (root / ".env").write_text("TOKEN=secret-in-root\n", encoding="utf-8")
    with Sandbox(root, PYTHON) as sb:
        read = sb.run("import csv\nresult = list(csv.DictReader(open('data.csv')))")
        denied = sb.run("import os\nresult = os.read(os.open('.env', os.O_RDONLY), 99)")
    assert read.status == "ok", read.error
    assert read.result == [{"a": "1", "b": "2"}]
    assert denied.status != "ok"
    assert "secret-in-root" not in denied.model_dump_json()
