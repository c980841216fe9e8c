"""An instance's own ``__dict__`` (reachable through ``vars(obj)`` and ``obj.__dict__``) never
supplies the hooks host code looks up on the instance: ``copy`` took ``__reduce_ex__`` from it and
rebuilt an object of the code's choosing with ``setattr``, writing onto a host class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox.executor.runtime import execute_payload
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS


def run(code: str, root: Path) -> dict[str, Any]:
    pol = SandboxPolicy(isolation="none")
    with SafeFS(root, pol) as fs:
        return execute_payload(code, None, policy=pol, fs=fs)


_PLANT = (
    "import copy, dataclasses, collections, json\n"
    "class A:\n    pass\n"
    "a = A()\n"
    "def hook(*args):\n"
    "    return (lambda: json.JSONEncoder, (), (None, {'planted_by_redteam': 1}))\n"
)

HOOK_ATTACKS: list[tuple[str, str]] = [
    ("vars-reduce-ex-copy", _PLANT + "vars(a)['__reduce_ex__'] = hook\ncopy.copy(a)"),
    ("dict-reduce-ex-copy", _PLANT + "a.__dict__['__reduce_ex__'] = hook\ncopy.copy(a)"),
    ("vars-reduce-deepcopy", _PLANT + "vars(a)['__reduce_ex__'] = hook\ncopy.deepcopy([a])"),
    (
        "vars-reduce-ex-host-deepcopy",
        _PLANT + "vars(a)['__reduce_ex__'] = hook\n"
        "@dataclasses.dataclass\nclass D:\n    x: object = None\ndataclasses.asdict(D(a))",
    ),
    (
        "vars-reduce-ex-userdict-copy",
        _PLANT.replace("class A:\n    pass", "class A(collections.UserDict):\n    pass")
        + "vars(a)['__reduce_ex__'] = hook\na.copy()",
    ),
    (
        "vars-reduce-plain",
        _PLANT + "vars(a)['__reduce__'] = hook\nvars(a)['__reduce_ex__'] = None\ncopy.copy(a)",
    ),
    (
        "dict-update-getstate",
        _PLANT + "dict.update(vars(a), {'__reduce_ex__': hook})\ncopy.copy(a)",
    ),
]


@pytest.mark.parametrize("code", [c for _, c in HOOK_ATTACKS], ids=[n for n, _ in HOOK_ATTACKS])
def test_instance_dict_never_supplies_a_copy_hook(code: str, project: Path) -> None:
    """It refuses to take a pickling hook from an instance's own __dict__ (no host class write)."""
    try:
        payload = run(code, project)
    finally:
        planted = vars(json.JSONEncoder).get("planted_by_redteam")
        if planted is not None:
            delattr(json.JSONEncoder, "planted_by_redteam")
    assert planted is None
    assert payload["status"] in ("ok", "error", "rejected"), payload


def test_copies_of_the_codes_objects_still_work(project: Path) -> None:
    """It still copies the code's own objects, exceptions, enums, UserDicts, generics as before."""
    code = (
        "import copy, collections, enum\n"
        "class P:\n    def __init__(self, x):\n        self.x = x\n"
        "class E(Exception):\n    pass\n"
        "class C(enum.Enum):\n    A = 1\n"
        "class U(collections.UserDict):\n    pass\n"
        "p = copy.deepcopy(P([1]))\n"
        "e = copy.copy(E('m'))\n"
        "u = U(a=1).copy()\n"
        "import typing\nT = typing.TypeVar('T')\n"
        "class B(typing.Generic[T]):\n    pass\n"
        "b = copy.copy(B[int]())\n"
        "result = [p.x, str(e), copy.deepcopy(C.A) is C.A, dict(u),\n"
        "          vars(copy.copy(P(2))), type(b).__name__]\n"
    )
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == [[1], "m", True, {"a": 1}, {"x": 2}, "B"]


