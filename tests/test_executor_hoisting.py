"""Type tests hoisted out of loops change speed, never meaning.

Inside a function's loop, ``type(a) in <plain types>`` for a local name is computed once before
the loop only when the name is definitely bound there and nothing in the loop can rebind it;
everything else keeps the per-use test, and refusals still happen.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox.executor.fast_transformer import FastAgentPolicy
from ai_sandbox.executor.runtime import execute_payload
from ai_sandbox.executor.transformer import AgentPolicy
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS


def _transformed(source: str) -> str:
    tree = ast.parse(source)
    errors: list[str] = []
    FastAgentPolicy(errors, [], {}).visit(tree)
    assert errors == []
    return ast.unparse(tree)


def _hoisted(source: str) -> set[str]:
    """The names whose type tests were hoisted (``_ai_<kinds>_<name> = ...``)."""
    tree = ast.parse(_transformed(source))
    return {
        target.id.rpartition("_")[2]
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.startswith("_ai_")
    }


def _loop(body: str, before: str = "", params: str = "a, b") -> str:
    indented = "\n".join(f"        {line}" for line in body.splitlines())
    return f"def f({params}):\n    {before or 'pass'}\n    for i in range(3):\n{indented}\n"


HOISTED: list[tuple[str, str, set[str]]] = [
    ("parameter", _loop("a[i]"), {"a"}),
    ("assigned-before", _loop("c[i]", before="c = [1, 2, 3]"), {"c"}),
    ("method-call", _loop("b.append(i)"), {"b"}),
    ("store-container", _loop("a[i] = i"), {"a"}),
    ("nested-loop-hoists-to-outer", _loop("for j in b:\n    a[j]"), {"a"}),
    ("while-loop", "def f(a):\n    n = 0\n    while n < 3:\n        a[n]\n        n += 1\n",
     {"a"}),
]  # fmt: skip

NOT_HOISTED: list[tuple[str, str]] = [
    ("module-level-loop", "a = [1]\nfor i in range(3):\n    a[0]\n"),
    ("rebound-in-loop", _loop("a[i]\na = b")),
    ("augassigned-in-loop", _loop("a[i]\na += b")),
    ("loop-target", "def f(a):\n    for a in a:\n        a[0]\n"),
    ("nested-loop-target", _loop("for a in b:\n    a[0]")),
    ("deleted-in-loop", _loop("a[i]\ndel a")),
    ("except-target-in-loop", _loop("try:\n    a[i]\nexcept KeyError as a:\n    pass")),
    ("with-target-in-loop", _loop("a[i]\nwith b as a:\n    pass")),
    ("walrus-in-loop", _loop("a[i]\n(a := b)")),
    ("walrus-in-comprehension-in-loop", _loop("a[i]\n[(a := x) for x in b]")),
    ("import-in-loop", _loop("json[0]\nimport json")),
    ("def-in-loop", _loop("a[i]\ndef a():\n    pass")),
    ("class-in-loop", _loop("a[i]\nclass a:\n    pass")),
    ("conditionally-bound", _loop("c[i]", before="if a:\n        c = [1]")),
    ("deleted-before", _loop("a[i]", before="del a")),
    ("except-target-before",
     _loop("a[i]", before="try:\n        pass\n    except E as a:\n        pass")),
    ("global-name", "def f():\n    global g\n    g = [1]\n    for i in range(3):\n"
     "        g[0]\n"),
    ("name-loaded-not-bound", "def f():\n    g[0] = 1\n    for i in range(3):\n        g[0]\n"),
    ("free-variable", "def f(a):\n    def g():\n        for i in range(3):\n"
     "            a[i]\n    return g\n"),
    ("inside-comprehension", _loop("[a[j] for j in b]")),
    ("inside-lambda", _loop("h = lambda: a[0]")),
    ("class-body-loop", "class C:\n    a = [1]\n    for i in range(3):\n        a[0]\n"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "source", "names"), HOISTED, ids=[h[0] for h in HOISTED])
def test_hoists_tests_of_stable_locals(case: str, source: str, names: set[str]) -> None:
    """It computes the type test of a local the loop never rebinds once, before the loop."""
    assert _hoisted(source) == names


@pytest.mark.parametrize(("case", "source"), NOT_HOISTED, ids=[n[0] for n in NOT_HOISTED])
def test_keeps_per_use_tests_when_name_may_change(case: str, source: str) -> None:
    """It keeps the per-use test for a name that may be unbound or rebound during the loop."""
    assert _hoisted(source) == set()


def test_hoisted_loop_body_has_no_per_use_test() -> None:
    """It leaves no ``_type_`` call for a hoisted name inside the loop."""
    code = _transformed(_loop("a[i]\nb.append(a[i])"))
    loop = code[code.index("for i") :]
    assert "_type_" not in loop


@pytest.mark.parametrize(
    ("case", "source"), [*((h[0], h[1]) for h in HOISTED), *NOT_HOISTED],
    ids=[*(h[0] for h in HOISTED), *(n[0] for n in NOT_HOISTED)],
)  # fmt: skip
def test_fast_and_reference_transformers_agree(case: str, source: str) -> None:
    """It produces the same tree with the fast and the reference traversal."""
    trees = []
    for policy in (FastAgentPolicy, AgentPolicy):
        tree = ast.parse(source)
        errors: list[str] = []
        policy(errors, [], {}).visit(tree)
        trees.append((ast.dump(tree, include_attributes=True), errors))
    assert trees[0] == trees[1]


def _run(code: str, root: Path) -> dict[str, Any]:
    policy = SandboxPolicy(isolation="none")
    with SafeFS(root, policy) as fs:
        return execute_payload(code, None, policy=policy, fs=fs)


@pytest.mark.parametrize(
    "code",
    [
        "import math\ndef f(m):\n    for i in range(2):\n        m[0]\nf(math)",
        "import math\ndef f(m):\n    for i in range(2):\n        m.x = 1\nf(math)",
        "import math\ndef f(a, m):\n    for i in range(2):\n        a[0]\n        a = m\n"
        "f([1], math)",
        "import math\ndef swap():\n    global box\n    box = math\nbox = [1]\n"
        "def f():\n    for i in range(2):\n        box[0]\n        swap()\nf()",
        "def f(g):\n    for i in range(2):\n        g.gi_frame\nf(x for x in [1])",
    ],
    ids=["item-of-module", "write-to-module", "rebound-to-module",
         "global-swapped-by-callee", "frame-attribute"],
)  # fmt: skip
def test_loops_in_functions_still_refuse(code: str, project: Path) -> None:
    """It still refuses inside functions' loops, also when a name is rebound mid-loop."""
    payload = _run(code, project)
    assert payload["status"] == "rejected", payload


def test_hoisted_merge_sort_sorts(project: Path) -> None:
    """It runs a merge sort (whose loop tests are hoisted) to the right answer."""
    code = (
        "def merge(left, right):\n    out = []\n    i = j = 0\n"
        "    while i < len(left) and j < len(right):\n"
        "        if left[i] <= right[j]:\n            out.append(left[i])\n            i += 1\n"
        "        else:\n            out.append(right[j])\n            j += 1\n"
        "    return out + left[i:] + right[j:]\n"
        "def sort(a):\n    if len(a) <= 1:\n        return a\n"
        "    return merge(sort(a[:len(a) // 2]), sort(a[len(a) // 2:]))\n"
        "result = sort([5, 3, 9, 1, 7, 3])\n"
    )
    payload = _run(code, project)
    assert payload["result"] == [1, 3, 3, 5, 7, 9]
