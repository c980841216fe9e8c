"""Escape attempts against the restricted executor: each is refused and has no side effect.

The attacks are data (``tests/attacks/escapes.toml``, one row each, grouped by attack class).
Every row runs through the real path layer (``SafeFS``) with a canary file outside the root:
the run must be refused, the canary's content must never come back, and nothing may be
written outside the root.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ai_sandbox.executor.runtime import execute_payload
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS

CANARY_TEXT = "CANARY-7f3a-outside-the-root"
ATTACKS: list[dict[str, Any]] = tomllib.loads(
    (Path(__file__).parent / "attacks" / "escapes.toml").read_text(encoding="utf-8")
)["attack"]


def _run(code: str, root: Path, *, allow_writes: bool = False) -> dict[str, Any]:
    policy = SandboxPolicy(isolation="none", allow_writes=allow_writes)
    with SafeFS(root, policy) as fs:
        return execute_payload(code, None, policy=policy, fs=fs)


def test_attack_ids_are_unique() -> None:
    """It keeps one row per attack: ids are unique."""
    ids = [a["id"] for a in ATTACKS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("attack", ATTACKS, ids=[f"{a['cls']}-{a['id']}" for a in ATTACKS])
def test_attack_is_refused_without_side_effect(
    attack: dict[str, Any], project: Path, canary: Path
) -> None:
    """It refuses the attack; the canary stays unread and nothing is written outside root."""
    outside = canary.parent
    code = attack["code"].replace("{canary}", str(canary)).replace("{outside}", str(outside))
    payload = _run(code, project, allow_writes=attack.get("allow_writes", False))

    if attack.get("expect", "rejected") == "rejected":
        assert payload["status"] == "rejected", payload
        assert payload["error"]["type"] == "SecurityError"
        assert payload["error"]["rule"]
    else:
        assert payload["status"] != "ok", payload
    assert CANARY_TEXT not in json.dumps(payload)
    assert canary.read_text(encoding="utf-8") == CANARY_TEXT
    assert not (outside / "pwned.txt").exists()
    assert payload["result"] is None


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("import os", "import"),
        ("x = ().__class__.__base__", "syntax"),
        ("x = getattr(1, '__base__')", "attribute"),
        ("x = '{0.real}'.format(1)", "format"),
        ("x = eval", "syntax"),
    ],
    ids=["import", "syntax", "attribute", "format", "reserved-name"],
)
def test_refusal_names_its_rule(code: str, rule: str, project: Path) -> None:
    """It names the policy rule that refused, so the audit log and the model can tell why."""
    payload = _run(code, project)
    if code == "x = eval":  # naming eval is allowed; calling the stub is refused
        payload = _run("x = eval\nx('1')", project)
        rule = "builtin"
    assert payload["status"] == "rejected"
    assert payload["error"]["rule"] == rule


def test_refused_run_reports_line_of_refusal(project: Path) -> None:
    """It reports the line of the AI's code where the refusal happened."""
    payload = _run("a = 1\nb = 2\nc = getattr(a, '__base__')\n", project)
    assert payload["error"]["line"] == 3


@pytest.mark.parametrize(
    "refused",
    [
        "import os",
        "from json import decoder",
        "from statistics import sys",
        "import json\njson.decoder",
        "import collections\ncollections.UserString.format('{0}', 1)",
    ],
    ids=["import", "from-import-submodule", "from-import-hidden", "attribute", "format"],
)
def test_caught_refusal_still_rejects_run(project: Path, refused: str) -> None:
    """It rejects a run whose code caught a SecurityError and carried on, however the
    refusal came (an import, a `from` import of a withheld name, an attribute)."""
    body = "\n".join(f"    {line}" for line in refused.splitlines())
    code = f"try:\n{body}\nexcept BaseException:\n    pass\nresult = 'escaped'\n"
    payload = _run(code, project)
    assert payload["status"] == "rejected", payload
    assert payload["error"]["type"] == "SecurityError"
    assert payload["error"]["line"] == 1 + len(refused.splitlines())


def test_host_module_is_unchanged_after_overwrite_attempt(project: Path) -> None:
    """It leaves the host's modules untouched when the code tries to overwrite them."""
    import math

    sqrt = math.sqrt
    _run("import math\nmath.sqrt = None\n", project)
    _run("import math\nsetattr(math, 'sqrt', None)\n", project)
    assert math.sqrt is sqrt


