"""The compiler's fast paths change speed, never meaning.

``FastAgentPolicy`` must produce exactly the tree (with locations) and the errors of the
reference ``AgentPolicy``; the inline type tests must only skip a guard where the guard is the
identity; nodes the fast traversal skips must be ones RestrictedPython allows and that have no
children.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

import pytest
from RestrictedPython.transformer import RestrictingNodeTransformer

from ai_sandbox.executor.compiler import CompileRefusal, compile_ai_code
from ai_sandbox.executor.context import RunContext
from ai_sandbox.executor.fast_transformer import LEAF_NODES, FastAgentPolicy
from ai_sandbox.executor.guards import (
    PASS_THROUGH_TYPES,
    PLAIN_ATTRIBUTES,
    PLAIN_WRITE_TYPES,
    make_guards,
)
from ai_sandbox.executor.transformer import AgentPolicy
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS

HERE = Path(__file__).parent


def _corpus() -> list[tuple[str, str]]:
    from test_escapes_everyday import ABUSES, MODULE_ABUSES
    from test_executor import ADVICE, ERRORS, IDIOMS  # the functional tables double as corpus
    from test_executor_everyday import EVERYDAY, MODULES

    attacks = tomllib.loads((HERE / "attacks" / "escapes.toml").read_text())["attack"]
    bench = (HERE.parent / "bench" / "executor_bench.py").read_text()
    programs = [(f"idiom-{i[0]}", i[1]) for i in IDIOMS]
    programs += [(f"advice-{a[0]}", a[1]) for a in ADVICE]
    programs += [(f"error-{e[0]}", e[1]) for e in ERRORS]
    programs += [(f"attack-{a['id']}", a["code"]) for a in attacks]
    programs += [("bench-module", bench)]
    programs += [(f"everyday-{e[0]}", e[1]) for e in [*EVERYDAY, *MODULES]]
    programs += [(f"abuse-{a[0]}", a[1]) for a in [*ABUSES, *MODULE_ABUSES]]
    programs += [
        ("with-unpack", "with open('a') as (x, y):\n    pass\n"),
        ("star-call", "def f(*a, **k):\n    return a\nf(*[1], **{'b': 2})\n"),
        ("printed", "def f():\n    print(1)\n    return printed\n"),
        ("nested-loops", "for i in range(2):\n    for j, (k, m) in []:\n        x = y[i][j].z\n"),
        ("class-body", "class A:\n    x = [1]\n    y = x[0]\n    def m(self):\n"
         "        self.v[0] += self.w.get(1)\n"),
    ]  # fmt: skip
    return programs


CORPUS = _corpus()


def _transform(policy_class: type[AgentPolicy], source: str) -> tuple[str, list[str], Any]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ("syntax error", [], None)
    errors: list[str] = []
    warnings: list[str] = []
    used: dict[str, bool] = {}
    policy_class(errors, warnings, used).visit(tree)
    return ast.dump(tree, include_attributes=True), errors, (warnings, used)


@pytest.mark.parametrize(("label", "source"), CORPUS, ids=[c[0] for c in CORPUS])
def test_fast_transformer_matches_reference(label: str, source: str) -> None:
    """It produces the same tree, locations, errors and warnings as the reference policy."""
    assert _transform(FastAgentPolicy, source) == _transform(AgentPolicy, source)


def test_skipped_leaves_are_allowed_and_childless() -> None:
    """It skips only node types RestrictedPython explicitly allows and that have no children."""
    for node_type in LEAF_NODES:
        assert f"visit_{node_type.__name__}" in vars(RestrictingNodeTransformer), node_type
        assert node_type._fields in ((), ("value", "kind")), node_type


def test_unknown_node_types_are_still_refused() -> None:
    """It refuses syntax without a reviewed rule (``except*`` here) in the fast path."""
    refused = compile_ai_code("try:\n    pass\nexcept* ValueError:\n    pass\n")
    assert isinstance(refused, CompileRefusal)
    assert (refused.status, refused.rule) == ("rejected", "syntax")


SAMPLES: dict[type, Any] = {
    str: "a,b", bytes: b"ab", bytearray: bytearray(b"ab"), int: 5, float: 1.5, complex: 1j,
    bool: True, list: [1, 2], tuple: (1, 2), dict: {"a": 1}, set: {1}, frozenset: frozenset({1}),
    range: range(3), slice: slice(1, 2), type(None): None,
    type({}.items()): {"a": 1}.items(), type({}.keys()): {"a": 1}.keys(),
    type({}.values()): {"a": 1}.values(), enumerate: enumerate("ab"), zip: zip("ab"),
    map: map(abs, [1]), filter: filter(None, [1]), reversed: reversed([1]),
}  # fmt: skip


@pytest.fixture
def guards(tmp_path: Path) -> Any:
    policy = SandboxPolicy(isolation="none")
    with SafeFS(tmp_path, policy) as fs:
        yield make_guards(RunContext(policy, fs))


def _outcome(fn: Any) -> Any:
    try:
        value = fn()
    except Exception as exc:
        return ("raises", type(exc))
    return ("value", value)


@pytest.mark.parametrize("kind", sorted(PLAIN_ATTRIBUTES, key=lambda t: t.__name__))
def test_inline_attribute_path_equals_guard(kind: type, guards: Any) -> None:
    """It inlines attribute reads only for types where the guard returns plain getattr."""
    obj = SAMPLES[kind]
    for name in [n for n in dir(kind) if not n.startswith("_")] + ["missing"]:
        if name in ("format", "format_map"):
            continue  # never inlined: str.format is always guarded
        assert _outcome(lambda n=name: getattr(obj, n)) == _outcome(
            lambda n=name: guards.getattr(obj, n)
        ), (kind, name)


@pytest.mark.parametrize("kind", sorted(PASS_THROUGH_TYPES, key=lambda t: t.__name__))
def test_inline_item_path_equals_guard(kind: type, guards: Any) -> None:
    """It inlines item reads only for types where the guard returns plain obj[key]."""
    obj = SAMPLES.get(kind) if kind in SAMPLES else (x for x in ())
    for key in (0, "a", slice(0, 1)):
        assert _outcome(lambda k=key: obj[k]) == _outcome(lambda k=key: guards.getitem(obj, k))


@pytest.mark.parametrize("kind", sorted(PLAIN_WRITE_TYPES, key=lambda t: t.__name__))
def test_inline_write_path_equals_guard(kind: type, guards: Any) -> None:
    """It inlines writes only for types whose write guard returns the object itself."""
    obj = SAMPLES[kind]
    assert guards.write(obj) is obj


@pytest.mark.parametrize(
    "code",
    [
        "import math\ndef f(m):\n    return m[0]\nf(math)",
        "import math\ndef f(m):\n    m.x = 1\nf(math)",
        "def f(s):\n    return s.format(1)\nf('{0.real}')",
        "def f(g):\n    return g.gi_frame\n",
    ],
    ids=["item-of-module", "write-to-module", "format-method", "frame-attribute"],
)
def test_inline_paths_still_refuse(code: str, tmp_path: Path) -> None:
    """It still refuses through names inside functions, where the fast paths apply."""
    from ai_sandbox.executor.runtime import execute_payload

    policy = SandboxPolicy(isolation="none")
    with SafeFS(tmp_path, policy) as fs:
        payload = execute_payload(code, None, policy=policy, fs=fs)
    assert payload["status"] == "rejected", payload
