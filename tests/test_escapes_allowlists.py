"""The executor's allow-lists, probed with a host module an operator might allow.

``hostmod`` stands for any module a policy lists: it re-exports builtins, C functions of
OS/interpreter modules and shared mutable objects next to the functions, classes and constants
code needs. Only the latter reach the code; host-owned containers cannot be changed, and what
iteration yields from a host object is checked like what indexing returns.
"""

from __future__ import annotations

import _io
import _thread
import builtins
import collections
import enum
import gc
import inspect
import posix
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ai_sandbox.exceptions import SecurityError
from ai_sandbox.executor.context import RunContext
from ai_sandbox.executor.guards import make_guards
from ai_sandbox.executor.runtime import execute_payload
from ai_sandbox.policy import DEFAULT_ALLOWED_IMPORTS, SandboxPolicy
from ai_sandbox.security import SafeFS

MODULE = "hostmod_allowlist_fixture"


class Registry(dict[str, Any]):
    """A host class deriving from dict (a registry, a cache)."""


class Color(enum.Enum):
    RED = 1


class Bag:
    """A host iterable whose items include a C function that reaches the OS."""

    rows: ClassVar[collections.OrderedDict[str, int]] = collections.OrderedDict(a=1)

    def __iter__(self) -> Iterator[Any]:
        yield 1
        yield posix.getpid


def _host_generator() -> Iterator[Any]:
    yield posix.getpid


def _pairs() -> Iterator[Any]:
    yield Bag()


_REGISTRY = Registry(a=1)


def _shared_registry() -> Registry:
    return _REGISTRY


def _module() -> types.ModuleType:
    module = types.ModuleType(MODULE)
    ns: dict[str, Any] = {
        # builtins the sandbox does not hand out as they are
        "iter": builtins.iter,
        "sorted": builtins.sorted,
        "next": builtins.next,
        "getattr": builtins.getattr,
        "vars": builtins.vars,
        "type": builtins.type,
        "memoryview": builtins.memoryview,
        # C functions and Python functions of OS/interpreter modules
        "listdir": posix.listdir,
        "getrefcount": sys.getrefcount,
        "io_open": _io.open,
        "get_objects": gc.get_objects,
        "start_new_thread": _thread.start_new_thread,
        "getmembers": inspect.getmembers,
        # shared mutable objects and methods of module-level singletons
        "queue": collections.deque([1]),
        "ns": types.SimpleNamespace(a=1),
        "instance": object(),
        "registry": _REGISTRY,
        "write_out": sys.stdout.write,
        "append_queue": collections.deque().append,
        # what code needs
        "pi": 3.14,
        "name": "host",
        "flags": (1, "a", (b"x", None)),
        "RED": Color.RED,
        "Color": Color,
        "Bag": Bag,
        "Registry": Registry,
        "length": builtins.len,
        "bag": Bag,
    }
    for attr, value in ns.items():
        setattr(module, attr, value)

    def own(function: Any) -> Any:
        function.__module__ = MODULE
        return function

    for cls in (Color, Bag, Registry):
        cls.__module__ = MODULE
    module.__dict__.update(
        gen=own(_host_generator), pairs=own(_pairs), shared_registry=own(_shared_registry)
    )
    return module


@pytest.fixture
def hostmod() -> Iterator[types.ModuleType]:
    """``hostmod_allowlist_fixture`` in sys.modules for the test's duration."""
    module = _module()
    sys.modules[MODULE] = module
    try:
        yield module
    finally:
        del sys.modules[MODULE]


def _run(code: str, root: Path) -> dict[str, Any]:
    policy = SandboxPolicy(isolation="none", allowed_imports=DEFAULT_ALLOWED_IMPORTS | {MODULE})
    with SafeFS(root, policy) as fs:
        return execute_payload(f"import {MODULE} as hostmod\n{code}", None, policy=policy, fs=fs)


_WITHHELD = [
    "iter", "sorted", "next", "getattr", "vars", "type", "memoryview",
    "listdir", "getrefcount", "io_open", "get_objects", "start_new_thread", "getmembers",
    "queue", "ns", "instance", "registry", "write_out", "append_queue",
]  # fmt: skip