def test_the_decimal_context_the_code_changes_is_its_own(project: Path) -> None:
    """It gives the code the run's own decimal context to change (``getcontext().prec = 2``
    works inside the run); the host's context stays as it was."""
    import decimal

    with decimal.localcontext(decimal.Context(prec=40)) as host:
        code = "import decimal\ndecimal.getcontext().prec = 2\n"
        payload = _run(code + "result = str(decimal.Decimal(1) / decimal.Decimal(3))", project)
        assert payload["status"] == "ok", payload
        assert payload["result"] == "0.33"
        assert decimal.getcontext() is host
        assert host.prec == 40


# -- module attribute chains ------------------------------------------------------------------
def _dangerous_host_callables() -> set[int]:
    """Ids of host callables that reach the OS, the interpreter or code execution."""
    import builtins
    import io
    import os
    import sys

    found = {
        id(getattr(builtins, n))
        for n in ("open", "eval", "exec", "compile", "__import__", "getattr", "setattr",
                  "delattr", "vars", "dir", "globals", "locals", "breakpoint", "input")
    }  # fmt: skip
    for module in (os, sys, io):
        # the collections.abc classes os imports are allowed (collections.abc is a default)
        found.update(
            id(v)
            for v in vars(module).values()
            if callable(v) and getattr(v, "__module__", None) != "collections.abc"
        )
    return found


def _walk_module(name: str, policy: SandboxPolicy, fs: SafeFS) -> list[tuple[str, Any]]:
    """Every value reachable from module ``name`` through the sandbox's own getattr, 3 deep."""
    from ai_sandbox.executor.context import RunContext
    from ai_sandbox.executor.guards import make_guards
    from ai_sandbox.executor.modules import make_import

    ctx = RunContext(policy, fs)
    guards = make_guards(ctx)
    root = make_import(policy.allowed_imports, ctx.refuse)(name, None, None, ("x",), 0)
    reached: list[tuple[str, Any]] = []
    frontier: list[tuple[str, Any]] = [(name, root)]
    seen: set[int] = set()
    for _depth in range(3):
        following: list[tuple[str, Any]] = []
        for path, obj in frontier:
            for attr in dir(obj):
                if attr.startswith("_"):
                    continue
                try:
                    value = guards.safe_getattr(obj, attr)
                except Exception:  # refused, or a property that raises: nothing reached
                    continue
                if id(value) in seen:
                    continue
                seen.add(id(value))
                reached.append((f"{path}.{attr}", value))
                following.append((f"{path}.{attr}", value))
        frontier = following
    return reached


@pytest.mark.parametrize("module", sorted(SandboxPolicy().allowed_imports))
def test_module_attribute_chains_reach_nothing_dangerous(module: str, project: Path) -> None:
    """It hands out no module, frame, code object or OS-reaching builtin from any allowed
    module, following every public attribute three levels deep."""
    import types

    from ai_sandbox.executor.modules import ModuleProxy, is_dangerous_callable

    policy = SandboxPolicy(isolation="none")
    dangerous = _dangerous_host_callables()
    forbidden = (types.ModuleType, types.FrameType, types.CodeType, types.TracebackType)
    with SafeFS(project, policy) as fs:
        reached = _walk_module(module, policy, fs)
    assert reached, f"nothing reachable from {module}?"
    for path, value in reached:
        assert not isinstance(value, forbidden), path
        assert id(value) not in dangerous, path
        assert not is_dangerous_callable(value, policy.allowed_imports), path
        if isinstance(value, ModuleProxy):
            assert repr(value).split("'")[1] in policy.allowed_imports, path


def test_string_module_exposes_constants_only(project: Path) -> None:
    """It exposes only the string constants of the `string` module."""
    from ai_sandbox.executor.modules import proxy_for

    proxy = proxy_for("string", SandboxPolicy().allowed_imports)
    values = [getattr(proxy, n) for n in dir(proxy)]
    assert values
    assert all(isinstance(v, str) for v in values)


# -- the C-level import path ---------------------------------------------------------------------
def _import_hook(policy: SandboxPolicy) -> Any:
    """The ``__import__`` a namespace's builtins carry (what C code in its frames calls)."""
    from ai_sandbox.executor.context import RunContext
    from ai_sandbox.executor.modules import make_import

    return make_import(policy.allowed_imports, RunContext(policy, _NoFiles()).refuse)


class _NoFiles:
    def read_bytes(self, path: str) -> bytes:
        raise AssertionError("no file access expected")

    def write_bytes(self, path: str, data: bytes) -> int:
        raise AssertionError("no file access expected")


