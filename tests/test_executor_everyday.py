"""Everyday Python runs in the default policy (issue 10): private names, special methods,
``super()``, names of things, ``__main__``, ``nonlocal``, annotations and the real ``type``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ai_sandbox.executor.runtime import execute_payload
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS


def run(code: str, root: Path, **policy: Any) -> dict[str, Any]:
    pol = SandboxPolicy(isolation="none", **policy)
    with SafeFS(root, pol) as fs:
        return execute_payload(code, None, policy=pol, fs=fs)


VECTOR = """
class Vector:
    def __init__(self, x, y):
        self.x = x
        self.y = y
    def __repr__(self):
        return f"Vector({self.x}, {self.y})"
    def __str__(self):
        return f"({self.x}, {self.y})"
    def __add__(self, other):
        return Vector(self.x + other.x, self.y + other.y)
    def __radd__(self, other):
        return self if other == 0 else self + other
    def __iadd__(self, other):
        self.x += other.x
        self.y += other.y
        return self
    def __mul__(self, k):
        return Vector(self.x * k, self.y * k)
    def __rmul__(self, k):
        return self * k
    def __neg__(self):
        return Vector(-self.x, -self.y)
    def __abs__(self):
        return (self.x ** 2 + self.y ** 2) ** 0.5
    def __eq__(self, other):
        return isinstance(other, Vector) and (self.x, self.y) == (other.x, other.y)
    def __hash__(self):
        return hash((self.x, self.y))
    def __bool__(self):
        return bool(self.x or self.y)
    def __len__(self):
        return 2
    def __iter__(self):
        yield self.x
        yield self.y
    def __getitem__(self, i):
        return (self.x, self.y)[i]
    def __lt__(self, other):
        return abs(self) < abs(other)