@pytest.mark.parametrize("attr", _WITHHELD, ids=_WITHHELD)
def test_module_attribute_outside_the_allow_list_is_refused(
    attr: str, hostmod: types.ModuleType, project: Path
) -> None:
    """It refuses a module attribute that is not a function or class of an allowed module, a
    builtin the sandbox hands out as is, or an immutable value."""
    payload = _run(f"result = repr(hostmod.{attr})", project)
    assert payload["status"] == "rejected", payload
    assert payload["error"]["rule"] == "import"


_EXPOSED = [
    ("pi", "hostmod.pi", 3.14),
    ("str", "hostmod.name", "host"),
    ("nested-tuple", "hostmod.flags[2][0].decode()", "x"),
    ("enum-member", "hostmod.RED.value", 1),
    ("enum-class", "hostmod.Color(1).name", "RED"),
    ("class", "hostmod.Registry(a=1)['a']", 1),
    ("builtin-as-is", "hostmod.length([1, 2])", 2),
]


@pytest.mark.parametrize(
    ("expr", "expected"), [e[1:] for e in _EXPOSED], ids=[e[0] for e in _EXPOSED]
)
def test_module_functions_classes_and_constants_stay_available(
    expr: str, expected: Any, hostmod: types.ModuleType, project: Path
) -> None:
    """It keeps an allowed module's functions, classes, constants and enum members."""
    payload = _run(f"result = {expr}", project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == expected


_DEFAULT_VALUES = [
    ("math-pi", "import math\nresult = round(math.pi, 2)", 3.14),
    ("string-digits", "import string\nresult = string.digits", "0123456789"),
    ("datetime-minyear", "import datetime\nresult = datetime.MINYEAR", 1),
    ("datetime-utc", "import datetime\nresult = str(datetime.UTC)", "UTC"),
    ("decimal-round", "import decimal\nresult = decimal.ROUND_HALF_UP", "ROUND_HALF_UP"),
    ("decimal-context", "import decimal\nresult = decimal.BasicContext.prec", 9),
    ("decimal-max-prec", "import decimal\nresult = decimal.MAX_PREC > 0", True),
    ("re-flag", "import re\nresult = bool(re.match('a', 'A', re.IGNORECASE))", True),
    ("json-error", "import json\ntry:\n    json.loads('{')\nexcept json.JSONDecodeError:\n"
     "    result = 1", 1),
    ("statistics-class", "import statistics\nresult = statistics.NormalDist(0, 1).mean", 0.0),
    ("heapq-c", "import heapq\nh = [3, 1]\nheapq.heapify(h)\nresult = h", [1, 3]),
    ("itertools-tee", "import itertools\nresult = [list(t) for t in itertools.tee([1], 2)]",
     [[1], [1]]),
    ("random-method", "import random\nrandom.seed(1)\nresult = 0 <= random.random() < 1", True),
    ("userstring-format", "import collections\n"
     "result = collections.UserString('{0}-{x}').format(1, x=2)", "1-2"),
    ("userstring-format-map", "import collections\n"
     "result = collections.UserString('{x}!').format_map({'x': 3})", "3!"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "expected"), [d[1:] for d in _DEFAULT_VALUES], ids=[d[0] for d in _DEFAULT_VALUES]
)
def test_default_modules_keep_what_code_needs(code: str, expected: Any, project: Path) -> None:
    """It keeps the constants, classes and functions of the default modules."""
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        payload = execute_payload(code, None, policy=policy, fs=fs)
    assert payload["status"] == "ok", payload
    assert payload["result"] == expected


# -- writes --------------------------------------------------------------------------------------
class _NoFiles:
    def read_bytes(self, path: str) -> bytes:
        raise AssertionError("no file access expected")

    def write_bytes(self, path: str, data: bytes) -> int:
        raise AssertionError("no file access expected")


class _HostOrderedDict(collections.OrderedDict[str, int]):
    pass


class _HostList(list[int]):
    pass


class _HostDeque(collections.deque[int]):
    pass


class _HostUserDict(collections.UserDict[str, int]):
    pass


_HOST_CONTAINERS = [
    ("dict-subclass", Registry()),
    ("ordereddict-subclass", _HostOrderedDict()),
    ("list-subclass", _HostList()),
    ("deque-subclass", _HostDeque()),
    ("userdict-subclass", _HostUserDict()),
]


@pytest.mark.parametrize(
    "obj", [h[1] for h in _HOST_CONTAINERS], ids=[h[0] for h in _HOST_CONTAINERS]
)
def test_write_to_host_container_subclass_is_refused(obj: Any) -> None:
    """It refuses to change an instance of a host class deriving from a container."""
    policy = SandboxPolicy(isolation="none")
    guards = make_guards(RunContext(policy, _NoFiles()))
    with pytest.raises(SecurityError, match="cannot modify"):
        guards.write(obj)


def test_host_container_returned_by_a_module_function_is_not_writable(
    hostmod: types.ModuleType, project: Path
) -> None:
    """It refuses writes into a host-owned dict subclass a module function returns."""
    payload = _run("hostmod.shared_registry()['b'] = 2", project)
    assert payload["status"] == "rejected", payload
    assert dict(_REGISTRY) == {"a": 1}


def test_class_level_container_of_a_host_class_is_a_copy(
    hostmod: types.ModuleType, project: Path
) -> None:
    """It hands out a class-level OrderedDict of a host class as a copy: the host's stays."""
    payload = _run("rows = hostmod.Bag.rows\nrows['b'] = 2\nresult = len(rows)", project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == 2
    assert dict(Bag.rows) == {"a": 1}


_CLASS_LEVEL_ROUTES = [
    ("on-an-instance", "rows = hostmod.Bag().rows"),
    ("through-a-subclass", "class Mine(hostmod.Bag):\n    pass\nrows = Mine.rows"),
    ("on-a-subclass-instance", "class Mine(hostmod.Bag):\n    pass\nrows = Mine().rows"),
    ("through-getattr", "rows = getattr(hostmod.Bag(), 'rows')"),
]


@pytest.mark.parametrize(
    "reach", [r[1] for r in _CLASS_LEVEL_ROUTES], ids=[r[0] for r in _CLASS_LEVEL_ROUTES]
)
def test_class_level_container_is_a_copy_however_it_is_reached(
    hostmod: types.ModuleType, project: Path, reach: str
) -> None:
    """It hands out a host class's class-level container as a copy also when it is read on an
    instance or through a subclass the code defines (textwrap.TextWrapper's translation table
    was changed this way for the whole process)."""
    payload = _run(f"{reach}\nrows['b'] = 2\nresult = len(rows)", project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == 2
    assert dict(Bag.rows) == {"a": 1}


def test_textwrap_translation_table_stays_the_hosts(project: Path) -> None:
    """It leaves the host's textwrap untouched when code edits TextWrapper's table."""
    import textwrap

    code = "import textwrap\ntextwrap.TextWrapper().unicode_whitespace_trans[108] = 76\nresult = 1"
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        payload = execute_payload(code, None, policy=policy, fs=fs)
    assert payload["status"] == "ok", payload
    assert textwrap.fill("hello world") == "hello world"


def test_an_instances_own_container_is_shared_with_it(project: Path) -> None:
    """It keeps an instance's own containers (not class-level ones) writable in place."""
    code = (
        "import collections\ncounts = collections.Counter()\nholder = collections.UserDict()\n"
        "holder.data['k'] = 1\nresult = dict(holder)"
    )
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        payload = execute_payload(code, None, policy=policy, fs=fs)
    assert payload["status"] == "ok", payload
    assert payload["result"] == {"k": 1}


_OWN_CONTAINERS = [
    ("counter", "from collections import Counter\nc = Counter()\nc['a'] += 1\nresult = c['a']", 1),
    ("defaultdict", "from collections import defaultdict\nd = defaultdict(list)\n"
     "d['a'].append(1)\nd['b'] = [2]\nresult = sorted(d)", ["a", "b"]),
    ("ordereddict", "from collections import OrderedDict\nd = OrderedDict()\nd['a'] = 1\n"
     "del d['a']\nresult = len(d)", 0),
    ("deque", "from collections import deque\nq = deque([1, 2])\nq[0] = 5\nresult = list(q)",
     [5, 2]),
    ("userdict", "from collections import UserDict\nu = UserDict()\nu['a'] = 1\n"
     "result = u['a']", 1),
    ("own-dict-subclass", "class D(dict):\n    pass\nd = D()\nd['a'] = 1\nresult = d['a']", 1),
    ("own-class-attribute", "class K:\n    pass\nK.x = 1\nk = K()\nk.y = 2\n"
     "result = K.x + k.y", 3),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "expected"), [o[1:] for o in _OWN_CONTAINERS], ids=[o[0] for o in _OWN_CONTAINERS]
)
def test_containers_the_code_creates_stay_writable(code: str, expected: Any, project: Path) -> None:
    """It lets code change the containers and class instances it creates."""
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        payload = execute_payload(code, None, policy=policy, fs=fs)
    assert payload["status"] == "ok", payload
    assert payload["result"] == expected


# -- iteration -----------------------------------------------------------------------------------
_ITERATIONS = [
    ("for-loop", "for f in hostmod.Bag():\n    result = f"),
    ("comprehension", "result = [f for f in hostmod.Bag()]"),
    ("host-generator", "for f in hostmod.gen():\n    result = f"),
    ("next-host-generator", "result = next(hostmod.gen())"),
    ("next-iter", "it = iter(hostmod.Bag())\nnext(it)\nresult = next(it)"),
    ("sorted-key", "result = sorted(hostmod.Bag(), key=str)"),
    ("flat-unpack", "for a, b in hostmod.pairs():\n    result = b"),
    ("assign-unpack", "a, b = hostmod.Bag()\nresult = b"),
    ("enumerate", "for i, f in enumerate(hostmod.Bag()):\n    result = f"),
]


@pytest.mark.parametrize("code", [i[1] for i in _ITERATIONS], ids=[i[0] for i in _ITERATIONS])
def test_iteration_over_a_host_object_checks_each_item(
    code: str, hostmod: types.ModuleType, project: Path
) -> None:
    """It checks what iterating a host object yields, as indexing checks what it returns."""
    payload = _run(code, project)
    assert payload["status"] == "rejected", payload
    assert payload["error"]["type"] == "SecurityError"


_OWN_ITERATIONS = [
    ("own-generator", "def g():\n    yield 1\n    yield 2\nresult = [x for x in g()]", [1, 2]),
    ("own-list-subclass", "class L(list):\n    pass\nresult = [x for x in L([1, 2])]", [1, 2]),
    ("reversed-list", "result = [x for x in reversed([1, 2])]", [2, 1]),
    ("reversed-deque", "from collections import deque\nresult = list(reversed(deque([1, 2])))",
     [2, 1]),
    ("dict-items", "result = [k + str(v) for k, v in {'a': 1}.items()]", ["a1"]),
    ("ordereddict-items", "from collections import OrderedDict\n"
     "result = [k + str(v) for k, v in OrderedDict(a=1).items()]", ["a1"]),
    ("next-default", "result = next(iter([]), 7)", 7),
    ("itertools-chain", "import itertools\nresult = [x for x in itertools.chain([1], [2])]",
     [1, 2]),
    ("host-iterable-data", "import re\nresult = [m.group() for m in re.finditer('a', 'aa')]",
     ["a", "a"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "expected"), [o[1:] for o in _OWN_ITERATIONS], ids=[o[0] for o in _OWN_ITERATIONS]
)
def test_everyday_iteration_still_works(code: str, expected: Any, project: Path) -> None:
    """It keeps loops over the code's own data, generators and module results working."""
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        payload = execute_payload(code, None, policy=policy, fs=fs)
    assert payload["status"] == "ok", payload
    assert payload["result"] == expected