@pytest.mark.parametrize("name", ["_strptime", "re", "time", "unicodedata", "datetime"])
def test_c_level_import_hands_out_no_module(name: str) -> None:
    """It imports a module for PyImport_Import's call shape and returns None, not the module."""
    import sys

    namespace: dict[str, Any] = {}
    hook = _import_hook(SandboxPolicy(isolation="none"))
    assert hook(name, namespace, namespace, [], 0) is None
    assert name in sys.modules


_SHAPES: list[tuple[str, Any, bool, Any, int]] = [
    ("os", "os", True, [], 0),
    ("sys", "sys", True, [], 0),
    ("posix", "posix", True, [], 0),
    ("builtins", "builtins", True, [], 0),
    ("importlib", "importlib", True, [], 0),
    ("io-private", "_io", True, [], 0),
    ("ctypes", "ctypes", True, [], 0),
    ("submodule-not-allowed", "json.tool", True, [], 0),
    ("empty-name", "", True, [], 0),
    ("non-string-name", b"_strptime", True, [], 0),
    ("str-subclass-name", type("S", (str,), {})("_strptime"), True, [], 0),
    ("old-silly-list", "_strptime", True, ["__doc__"], 0),
    ("named-fromlist", "_strptime", True, ["strftime"], 0),
    ("relative", "_strptime", True, [], 1),
    ("distinct-locals", "_strptime", False, [], 0),
    ("list-subclass", "_strptime", True, type("L", (list,), {})(), 0),
    ("tuple-fromlist", "_strptime", True, (), 0),
    ("none-fromlist", "_strptime", True, None, 0),
]


@pytest.mark.parametrize(
    ("name", "same_locals", "fromlist", "level"),
    [shape[1:] for shape in _SHAPES],
    ids=[shape[0] for shape in _SHAPES],
)
def test_c_level_import_refuses_other_modules_and_shapes(
    name: Any, same_locals: bool, fromlist: Any, level: int
) -> None:
    """It refuses, also on the C-level path, every module outside the short list and every
    call that is not exactly PyImport_Import's shape."""
    from ai_sandbox.exceptions import SecurityError

    namespace: dict[str, Any] = {}
    locals_ = namespace if same_locals else {}
    hook = _import_hook(SandboxPolicy(isolation="none"))
    with pytest.raises(SecurityError):
        hook(name, namespace, locals_, fromlist, level)


def test_c_level_imports_are_few_and_never_dangerous() -> None:
    """It keeps the C-level list to reviewed pure-computation modules, none refused outright."""
    from ai_sandbox.executor.modules import C_LEVEL_IMPORTS, NEVER_IMPORTABLE

    assert frozenset({"_strptime", "re", "time", "unicodedata"}) == C_LEVEL_IMPORTS
    assert not C_LEVEL_IMPORTS & NEVER_IMPORTABLE


# -- objects smuggled in through inputs --------------------------------------------------------
class _Spy:
    """A host object that records any attribute lookup made on it."""

    touched: list[str]

    def __init__(self) -> None:
        object.__setattr__(self, "touched", [])

    def __getattr__(self, name: str) -> Any:
        self.touched.append(name)
        raise AttributeError(name)


def _smuggled() -> list[tuple[str, Any]]:
    import io
    import os

    called: list[str] = []

    def host_function() -> None:
        called.append("called")

    return [
        ("function", host_function),
        ("lambda-in-list", [1, lambda: os.system("true")]),
        ("module", os),
        ("builtin", open),
        ("class", _Spy),
        ("object", _Spy()),
        ("object-in-dict", {"a": {"b": _Spy()}}),
        ("file", io.StringIO("x")),
        ("generator", (i for i in range(3))),
        ("bytes", b"secret"),
        ("set", {1, 2}),
        ("non-string-key", {1: "a"}),
    ]


@pytest.mark.parametrize(("label", "value"), _smuggled(), ids=[s[0] for s in _smuggled()])
def test_smuggled_input_is_refused(label: str, value: Any, project: Path) -> None:
    """It refuses inputs that are not plain JSON data, naming the input, without touching it."""
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        payload = execute_payload("result = 1", {"x": value}, policy=policy, fs=fs)
    assert payload["status"] == "rejected"
    assert payload["error"]["rule"] == "inputs"
    assert "inputs['x']" in payload["error"]["message"]
    if isinstance(value, _Spy):
        assert value.touched == []