"""

EVERYDAY: list[tuple[str, str, Any]] = [
    (
        "private-module-names",
        "_total = 0\ndef _helper(x):\n    return x + 1\n" "result = _helper(_total)",
        1,
    ),
    (
        "private-attributes",
        "class Cache:\n    _registry = {}\n    def __init__(self):\n"
        "        self._cache = {}\n    @classmethod\n    def register(cls, key):\n"
        "        cls._registry[key] = True\n        return sorted(cls._registry)\n"
        "    def put(self, k, v):\n        self._cache[k] = v\n        return len(self._cache)\n"
        "result = [Cache.register('a'), Cache().put('k', 1)]",
        [["a"], 1],
    ),
    (
        "class-private-mangling",
        "class Account:\n    def __init__(self):\n"
        "        self.__balance = 10\n    def deposit(self, n):\n        self.__balance += n\n"
        "        return self.__balance\nresult = Account().deposit(5)",
        15,
    ),
    (
        "private-augassign",
        "class C:\n    def __init__(self):\n        self._n = 0\n"
        "    def inc(self):\n        self._n += 1\n        return self._n\nc = C()\nc.inc()\n"
        "result = c.inc()",
        2,
    ),
    (
        "special-methods",
        VECTOR + "v = Vector(1, 2) + Vector(3, 4)\nw = Vector(1, 1)\n"
        "w += v\nresult = [repr(v), str(-v), abs(Vector(3, 4)), v == Vector(4, 6), "
        "len(v), list(v), v[1], bool(Vector(0, 0)), sum([Vector(1, 1), Vector(2, 2)]).x, "
        "(2 * v).y, {v: 1}[Vector(4, 6)], repr(sorted([v, w])[0]), repr(w)]",
        [
            "Vector(4, 6)",
            "(-4, -6)",
            5.0,
            True,
            2,
            [4, 6],
            6,
            False,
            3,
            12,
            1,
            "Vector(4, 6)",
            "Vector(5, 7)",
        ],
    ),
    (
        "container-protocol",
        "class Bag:\n    def __init__(self):\n        self.d = {}\n"
        "    def __setitem__(self, k, v):\n        self.d[k] = v\n    def __getitem__(self, k):\n"
        "        return self.d[k]\n    def __delitem__(self, k):\n        del self.d[k]\n"
        "    def __contains__(self, k):\n        return k in self.d\n    def __len__(self):\n"
        "        return len(self.d)\nb = Bag()\nb['a'] = 1\nb['b'] = 2\ndel b['a']\n"
        "result = ['a' in b, 'b' in b, len(b), b['b']]",
        [False, True, 1, 2],
    ),
    (
        "iterator-protocol",
        "class Count:\n    def __init__(self, n):\n        self.i = 0\n"
        "        self.n = n\n    def __iter__(self):\n        return self\n"
        "    def __next__(self):\n"
        "        if self.i >= self.n:\n            raise StopIteration\n        self.i += 1\n"
        "        return self.i\nresult = [x for x in Count(3)]",
        [1, 2, 3],
    ),
    (
        "call-and-context-manager",
        "class Timer:\n    def __init__(self):\n        self.log = []\n"
        "    def __enter__(self):\n        self.log.append('in')\n        return self\n"
        "    def __exit__(self, exc_type, exc, tb):\n        self.log.append('out')\n"
        "        return False\n    def __call__(self, x):\n        return x * 2\n"
        "with Timer() as t:\n    y = t(21)\nresult = [y, t.log]",
        [42, ["in", "out"]],
    ),
    (
        "class-body-dunders",
        "class P:\n    __slots__ = ('x',)\n    def __init__(self, x):\n"
        "        self.x = x\n    def __add__(self, o):\n        return P(self.x + o.x)\n"
        "    __radd__ = __add__\n    __hash__ = None\nresult = [(P(1) + P(2)).x, P.__hash__]",
        [3, None],
    ),
    (
        "super-init-and-method",
        "class Animal:\n    def __init__(self, name):\n"
        "        self.name = name\n    def speak(self):\n        return self.name\n"
        "class Dog(Animal):\n    def __init__(self, name, breed):\n"
        "        super().__init__(name)\n        self.breed = breed\n    def speak(self):\n"
        "        return super().speak() + ' barks'\nclass Puppy(Dog):\n    def __init__(self):\n"
        "        Dog.__init__(self, 'Rex', 'lab')\nresult = [Puppy().speak(), Puppy().breed]",
        ["Rex barks", "lab"],
    ),
    (
        "super-two-arguments",
        "class A:\n    def f(self):\n        return 1\nclass B(A):\n"
        "    def f(self):\n        return super(B, self).f() + 1\nresult = B().f()",
        2,
    ),
    (
        "super-dunder-method",
        "class A:\n    def __repr__(self):\n        return 'A'\n"
        "class B(A):\n    def __repr__(self):\n        return super().__repr__() + 'B'\n"
        "result = repr(B())",
        "AB",
    ),
    (
        "custom-exception-init",
        "class AppError(Exception):\n    def __init__(self, msg, code):\n"
        "        super().__init__(msg)\n        self.code = code\nclass Other(Exception):\n"
        "    def __init__(self, msg):\n        Exception.__init__(self, msg)\ntry:\n"
        "    raise AppError('bad', 2)\nexcept AppError as e:\n"
        "    result = [str(e), e.code, e.args, e.__class__.__name__, str(Other('x'))]",
        ["bad", 2, ["bad"], "AppError", "x"],
    ),
    (
        "reading-names",
        "def func():\n    pass\nclass Klass:\n    pass\n"
        "result = [type(3).__name__, Klass.__name__, func.__name__, Klass().__class__.__name__, "
        "type(Klass()).__qualname__, Klass.__module__, func.__doc__]",
        ["int", "Klass", "func", "Klass", "Klass", "__main__", None],
    ),
    (
        "main-guard",
        "def main():\n    return 'ran'\nresult = None\nif __name__ == '__main__':\n"
        "    result = main()",
        "ran",
    ),
    (
        "real-type",
        "class K:\n    pass\nresult = [isinstance(K, type), issubclass(K, object), "
        "isinstance(3, type), type(K) is type, type(3) is int, isinstance(int, (type, int)), "
        "issubclass(type, type), str(type)]",
        [True, True, False, True, True, True, True, "<class 'type'>"],
    ),
    (
        "nonlocal",
        "def counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n"
        "        return n\n    return inc\nc = counter()\nc()\nresult = c()",
        2,
    ),
    (
        "annotations-kept",
        "count: int = 3\nlabel: str\ndef f(a: list, b: 'str' = 'x') -> dict:\n"
        "    local: int = 1\n    return {b: a}\nclass Point:\n    x: int = 0\n"
        "    def __init__(self, x: int) -> None:\n        self.x: int = x\n"
        "result = [count, f([1]), Point(2).x]",
        [3, {"x": [1]}, 2],
    ),
    (
        "instance-dict",
        "class C:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\n"
        "    def as_dict(self):\n        return dict(self.__dict__)\nresult = C(a=1).as_dict()",
        {"a": 1},
    ),
]


@pytest.mark.parametrize(
    ("code", "expected"), [e[1:] for e in EVERYDAY], ids=[e[0] for e in EVERYDAY]
)
def test_everyday_python_runs(code: str, expected: Any, project: Path) -> None:
    """It runs everyday Python in the default policy with CPython's result."""
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == expected
