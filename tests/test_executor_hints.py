"""Every refusal hint is code that works: for each refused construct, the test runs what the
hint suggests (issue 10: hints such as ``self.init__`` or ``enter___`` broke the code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ai_sandbox.executor.names import DUNDER_HINTS, REFUSED_HOOKS
from ai_sandbox.executor.runtime import execute_payload
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS


def run(code: str, root: Path) -> dict[str, Any]:
    pol = SandboxPolicy(isolation="none")
    with SafeFS(root, pol) as fs:
        return execute_payload(code, None, policy=pol, fs=fs)


# (id, refused code, a phrase of its hint, the code the hint suggests, its result)
HINTS: list[tuple[str, str, str, str, Any]] = [
    (
        "getattr-hook",
        "class C:\n    def __getattr__(self, name):\n        return 1",
        "get(self, name)",
        "class C:\n    def __init__(self):\n        self.data = {'a': 1}\n"
        "    def get(self, name):\n        return self.data[name]\nresult = C().get('a')",
        1,
    ),
    (
        "getattribute-hook",
        "class C:\n    def __getattribute__(self, name):\n        return 1",
        "set the attributes in __init__",
        "class C:\n    def __init__(self):\n        self.a = 1\n" "result = C().a",
        1,
    ),
    (
        "setattr-hook",
        "class C:\n    def __setattr__(self, name, value):\n        pass",
        "property with a setter",
        "class C:\n    def __init__(self):\n        self._v = 0\n"
        "    @property\n    def v(self):\n        return self._v\n    @v.setter\n"
        "    def v(self, value):\n        self._v = value * 2\nc = C()\nc.v = 2\nresult = c.v",
        4,
    ),
    (
        "delattr-hook",
        "class C:\n    def __delattr__(self, name):\n        pass",
        "remove(self, name)",
        "class C:\n    def __init__(self):\n        self.items = {'a': 1}\n"
        "    def remove(self, name):\n        del self.items[name]\nc = C()\nc.remove('a')\n"
        "result = c.items",
        {},
    ),
    (
        "del-hook",
        "class C:\n    def __del__(self):\n        pass",
        "__enter__/__exit__",
        "class C:\n    def __init__(self):\n        self.open = True\n"
        "    def close(self):\n        self.open = False\n    def __enter__(self):\n"
        "        return self\n    def __exit__(self, *exc):\n        self.close()\n"
        "with C() as c:\n    pass\nresult = c.open",
        False,
    ),
    (
        "new-hook",
        "class C:\n    def __new__(cls):\n        pass",
        "@classmethod that builds",
        "class C:\n    def __init__(self, v):\n        self.v = v\n"
        "    @classmethod\n    def from_text(cls, text):\n        return cls(int(text))\n"
        "result = C.from_text('3').v",
        3,
    ),
    (
        "init-subclass-hook",
        "class C:\n    def __init_subclass__(cls):\n        pass",
        "registry[cls.__name__] = cls",
        "registry = {}\ndef register(cls): registry[cls.__name__] "
        "= cls; return cls\n@register\nclass A:\n    pass\nresult = sorted(registry)",
        ["A"],
    ),
    (
        "get-hook",
        "class D:\n    def __get__(self, obj, owner):\n        pass",
        "@property",
        "class C:\n    @property\n    def v(self):\n        return 5\nresult = C().v",
        5,
    ),
    (
        "class-getitem-hook",
        "class C:\n    def __class_getitem__(cls, item):\n        pass",
        "class Box(Generic[T])",
        "from typing import Generic, TypeVar\nT = TypeVar('T')\n"
        "class Box(Generic[T]):\n    def __init__(self, v: T):\n        self.v = v\n"
        "result = Box[int](3).v",
        3,
    ),
    (
        "reduce-hook",
        "class C:\n    def __reduce__(self):\n        pass",
        "define __copy__/__deepcopy__",
        "import copy\nclass C:\n    def __init__(self):\n"
        "        self.v = [1]\n    def __deepcopy__(self, memo):\n        c = C()\n"
        "        c.v = list(self.v)\n        return c\nresult = copy.deepcopy(C()).v",
        [1],
    ),
    (
        "dir-hook",
        "class C:\n    def __dir__(self):\n        pass",
        "list you create",
        "names = ['a', 'b']\nresult = names",
        ["a", "b"],
    ),
    ("reserved-name", "_x_ = 1", "my_x", "my_x = 1\nresult = my_x", 1),
    (
        "reserved-attribute",
        "class C:\n    pass\nC()._x_ = 1",
        "my_x",
        "class C:\n    pass\nc = C()\nc.my_x = 1\nresult = c.my_x",
        1,
    ),
    (
        "bases",
        "x = int.__bases__",
        "issubclass(cls, SomeType)",
        "result = [isinstance(True, int), issubclass(bool, int)]",
        [True, True],
    ),
    (
        "subclasses",
        "x = object.__subclasses__",
        "class decorator",
        "registry = []\ndef register(cls):\n    registry.append(cls.__name__)\n    return cls\n"
        "@register\nclass A:\n    pass\nresult = registry",
        ["A"],
    ),
    (
        "annotations",
        "import fractions\ny = fractions.Fraction.__annotations__",
        "typing.get_type_hints(cls)",
        "import typing, dataclasses\n@dataclasses.dataclass\n"
        "class C:\n    x: int\nresult = [str(typing.get_type_hints(C)['x']), "
        "[f.name for f in dataclasses.fields(C)]]",
        ["<class 'int'>", ["x"]],
    ),
    (
        "globals",
        "def f():\n    pass\nx = f.__globals__",
        "function arguments",
        "def f(config):\n    return config['a']\nresult = f({'a': 1})",
        1,
    ),
    ("builtins", "x = __builtins__", "available directly by name", "result = len([1])", 1),
    (
        "host-dict",
        "x = int.__dict__",
        "dict you create",
        "data = {'a': 1}\nresult = data",
        {"a": 1},
    ),
    (
        "three-argument-type",
        "X = type('X', (), {})",
        "class statement",
        "class X:\n    pass\nresult = X.__name__",
        "X",
    ),
    (
        "format-field",
        "x = '{0.real}'.format(1)",
        "f'{obj.name}'",
        "class O:\n    name = 'n'\nobj = O()\nresult = ['{}'.format(obj.name), f'{obj.name}']",
        ["n", "n"],
    ),
    (
        "calendar-print",
        "import calendar\ncalendar.TextCalendar().prmonth(2024, 1)",
        "print(cal.formatmonth(...))",
        "import calendar\ncal = calendar.TextCalendar()\n"
        "print(cal.formatmonth(2024, 1))\nresult = 1",
        1,
    ),
    (
        "super-outside-method",
        "def f():\n    return super()\nf()",
        "super(ClassName, self)",
        "class A:\n    def f(self):\n        return 1\nclass B(A):\n    def f(self):\n"
        "        return super(B, self).f()\nresult = B().f()",
        1,
    ),
    ("async", "async def f():\n    pass", "synchronous", "def f():\n    return 1\nresult = f()", 1),
]


@pytest.mark.parametrize(
    ("refused", "phrase", "suggested", "expected"),
    [h[1:] for h in HINTS],
    ids=[h[0] for h in HINTS],
)
def test_hint_suggests_code_that_runs(
    refused: str, phrase: str, suggested: str, expected: Any, project: Path
) -> None:
    """It refuses the construct with a hint, and the code the hint suggests runs."""
    payload = run(refused, project)
    assert payload["status"] in ("rejected", "error"), payload
    assert phrase in payload["error"]["message"], payload["error"]["message"]
    followed = run(suggested, project)
    assert followed["status"] == "ok", followed
    assert followed["result"] == expected


def test_every_hook_and_dunder_hint_is_covered() -> None:
    """It has a test row for every refused hook hint (so each one's suggestion was run)."""
    covered = {h[1] for h in HINTS}
    for name in REFUSED_HOOKS:
        if name in (
            "__reduce_ex__",
            "__getstate__",
            "__setstate__",
            "__set_name__",
            "__set__",
            "__delete__",
            "__mro_entries__",
            "__subclasshook__",
        ):
            continue  # same suggestion as a covered sibling (reduce, property, class base)
        assert any(name in code for code in covered), name
    assert "__globals__" in DUNDER_HINTS