@pytest.mark.parametrize("name", ["_getattr_", "__builtins__", "_x", "not an identifier", ""])
def test_input_names_cannot_shadow_guards(name: str, project: Path) -> None:
    """It refuses input names that start with '_' or are not identifiers."""
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        payload = execute_payload("result = 1", {name: 1}, policy=policy, fs=fs)
    assert payload["status"] == "rejected"
    assert payload["error"]["rule"] == "inputs"


# -- process-wide state of allowed modules ---------------------------------------------------------
def _host_random_is_reseeded() -> bool:
    """True if the host's global random generator now yields the sequence of seed(1234)."""
    import random

    state = random.getstate()
    expected = random.Random(1234).random()
    try:
        return random.random() == expected
    finally:
        random.setstate(state)


def _host_decimal_precision_changed() -> bool:
    import decimal

    return decimal.getcontext().prec != 28


def _host_default_context_changed() -> bool:
    import decimal

    default = decimal.DefaultContext
    return (
        default.prec != 28
        or not default.traps[decimal.InvalidOperation]
        or default.traps[decimal.Inexact]
    )


_HOST_STATE: list[tuple[str, str, Any]] = [
    ("random-seed", "import random\nrandom.seed(1234)", _host_random_is_reseeded),
    (
        "random-setstate",
        "import random\nrandom.setstate(random.Random(1234).getstate())",
        _host_random_is_reseeded,
    ),
    (
        "random-seed-from-import",
        "from random import seed\nseed(1234)",
        _host_random_is_reseeded,
    ),
    (
        "decimal-setcontext",
        "import decimal\ndecimal.setcontext(decimal.Context(prec=3))",
        _host_decimal_precision_changed,
    ),
    (
        "decimal-default-context-traps",
        "import decimal\ndecimal.DefaultContext.traps.update({decimal.InvalidOperation: False})",
        _host_default_context_changed,
    ),
    (
        "decimal-default-context-clear-traps",
        "import decimal\ndecimal.DefaultContext.clear_traps()",
        _host_default_context_changed,
    ),
    (
        "decimal-basic-context-installed",
        "import decimal\ndecimal.setcontext(decimal.BasicContext)",
        _host_decimal_precision_changed,
    ),
]


@pytest.mark.parametrize(
    ("code", "changed"), [s[1:] for s in _HOST_STATE], ids=[s[0] for s in _HOST_STATE]
)
def test_process_wide_module_state_stays_private(code: str, changed: Any, project: Path) -> None:
    """It gives each namespace its own random generator and decimal contexts, so code that
    seeds or reconfigures them (ordinary code) leaves the host's state as it was."""
    import decimal

    with decimal.localcontext(decimal.Context()):
        payload = _run(code, project)
        assert payload["status"] == "ok", payload
        assert not changed()


def test_seeded_random_is_reproducible_inside_the_sandbox(project: Path) -> None:
    """It keeps random.seed() useful: the sandbox's own generator follows the seed."""
    import random

    payload = _run("import random\nrandom.seed(7)\nresult = random.random()", project)
    assert payload["result"] == random.Random(7).random()


def test_namespaces_do_not_share_a_random_generator(project: Path) -> None:
    """It gives two runs two generators: one run's seed does not decide the next run's numbers."""
    import random

    _run("import random\nrandom.seed(7)", project)
    payload = _run("import random\nresult = random.random()", project)
    assert payload["result"] != random.Random(7).random()


@pytest.mark.parametrize("module", sorted(SandboxPolicy().allowed_imports))
def test_no_module_value_is_bound_to_shared_host_state(module: str) -> None:
    """It exposes no method of a process-wide object, and no process-wide object of a kind
    known to carry state, except as a per-namespace copy."""
    from ai_sandbox.executor.context import RunContext
    from ai_sandbox.executor.modules import PRIVATE_STATE_TYPES, make_import

    policy = SandboxPolicy(isolation="none")
    proxies = [
        make_import(policy.allowed_imports, RunContext(policy, _NoFiles()).refuse)(
            module, None, None, ("x",), 0
        )
        for _ in range(2)
    ]
    first, second = ({n: getattr(p, n) for n in dir(p)} for p in proxies)
    for name, value in first.items():
        owner = getattr(value, "__self__", None)
        stateful = type(value) in PRIVATE_STATE_TYPES or type(owner) in PRIVATE_STATE_TYPES
        if stateful:
            other_owner = getattr(second[name], "__self__", second[name])
            assert (owner or value) is not other_owner, f"{module}.{name} is shared"
            continue
        assert owner is None or isinstance(owner, type | ModuleType), f"{module}.{name}"