HANDLE_COPIES: list[tuple[str, str]] = [
    ("deepcopy-print", "import copy\np = copy.deepcopy(print)\np('hi')"),
    ("copy-print", "import copy\np = copy.copy(print)\np('hi')"),
    ("deepcopy-print-in-list", "import copy\np = copy.deepcopy([print])[0]\np('hi')"),
    ("deepcopy-stdout-write", "import copy, sys\np = copy.deepcopy(sys.stdout.write)\np('hi\\n')"),
]


@pytest.mark.parametrize("code", [c for _, c in HANDLE_COPIES], ids=[n for n, _ in HANDLE_COPIES])
def test_copies_of_print_are_print(code: str, project: Path) -> None:
    """It copies print as itself, never as a copy of the run's context (its own output/refusals)."""
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["stdout"] == "hi\n"


GETSTATE_ATTACKS: list[tuple[str, str]] = [
    (
        "vars-getstate-class-swap",
        "import copy, json\nclass A:\n    pass\na = A()\n"
        "vars(a)['__getstate__'] = lambda: (None, {'__class__': json.JSONEncoder})\n"
        "result = type(copy.copy(a)).__name__",
    ),
    (
        "str-subclass-key-getstate",
        "import copy, json\nclass K(str):\n    pass\nclass A:\n    pass\na = A()\n"
        "vars(a)[K('__getstate__')] = lambda: (None, {'__class__': json.JSONEncoder})\n"
        "result = type(copy.copy(a)).__name__",
    ),
]


@pytest.mark.parametrize(
    "code", [c for _, c in GETSTATE_ATTACKS], ids=[n for n, _ in GETSTATE_ATTACKS]
)
def test_instance_dict_never_supplies_the_copied_state(code: str, project: Path) -> None:
    """It refuses to copy an object whose __dict__ holds special names (a planted __getstate__)."""
    payload = run(code, project)
    assert payload["status"] == "error", payload
    assert "special names" in payload["error"]["message"]


def test_copies_of_slotted_frozen_dataclasses_still_work(project: Path) -> None:
    """It still copies a frozen dataclass with slots (dataclass adds its own __getstate__)."""
    code = (
        "import copy, dataclasses\n"
        "@dataclasses.dataclass(frozen=True, slots=True)\nclass P:\n    x: int\n"
        "result = [copy.copy(P(1)).x, copy.deepcopy(P(2)).x]"
    )
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == [1, 2]


_EXIT_BODY = (
    "class C:\n    def __enter__(self):\n        return self\n"
    "    def __exit__(self, t, v, tb):\n        got.append(tb)\n        return True\n"
)
TRACEBACK_HOLDERS: list[tuple[str, str]] = [
    ("with-exit", "got = []\n" + _EXIT_BODY + "with C():\n    1/0\n"),
    (
        "with-exit-assigned",
        "got = []\ndef ex(self, *a):\n    got.append(a[2])\n    return True\n"
        "class C:\n    def __enter__(self):\n        return self\n    __exit__ = ex\n"
        "with C():\n    1/0\n",
    ),
    (
        "with-exit-subclass-super",
        "got = []\n" + _EXIT_BODY + "class D(C):\n"
        "    def __exit__(self, t, v, tb):\n        got.append(tb)\n"
        "        return super().__exit__(t, v, tb)\nwith D():\n    1/0\n",
    ),
    (
        "exitstack-push",
        "import contextlib\ngot = []\nwith contextlib.ExitStack() as s:\n"
        "    s.push(lambda *a: got.append(a[2]) or True)\n    1/0\n",
    ),
    (
        "exitstack-push-cm",
        "import contextlib\ngot = []\n"
        + _EXIT_BODY
        + "with contextlib.ExitStack() as s:\n    s.enter_context(C())\n    1/0\n",
    ),
]


@pytest.mark.parametrize(
    "code", [c for _, c in TRACEBACK_HOLDERS], ids=[n for n, _ in TRACEBACK_HOLDERS]
)
def test_exit_methods_never_receive_a_traceback(code: str, project: Path) -> None:
    """It hands the code's exit methods and exit callbacks None for the traceback."""
    payload = run(code + "result = [x is None for x in got]", project)
    assert payload["status"] == "ok", payload
    assert payload["result"], payload
    assert all(payload["result"]), payload
