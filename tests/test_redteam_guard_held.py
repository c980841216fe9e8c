"""Attacks of the red-team pass that the language guard already held (regressions): each is
refused, or fails inside the code, and never reaches a host object (an exit method now gets
None for the traceback: test_redteam_guard_instance_hooks)."""

from __future__ import annotations

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


_EXIT = (
    "class C:\n    def __enter__(self):\n        return self\n"
    "    def __exit__(self, t, v, tb):\n        global got\n        got = tb\n        return True\n"
    "with C():\n    1/0\n"
)

HELD: list[tuple[str, str]] = [
    (
        "exit-traceback-attrgetter",
        _EXIT + "import operator\nx = operator.attrgetter('tb_frame')(got)",
    ),
    ("exit-traceback-getattr", _EXIT + "x = getattr(got, 'tb_' + 'frame')"),
    ("exit-traceback-iterate", _EXIT + "x = list(got)"),
    (
        "strenum-format",
        "import enum\nclass E(enum.StrEnum):\n    A = '{0.__class__}'\nE.A.format(1)",
    ),
    (
        "str-mixin-enum-format",
        "import enum\nclass E(str, enum.Enum):\n    A = '{0.__class__}'\nE.A.format(1)",
    ),
    ("unbound-format-map", "x = str.format_map('{0.__class__}', [1])"),
    (
        "super-two-args-format-map",
        "class S(str):\n    pass\nx = super(S, S('{a.__class__}')).format_map({'a': 1})",
    ),
    ("methodcaller-format", "import operator\noperator.methodcaller('format', 1)('{0.__class__}')"),
    ("reduce-format", "import functools\nfunctools.reduce(str.format, [1], '{0.__class__}')"),
    (
        "metaclass-through-make-dataclass",
        "import dataclasses\nM = dataclasses.make_dataclass('M', [], bases=(type,))\n"
        "M('X', (), {})",
    ),
    (
        "mro-entries-planted-on-instance",
        "class A:\n    pass\na = A()\nvars(a)['__mro_entries__'] = lambda b: (type,)\n"
        "class X(a):\n    pass",
    ),
    (
        "typevar-bound",
        "import typing\nT = typing.TypeVar('T', bound='os')\nx = getattr(T, '__bound__')",
    ),
    (
        "forwardref-evaluate",
        "import typing\nr = typing.ForwardRef('1')\nx = getattr(r, '_evaluate')",
    ),
    ("abc-register-host", "import collections.abc\ncollections.abc.Sequence.register(dict)"),
    (
        "setattr-through-reduce",
        "import functools, json\nfunctools.reduce(setattr, ['x', 1], json.JSONEncoder)",
    ),
    ("setattr-through-map", "import json\nlist(map(setattr, [json.JSONEncoder], ['x'], [1]))"),
    ("sys-modules", "import sys\nx = sys.modules"),
    ("generator-frame-computed", "def g():\n    yield 1\nx = getattr(g(), 'gi_' + 'frame')"),
    ("bases-computed", "x = getattr(int, '__ba' + 'ses__')"),
]


@pytest.mark.parametrize("code", [c for _, c in HELD], ids=[n for n, _ in HELD])
def test_held_attack_is_refused(code: str, project: Path) -> None:
    """It refuses each attack the red-team pass found held (no host object reaches the code)."""
    payload = run(code, project)
    assert payload["status"] in ("rejected", "error"), payload