WRAPPER_COPIES = [
    (
        "update-wrapper-globals",
        "import functools, json\ndef mine():\n    pass\n"
        "functools.update_wrapper(mine, json.dumps, assigned=(), updated=('__globals__',))",
    ),
    (
        "wraps-globals",
        "import functools, json\n"
        "@functools.wraps(json.dumps, assigned=(), updated=('__globals__',))\n"
        "def mine():\n    pass",
    ),
]


@pytest.mark.parametrize("code", [c for _, c in WRAPPER_COPIES], ids=[i for i, _ in WRAPPER_COPIES])
def test_functools_cannot_copy_attributes_by_name(code: str, project: Path) -> None:
    """It refuses functools.update_wrapper and wraps with attribute names of the caller's
    choosing, which they copy with the real getattr (a host function's `__globals__`, and so
    real builtins); only their default names are copied, onto the code's own functions."""
    policy = SandboxPolicy(
        isolation="none", allowed_imports=SandboxPolicy().allowed_imports | {"functools"}
    )
    with SafeFS(project, policy) as fs:
        payload = execute_payload(code + "\nresult = 'escaped'", None, policy=policy, fs=fs)
    assert payload["status"] == "rejected", payload
    assert payload["error"]["rule"] == "attribute"


_GENERATOR_LEFT_OPEN = (
    "import decimal\ndef later():\n    try:\n        yield 1\n    finally:\n        {action}\n"
    "pending = later()\nnext(pending)\n"
)

#: Code that runs after the run has ended: in the host's str() of the exception, or when the
#: garbage collector finalizes a generator the code left suspended (also inside a cycle).
DEFERRED = [
    (
        "exception-message-hook",
        "import datetime, decimal\nclass Day(datetime.date):\n    def isoformat(self, *a):\n"
        "        decimal.setcontext(decimal.Context(prec=3))\n        return 'x'\n"
        "raise ValueError(Day(2020, 1, 1))",
    ),
    (
        "generator-finalizer-setcontext",
        _GENERATOR_LEFT_OPEN.format(action="decimal.setcontext(decimal.Context(prec=2))"),
    ),
    (
        "generator-finalizer-getcontext",
        _GENERATOR_LEFT_OPEN.format(action="decimal.getcontext().clear_traps()"),
    ),
    (
        "suspended-localcontext",
        "import decimal\nevil = decimal.Context(prec=3, traps=[decimal.Inexact])\n"
        "def later():\n    mine = decimal.getcontext()\n    decimal.setcontext(evil)\n"
        "    with decimal.localcontext():\n        decimal.setcontext(mine)\n        yield 1\n"
        "pending = later()\nnext(pending)\nbox = [pending]\nbox.append(box)\n",
    ),
    (
        "generator-in-a-cycle",
        _GENERATOR_LEFT_OPEN.format(action="decimal.setcontext(decimal.Context(prec=2))")
        + "box = [pending]\nbox.append(box)\n",
    ),
]


@pytest.mark.parametrize("code", [c for _, c in DEFERRED], ids=[i for i, _ in DEFERRED])
def test_code_running_after_the_run_cannot_reach_the_hosts_decimal_context(
    code: str, project: Path
) -> None:
    """It keeps the host thread's decimal context as it was, even for the code's leftovers
    that run once the run is over."""
    import decimal
    import gc

    with decimal.localcontext(decimal.Context()) as host:
        _run(code, project)
        gc.collect()
        assert decimal.getcontext() is host
        assert host.prec == 28
        assert host.traps[decimal.InvalidOperation]


def test_a_namespaces_decimal_functions_act_only_while_it_runs(project: Path) -> None:
    """It lets one namespace's leftovers (run during another namespace's run, in the same
    thread) change nothing: the decimal functions are bound to the namespace that got them."""
    import decimal

    from ai_sandbox.executor.context import RunContext
    from ai_sandbox.executor.modules import make_import
    from ai_sandbox.executor.replacements import running

    policy = SandboxPolicy(isolation="none")
    first, second = RunContext(policy, _NoFiles()), RunContext(policy, _NoFiles())
    first_decimal = make_import(policy.allowed_imports, first.refuse, first)("decimal")
    with decimal.localcontext(decimal.Context()) as current, running(second):
        first_decimal.setcontext(decimal.Context(prec=2))
        first_decimal.getcontext().prec = 3
        with first_decimal.localcontext(prec=4):
            assert decimal.getcontext() is current
        assert decimal.getcontext() is current
        assert current.prec == 28


