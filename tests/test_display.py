"""Notebook display: a final bare expression is the result when the code binds no `result`."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.executor.display import display_last_expression


@pytest.fixture(scope="module", params=["none", "strict"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    """One sandbox in-process and one with isolated workers."""
    root = tmp_path_factory.mktemp("display")
    (root / "n.txt").write_text("7", encoding="utf-8")
    with Sandbox(root, SandboxPolicy(isolation=request.param, pool_size=1)) as box:
        yield box


SHOWN = [
    pytest.param("1 + 1", 2, id="arithmetic"),
    pytest.param("x = [3, 1, 2]\nsorted(x)", [1, 2, 3], id="after-statements"),
    pytest.param("import math\nmath.floor(2.7)", 2, id="after-import"),
    pytest.param("def f(n):\n    return n * 2\nf(21)", 42, id="call"),
    pytest.param("{'a': 1}", {"a": 1}, id="dict"),
    pytest.param("int(open('n.txt').read())", 7, id="file"),
    pytest.param("print('x')", None, id="print-shows-nothing"),
    pytest.param("'text'", "text", id="string"),
]


@pytest.mark.parametrize(("code", "expected"), SHOWN)
def test_a_final_expression_is_the_result(sandbox: Sandbox, code: str, expected: Any) -> None:
    """It returns the value of a final bare expression, like a notebook's Out[n]."""
    res = sandbox.run(code)
    assert res.status == "ok", res.error
    assert res.result == expected


KEPT = [
    pytest.param("result = 5\n1 + 1", 5, id="assigned-before"),
    pytest.param("result = 5", 5, id="assigned-only"),
    pytest.param("for result in range(3):\n    pass\n99", 2, id="for-target"),
    pytest.param("result = 1\nresult += 1\n99", 2, id="augmented"),
    pytest.param("def f():\n    global result\n    result = 8\nf()", 8, id="global"),
    pytest.param("x = 1\nif x:\n    result = 'branch'\nx", "branch", id="conditional"),
    pytest.param("[result := 4]\n99", 4, id="walrus"),
    pytest.param("x = 1", None, id="no-expression"),
    pytest.param("x = 1\nif x:\n    x", None, id="nested-expression"),
]


@pytest.mark.parametrize(("code", "expected"), KEPT)
def test_code_that_binds_result_keeps_its_own(sandbox: Sandbox, code: str, expected: Any) -> None:
    """It leaves the result alone when the code binds `result` anywhere (or ends in no
    expression): `result = ...` works exactly as before."""
    res = sandbox.run(code)
    assert res.status == "ok", res.error
    assert res.result == expected


def test_a_session_shows_the_final_expression(sandbox: Sandbox) -> None:
    """It shows the final expression in a session, with the state of earlier runs."""
    with sandbox.session() as live:
        live.run("total = 40")
        assert live.run("total + 2").result == 42
        assert live.run("total").result == 40


def test_the_rewritten_code_is_still_checked(sandbox: Sandbox) -> None:
    """It refuses a refused final expression as before (the step runs before the policy)."""
    res = sandbox.run("()._private")
    assert res.status == "rejected"


def test_the_tool_answer_shows_the_value(sandbox: Sandbox) -> None:
    """It answers run_python with the expression's value on the tool surface."""
    assert sandbox.call("run_python", {"code": "6 * 7"}).content == "result: 42"


@pytest.mark.parametrize(
    "code",
    [
        "import json as result\n1",
        "from math import floor as result\n1",
        "def result():\n    pass\n1",
        "class result:\n    pass\n1",
        "try:\n    pass\nexcept Exception as result:\n    pass\n1",
        "with open('n.txt') as result:\n    pass\n1",
        "del result\n1",
        "match 1:\n    case result:\n        pass\n1",
        "match {}:\n    case {**result}:\n        pass\n1",
    ],
)
def test_every_binding_of_result_counts(code: str) -> None:
    """It recognises every way code can bind `result` (and leaves such code unchanged)."""
    tree = ast.parse(code)
    before = ast.dump(tree)
    assert ast.dump(display_last_expression(tree)) == before


def test_the_rewrite_keeps_line_numbers() -> None:
    """It keeps the expression's line, so errors point at the user's line."""
    tree = display_last_expression(ast.parse("x = 1\n\n1 / 0"))
    assert tree.body[-1].lineno == 3


def test_python_mode_shows_the_final_expression_too(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """It shows a final bare expression in language="python" (full CPython) as well."""
    policy = SandboxPolicy(language="python", pool_size=1)
    with Sandbox(tmp_path_factory.mktemp("python-display"), policy) as box:
        assert box.run("x = [3, 1, 2]\nsorted(x)").result == [1, 2, 3]
        assert box.run("result = 5\n1 + 1").result == 5


def test_a_displayed_value_that_is_not_json_is_not_an_error(sandbox: Sandbox) -> None:
    """It shows nothing for a final expression whose value is not JSON data (the code did not
    ask for it to be the result), while `result = <such a value>` stays an error."""
    shown = sandbox.run("import re\nre.compile('x')")
    assert shown.status == "ok", shown.error
    assert shown.result is None
    assert sandbox.run("import re\nresult = re.compile('x')").status == "error"


def test_python_mode_shows_a_value_that_is_not_json_as_its_repr(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """It shows a displayed value that is not JSON data as its repr in full Python (Out[n])."""
    policy = SandboxPolicy(language="python", pool_size=1)
    with Sandbox(tmp_path_factory.mktemp("python-repr"), policy) as box:
        shown = box.run(
            "class Point:\n    def __repr__(self):\n        return 'Point(1, 2)'\nPoint()"
        )
        assert shown.status == "ok", shown.error
        assert shown.result == "Point(1, 2)"
        assert box.run("result = object()").status == "error"
