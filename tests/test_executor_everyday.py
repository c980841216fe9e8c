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
        "match-sequences-and-guards",
        "def f(cmd):\n    match cmd.split():\n        case ['go', direction]:\n"
        "            return 'go ' + direction\n        case ['quit' | 'exit']:\n"
        "            return 'bye'\n        case [first, *rest] if len(rest) > 1:\n"
        "            return first\n        case _:\n            return '?'\n"
        "result = [f('go north'), f('quit'), f('a b c'), f('x')]",
        ["go north", "bye", "a", "?"],
    ),
    (
        "match-class-mapping-value",
        "from dataclasses import dataclass\nfrom enum import Enum\nclass C(Enum):\n    R = 1\n"
        "@dataclass\nclass Point:\n    x: int\n    y: int\ndef f(v):\n    match v:\n"
        "        case Point(x=0, y=0):\n            return 'origin'\n"
        "        case Point(0, y):\n            return f'y={y}'\n"
        "        case {'type': t, **rest}:\n            return [t, rest]\n"
        "        case C.R:\n            return 'red'\n        case int(n) if n > 0:\n"
        "            return 'positive'\n        case None:\n            return 'none'\n"
        "result = [f(Point(0, 0)), f(Point(0, 3)), f({'type': 'a', 'k': 1}), f(C.R), f(5), "
        "f(None)]",
        ["origin", "y=3", ["a", {"k": 1}], "red", "positive", "none"],
    ),
    (
        "frozen-dataclass-object-setattr",
        "from dataclasses import dataclass\n@dataclass(frozen=True)\nclass P:\n    x: int\n"
        "    y: int = 0\n    def __post_init__(self):\n"
        "        object.__setattr__(self, 'y', self.x * 2)\nresult = P(2).y",
        4,
    ),
    (
        "vars-exception-chain-function-attributes",
        "class A:\n    def __init__(self):\n        self.a = 1\ndef f():\n    f.calls += 1\n"
        "f.calls = 0\nf()\ntry:\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n"
        "        raise ValueError('x') from e\nexcept ValueError as e:\n"
        "    chain = [type(e.__cause__).__name__, e.__suppress_context__]\n"
        "result = [vars(A()), f.calls, chain]",
        [{"a": 1}, 1, ["ZeroDivisionError", True]],
    ),
    (
        "module-dunders-enum-sunders-contextlib",
        "__all__ = ['tag']\n__version__ = '1.0'\nfrom enum import Enum\n"
        "from contextlib import contextmanager, suppress\nclass C(Enum):\n    A = 'a'\n"
        "    @classmethod\n    def _missing_(cls, value):\n        return cls.A\nout = []\n"
        "@contextmanager\ndef tag(name):\n    out.append('<' + name + '>')\n    yield name\n"
        "    out.append('</' + name + '>')\nwith tag('b'):\n    out.append('x')\n"
        "with suppress(KeyError):\n    {}['k']\nresult = [__all__, __version__, C('zz').name, out]",
        [["tag"], "1.0", "A", ["<b>", "x", "</b>"]],
    ),
    (
        "enum-member-init-and-own-annotations",
        "from enum import Enum\nclass Light(Enum):\n    RED = ('stop', 30)\n"
        "    GREEN = ('go', 25)\n    def __init__(self, action, seconds):\n"
        "        self.action = action\n        self.seconds = seconds\nclass P:\n    x: int\n"
        "def f(a: int) -> str:\n    return ''\n"
        "result = [Light.RED.action, sum(l.seconds for l in Light), sorted(P.__annotations__), "
        "sorted(f.__annotations__)]",
        ["stop", 55, ["x"], ["a", "return"]],
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


MODULES: list[tuple[str, str, Any]] = [
    (
        "typing-annotations",
        "from typing import List, Dict, Optional, Tuple, Any, Union\n"
        "def f(a: List[int], b: Optional[str] = None) -> Dict[str, Any]:\n    return {'a': a}\n"
        "x: Tuple[int, ...] = (1,)\ny: Union[int, str] = 'y'\nresult = [f([1]), x, y]",
        [{"a": [1]}, [1], "y"],
    ),
    (
        "typing-get-type-hints",
        "import typing\nclass A:\n    x: int\n    y: 'str'\n"
        "    z: 'typing.List[int]'\nresult = {k: str(v)"
        " for k, v in typing.get_type_hints(A).items()}",
        {"x": "<class 'int'>", "y": "<class 'str'>", "z": "typing.List[int]"},
    ),
    (
        "typing-generic-namedtuple",
        "from typing import TypeVar, Generic, NamedTuple\n"
        "T = TypeVar('T')\nclass Stack(Generic[T]):\n    def __init__(self):\n"
        "        self.items = []\n    def push(self, x: T) -> None:\n        self.items.append(x)\n"
        "class P(NamedTuple):\n    x: int\n    y: int = 0\ns = Stack[int]()\ns.push(1)\n"
        "result = [s.items, P(1), P(2)._replace(y=5)]",
        [[1], [1, 0], [2, 5]],
    ),
    (
        "future-annotations",
        "from __future__ import annotations\nfrom dataclasses import dataclass\n"
        "@dataclass\nclass Node:\n    value: int\n    children: list[Node]\n"
        "result = Node(1, []).value",
        1,
    ),
    (
        "dataclasses",
        "from dataclasses import dataclass, field, asdict, astuple, replace\n"
        "@dataclass(order=True)\nclass Item:\n    price: float\n    name: str = ''\n"
        "    tags: list = field(default_factory=list)\n    def __post_init__(self):\n"
        "        self.tags.append('new')\n@dataclass(frozen=True)\nclass Point:\n    x: int\n"
        "    y: int\np = Point(1, 2)\nresult = [asdict"
        "(Item(2.5, 'a')), Item(1) < Item(2), repr(p), "
        "hash(p) == hash(Point(1, 2)), astuple(replace(p, y=5))]",
        [{"price": 2.5, "name": "a", "tags": ["new"]}, True, "Point(x=1, y=2)", True, [1, 5]],
    ),
    (
        "enum",
        "from enum import Enum, IntEnum, auto, Flag\nclass Color(Enum):\n    RED = auto()\n"
        "    GREEN = auto()\n    def describe(self):\n        return self.name.lower()\n"
        "class Level(IntEnum):\n    LOW = 1\n    HIGH = 2\nclass Perm(Flag):\n    R = auto()\n"
        "    W = auto()\nresult = [Color.RED.value, Colo"
        "r['GREEN'].describe(), Level.HIGH > Level.LOW, "
        "[c.name for c in Color], str(Color(1)), (Perm.R | Perm.W).value, "
        "list(Color.__members__)]",
        [1, "green", True, ["RED", "GREEN"], "Color.RED", 3, ["RED", "GREEN"]],
    ),
    (
        "abc",
        "from abc import ABC, abstractmethod\nclass Shape(ABC):\n    @abstractmethod\n"
        "    def area(self):\n        ...\n"
        "class Sq(Shape):\n    def area(self):\n        return 4\n"
        "try:\n    Shape()\n    r = 'made'\nexcept TypeError:\n    r = 'abstract'\n"
        "result = [Sq().area(), r]",
        [4, "abstract"],
    ),
    (
        "functools",
        "import functools\ndef deco(f):\n    @functools.wraps(f)\n"
        "    def w(*a, **k):\n        return f(*a, **k) * 2\n    return w\n@deco\ndef f(x):\n"
        "    'doc'\n    return x\n@functools.lru_cache(maxsize=None)\ndef fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
        "result = [f(2), f.__name__, f.__doc__, fib(40), functools.reduce(lambda a, b: a * b, "
        "[1, 2, 3]), functools.partial(pow, 2)(10)]",
        [4, "f", "doc", 102334155, 6, 1024],
    ),
    (
        "operator-copy",
        "import operator, copy\nrows = [{'n': 2}, {'n': 1}]\n"
        "class A:\n    def __init__(self):\n        self.v = [1]\na = A()\nb = copy.deepcopy(a)\n"
        "b.v.append(2)\nresult = [sorted(rows, key=operator.itemgetter('n')), "
        "operator.attrgetter('real')(3), operator.methodcaller('upper')('a'), a.v, b.v]",
        [[{"n": 1}, {"n": 2}], 3, "A", [1], [1, 2]],
    ),
    (
        "text-modules",
        "import csv, difflib, base64, hashlib, zlib, unicodedata\n"
        "rows = list(csv.DictReader(['a,b', '1,2']))\n"
        "result = [rows, difflib.get_close_matches('appel', ['apple', 'ape']), "
        "base64.b64encode(b'hi').decode(), hashlib.sha256(b'x').hexdigest()[:8], "
        "zlib.decompress(zlib.compress(b'abc')).decode(), unicodedata.name('a')]",
        [
            [{"a": "1", "b": "2"}],
            ["apple", "ape"],
            "aGk=",
            "2d711642",
            "abc",
            "LATIN SMALL LETTER A",
        ],
    ),
    (
        "number-modules",
        "import array, cmath, numbers, calendar\na = array.array('i', [1, 2])\n"
        "result = [a.tolist(), abs(cmath.sqrt(-4)), isinstance(3, numbers.Number), "
        "calendar.isleap(2024), calendar.month_name[1], calendar.monthrange(2024, 2)]",
        [[1, 2], 2.0, True, True, "January", [3, 29]],
    ),
    (
        "time-uuid-queue",
        "import time, uuid, queue\nt = time.perf_counter()\ntime.sleep(0.01)\n"
        "q = queue.Queue()\nq.put(1)\nresult = [time.perf_counter() > t, len(str(uuid.uuid4())), "
        "str(uuid.uuid5(uuid.NAMESPACE_DNS, 'x')), q.get(), q.empty()]",
        [True, 36, "05b16a01-46c6-56dd-bd6e-c6dfb4a1427a", 1, True],
    ),
    (
        "sys-constants",
        "import sys\nfrom sys import maxsize\nprint('warn', file=sys.stderr)\n"
        "result = [sys.maxsize == maxsize, sys.version_info >= (3, 8), "
        "sys.getrecursionlimit() > 100, sys.float_info.epsilon < 1]",
        [True, True, True, True],
    ),
]


@pytest.mark.parametrize(
    ("code", "expected"), [m[1:] for m in MODULES], ids=[m[0] for m in MODULES]
)
def test_everyday_modules_run(code: str, expected: Any, project: Path) -> None:
    """It runs the widened default allow-list's everyday uses with CPython's result."""
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == expected


def test_pprint_and_calendar_print_into_the_run_output(project: Path) -> None:
    """It prints pprint.pprint and calendar text into the run's captured output."""
    code = (
        "import pprint, calendar\npprint.pprint({'b': 1, 'a': 2})\nprint(calendar.month(2024, 2))"
    )
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["stdout"].startswith("{'a': 2, 'b': 1}\n   February 2024\n")


NEVER = ["os", "sys", "subprocess", "socket", "ctypes", "importlib", "builtins", "gc", "inspect"]


@pytest.mark.parametrize("module", NEVER)
def test_policy_naming_a_never_importable_module_is_a_configuration_error(module: str) -> None:
    """It refuses, when the policy is built, a module the sandbox can never import, saying why."""
    from ai_sandbox.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="never importable in the sandbox: it "):
        SandboxPolicy(allowed_imports={"math", module})


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        ("import os", "never importable in the sandbox"),
        ("import sqlite3", "never importable"),
        ("import colorsys", "not in allowed_imports"),
    ],
    ids=["os", "sqlite3", "colorsys"],
)
def test_import_refusal_says_never_or_not_allowed(code: str, phrase: str, project: Path) -> None:
    """It says "never importable" for modules no policy can allow, "not in allowed_imports"
    for the rest."""
    payload = run(code, project)
    assert payload["status"] == "rejected"
    assert phrase in payload["error"]["message"]