EXTRA_MODULES = SandboxPolicy().allowed_imports | {
    "enum",
    "dataclasses",
    "functools",
    "copy",
    "json",
}

#: Functions of modules a policy may add that change what they are given for the whole
#: process, or run attribute lookups the compiler would refuse.
PROCESS_WIDE_CHANGES = [
    (
        "enum-global-enum-into-our-module",
        "import enum\ndef yes(*a):\n    return True\n"
        "E = enum.Enum('E', [('is_importable', (yes,))], type=staticmethod,"
        " module='ai_sandbox.executor.modules')\nenum.global_enum(E)",
    ),
    (
        "enum-global-enum-into-json",
        "import enum\nE = enum.Enum('E', [('dumps', 1)], module='json')\nenum.global_enum(E)",
    ),
    ("dataclass-on-a-host-class", "import dataclasses, json\n"
     "dataclasses.dataclass(frozen=True)(json.JSONEncoder)"),
    ("dataclass-call-form", "import dataclasses, json\n"
     "dataclasses.dataclass(json.JSONDecoder)"),
    (
        "make-dataclass-special-methods",
        "import dataclasses\ndef h(self):\n    return 0\n"
        "F = dataclasses.make_dataclass('F', [], bases=(int,), init=False,"
        " namespace={'__hash__': h})",
    ),
    ("total-ordering-on-a-host-class", "import functools, json\n"
     "functools.total_ordering(json.JSONEncoder)"),
    (
        "deepcopy-memo-subclass",
        "import copy\nclass Memo(dict):\n    def get(self, key, default=None):\n"
        "        default.append('AI was here')\n        return default\n"
        "copy.deepcopy([1], Memo())",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "code", [c for _, c in PROCESS_WIDE_CHANGES], ids=[i for i, _ in PROCESS_WIDE_CHANGES]
)
def test_module_functions_cannot_change_the_process(code: str, project: Path) -> None:
    """It refuses enum.global_enum, class decorators on host classes, special methods through
    make_dataclass and deepcopy's memo hook, also when a policy allows those modules; the
    host's json and our own module stay as they were."""
    import copy
    import json

    from ai_sandbox.executor import modules

    policy = SandboxPolicy(isolation="none", allowed_imports=EXTRA_MODULES)
    with SafeFS(project, policy) as fs:
        payload = execute_payload(code + "\nresult = 'changed'", None, policy=policy, fs=fs)
    assert payload["status"] == "rejected", payload
    assert json.dumps({"a": 1}, indent=1) == '{\n "a": 1\n}'
    assert json.JSONDecoder().decode("[1]") == [1]
    assert modules.is_importable("os", frozenset()) is False
    assert copy.deepcopy.__defaults__ == (None, [])


OWN_CLASSES = [
    ("dataclass", "import dataclasses\n@dataclasses.dataclass(frozen=True)\nclass P:\n"
     "    pass\n@dataclasses.dataclass\nclass Q:\n    pass\nresult = [P() == P(), Q() == Q()]",
     [True, True]),
    ("make-dataclass", "import dataclasses\nP = dataclasses.make_dataclass('P', ['x'],"
     " namespace={'double': lambda self: self.x * 2})\np = P(3)\np.x = 4\n"
     "result = p.double()", 8),
    ("total-ordering", "import functools\n@functools.total_ordering\nclass V:\n"
     "    def __init__(self, v):\n        self.v = v\n"
     "    def __eq__(self, o):\n        return self.v == o.v\n"
     "    def __lt__(self, o):\n        return self.v < o.v\n"
     "result = V(2) >= V(1)", True),
    ("deepcopy", "import copy\na = [[1]]\nb = copy.deepcopy(a, {})\nb[0].append(2)\n"
     "result = [a, b]", [[[1]], [[1, 2]]]),
    ("enum", "import enum\nColor = enum.Enum('Color', ['RED'])\nresult = Color.RED.value", 1),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "expected"), [o[1:] for o in OWN_CLASSES], ids=[o[0] for o in OWN_CLASSES]
)
def test_the_same_functions_work_on_the_codes_own_classes(
    code: str, expected: Any, project: Path
) -> None:
    """It keeps dataclasses, total_ordering, deepcopy and enum working for the code's own
    classes and values."""
    policy = SandboxPolicy(isolation="none", allowed_imports=EXTRA_MODULES)
    with SafeFS(project, policy) as fs:
        payload = execute_payload(code, None, policy=policy, fs=fs)
    assert payload["status"] == "ok", payload
    assert payload["result"] == expected
