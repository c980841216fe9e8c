"""The restricted executor runs everyday agent code and reports outcomes as JSON data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox.executor.compiler import CompileCache
from ai_sandbox.executor.runtime import COMPILE_CACHE, RestrictedSession, execute_payload
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS


def run(
    code: str, root: Path, inputs: dict[str, Any] | None = None, **policy: Any
) -> dict[str, Any]:
    pol = SandboxPolicy(isolation="none", **policy)
    with SafeFS(root, pol) as fs:
        return execute_payload(code, inputs, policy=pol, fs=fs)


def ok(code: str, root: Path, inputs: dict[str, Any] | None = None, **policy: Any) -> Any:
    payload = run(code, root, inputs, **policy)
    assert payload["status"] == "ok", payload
    return payload["result"]


# -- everyday idioms -----------------------------------------------------------------------------
IDIOMS: list[tuple[str, str, Any]] = [
    ("dict-item-augassign", "c = {}\nfor k in 'abca':\n    c[k] = c.get(k, 0)\n    c[k] += 1\n"
     "result = c", {"a": 2, "b": 1, "c": 1}),
    ("counter-augassign", "from collections import Counter\nc = Counter()\n"
     "for w in 'a b a'.split():\n    c[w] += 1\nresult = c", {"a": 2, "b": 1}),
    ("defaultdict-augassign", "from collections import defaultdict\nd = defaultdict(list)\n"
     "d['x'] += [1]\nd['x'] += [2]\nresult = d", {"x": [1, 2]}),
    ("list-item-augassign", "a = [1, 2]\na[0] += 10\na[-1] *= 3\nresult = a", [11, 6]),
    ("slice-augassign", "a = [1, 2, 3]\na[1:] += [9]\nresult = a", [1, 2, 3, 9]),
    ("attribute-augassign", "class T:\n    def __init__(self):\n        self.total = 0\n"
     "t = T()\nfor x in [1, 2, 3]:\n    t.total += x\nresult = t.total", 6),
    ("class-attribute-augassign", "class C:\n    n = 0\nC.n += 2\nresult = C.n", 2),
    ("positional-format", "n = 3\nresult = '{} rows'.format(n)", "3 rows"),
    ("numbered-format", "result = '{0}-{1}-{0}'.format('a', 'b')", "a-b-a"),
    ("named-format", "n = 'x'\nresult = '{name}'.format(name=n)", "x"),
    ("format-spec", "result = '{:>5.1f}|{:,}'.format(3.14159, 1234567)", "  3.1|1,234,567"),
    ("nested-format-spec", "result = '{:{w}}|'.format('a', w=3)", "a  |"),
    ("format-map", "result = '{a} and {b}'.format_map({'a': 1, 'b': 2})", "1 and 2"),
    ("unbound-str-format", "result = str.format('{}!', 'hi')", "hi!"),
    ("f-string", "x = 2\nresult = f'{x!r:>3} {x * 2:.1f}'", "  2 4.0"),
    ("percent-format", "result = '%s=%d' % ('x', 1) + '%(a)s' % {'a': '!'}", "x=1!"),
    ("class-with-methods", "class Acc:\n    def __init__(self, start):\n"
     "        self.items = [start]\n    def add(self, x):\n        self.items.append(x)\n"
     "        return self\n    def total(self):\n        return sum(self.items)\n"
     "result = Acc(1).add(2).add(3).total()", 6),
    ("inheritance", "class A:\n    def f(self):\n        return 'A'\nclass B(A):\n"
     "    def g(self):\n        return self.f() + 'B'\nresult = B().g()", "AB"),
    ("base-method-call", "class A:\n    def f(self):\n        return 1\nclass B(A):\n"
     "    def f(self):\n        return A.f(self) + 1\nresult = B().f()", 2),
    ("property-staticmethod-classmethod", "class P:\n    def __init__(self):\n        self.v = 2\n"
     "    @property\n    def double(self):\n        return self.v * 2\n    @staticmethod\n"
     "    def s():\n        return 1\n    @classmethod\n    def c(cls):\n        return cls.s()\n"
     "result = [P().double, P.s(), P.c()]", [4, 1, 1]),
    ("custom-exception", "class MyError(Exception):\n    pass\ntry:\n    raise MyError('bad')\n"
     "except MyError as e:\n    result = e.args[0]", "bad"),
    ("comparison-dunders", "class V:\n    def __init__(self, v):\n        self.v = v\n"
     "    def __lt__(self, o):\n        return self.v < o.v\n"
     "result = [x.v for x in sorted([V(2), V(1)])]", [1, 2]),
    ("comprehensions", "result = [[x * y for y in range(3) if y] for x in range(2)], "
     "{k: v for k, v in [('a', 1)]}, sorted({x % 2 for x in range(5)})",
     [[[0, 0], [1, 2]], {"a": 1}, [0, 1]]),
    ("generator-expression", "result = sum(x * x for x in range(4))", 14),
    ("generator-function", "def gen(n):\n    for i in range(n):\n        yield i\n"
     "    yield from [10]\nresult = list(gen(2))", [0, 1, 10]),
    ("generator-send", "def g():\n    x = yield 1\n    yield x * 2\nit = g()\nnext(it)\n"
     "result = it.send(5)", 10),
    ("try-except-finally", "out = []\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n"
     "    out.append('e')\nelse:\n    out.append('x')\nfinally:\n    out.append('f')\n"
     "result = out", ["e", "f"]),
    ("tuple-unpacking", "a, b = 1, 2\na, b = b, a\nfirst, *rest = [1, 2, 3]\n"
     "(c, (d, e)) = (1, (2, 3))\nresult = [a, b, first, rest, c, d, e]",
     [2, 1, 1, [2, 3], 1, 2, 3]),
    ("loop-unpacking", "d = {'a': 1, 'b': 2}\nout = []\nfor k, v in d.items():\n"
     "    out.append(k * v)\nfor i, (x, y) in enumerate([(1, 2)]):\n    out.append(i + x + y)\n"
     "result = out", ["a", "bb", 3]),
    ("closures-lambda-recursion", "def make(n):\n    return lambda x: x + n\n"
     "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
     "result = [make(2)(3), fib(10)]", [5, 55]),
    ("global-walrus-while", "count = 0\ndef bump():\n    global count\n    count += 1\n"
     "while (n := count) < 3:\n    bump()\nresult = n", 3),
    ("annotated-assignment", "x: int = 5\ny: list\nclass A:\n    z: int = 1\nresult = x + A.z", 6),
    ("builtins-that-iterate", "result = [sorted([3, 1], reverse=True), min([4, 2]), max(1, 5),"
     " max([], default=0), sum([1, 2], 10), any([0, 1]), all([]), list(zip('ab', [1, 2])),"
     " list(enumerate('a', 1)), list(map(abs, [-1])), list(filter(None, [0, 1])),"
     " list(reversed([1, 2])), next(iter([7])), tuple(x for x in [1]), sorted(set('ba'))]",
     [[3, 1], 2, 5, 0, 13, True, True, [["a", 1], ["b", 2]], [[1, "a"]], [1], [1], [2, 1], 7,
      [1], ["a", "b"]]),
    ("pure-builtins", "result = [abs(-1), divmod(7, 2), pow(2, 10), round(2.567, 2), chr(65),"
     " ord('A'), isinstance(1, int), len('abc'), repr('a'), int('3'), float('1.5'), bool(0),"
     " str(1), hex(255), type(1) is int, callable(len)]",
     [1, [3, 1], 1024, 2.57, "A", 65, True, 3, "'a'", 3, 1.5, False, "1", "0xff", True, True]),
    ("public-getattr-hasattr", "class A:\n    x = 1\nresult = [getattr(A, 'x'), getattr(A, 'y', 2),"
     " hasattr(A, 'x'), hasattr(A, 'nope')]", [1, 2, True, False]),
    ("setattr-on-own-object", "class A:\n    pass\na = A()\nsetattr(a, 'x', 3)\nresult = a.x", 3),
    ("allowed-imports", "import math as m\nfrom collections import OrderedDict, deque\n"
     "from datetime import date, timedelta\nimport heapq, bisect, itertools, statistics, re\n"
     "import json, decimal, fractions, textwrap, random, string\n"
     "h = [3, 1, 2]\nheapq.heapify(h)\nresult = [m.floor(2.5), heapq.heappop(h),"
     " bisect.bisect([1, 3], 2), list(itertools.chain([1], [2])), statistics.mean([1, 3]),"
     " re.findall(r'\\d', 'a1b2'), json.loads(json.dumps({'a': 1})),"
     " str(decimal.Decimal('1.1') + 1), str(fractions.Fraction(1, 3)),"
     " textwrap.dedent('  hello...'), string.digits, (date(2024, 1, 1) + timedelta(days=1))"
     ".isoformat(), random.Random(1).randint(1, 1), list(deque([1])), list(OrderedDict(a=1))]",
     [2, 1, 1, [1, 2], 2, ["1", "2"], {"a": 1}, "2.1", "1/3", "hello...", "0123456789",
      "2024-01-02", 1, [1], ["a"]]),
    ("regex-match-objects", "import re\nm = re.match(r'(?P<k>\\w+)=(\\d+)', 'a=1')\n"
     "result = [m.group('k'), m[2], m.groupdict(), re.compile('x').pattern]",
     ["a", "1", {"k": "a"}, "x"]),
    ("tuples-and-sets-become-lists", "result = {'t': (1, 2), 's': {3, 1}, 'f': frozenset([2])}",
     {"t": [1, 2], "s": [1, 3], "f": [2]}),
    ("no-result", "x = 1", None),
]  # fmt: skip


@pytest.mark.parametrize(("code", "expected"), [i[1:] for i in IDIOMS], ids=[i[0] for i in IDIOMS])
def test_everyday_idiom_runs(code: str, expected: Any, project: Path) -> None:
    """It runs everyday agent code unchanged and returns the expected result."""
    assert ok(code, project) == expected


def test_seed_example_returns_analysis(project: Path) -> None:
    """It runs the README's analysis snippet and returns its dict."""
    code = (
        "def analyze_data(input_data):\n"
        "    return {'summary': 'Data analysis complete', 'count': len(input_data)}\n"
        "result = analyze_data(input_data)\n"
    )
    result = ok(code, project, {"input_data": [1, 2, 3]})
    assert result == {"summary": "Data analysis complete", "count": 3}


# -- what stays refused, with advice -------------------------------------------------------------
ADVICE = [
    ("reserved-name", "_x_ = 1", "my_x"),
    (
        "host-private-attribute",
        "import statistics\nx = statistics.NormalDist()._mu",
        "your own classes",
    ),
    ("class-hierarchy", "x = (1).__class__.__bases__", "isinstance"),
    ("format-attribute-field", "class A:\n    pass\nx = '{0.name}'.format(A())", "f'{obj.name}'"),
    ("format-index-field", "x = '{0[1]}'.format([1, 2])", "Compute the value first"),
    ("async", "async def f():\n    pass", "synchronous"),
    (
        "getattr-hook",
        "class A:\n    def __getattr__(self, name):\n        return 1",
        "get(self, name)",
    ),
    ("write-host-object", "import statistics\nstatistics.NormalDist().x = 3", "build a new value"),
]


@pytest.mark.parametrize(("code", "advice"), [a[1:] for a in ADVICE], ids=[a[0] for a in ADVICE])
def test_refusal_tells_model_what_to_write(code: str, advice: str, project: Path) -> None:
    """It refuses what stays forbidden and says what to write instead."""
    payload = run(code, project)
    assert payload["status"] == "rejected"
    assert advice in payload["error"]["message"]


# -- errors: type, message, line; nothing reaches the host -----------------------------------
ERRORS = [
    ("zero-division", "a = 1\nb = 0\nc = a / b\n", "ZeroDivisionError", 3),
    ("name-error", "x = 1\ny = undefined_name\n", "NameError", 2),
    ("inside-function", "def f(d):\n    return d['missing']\n\nf({})\n", "KeyError", 2),
    ("custom-exception", "class Oops(Exception):\n    pass\nraise Oops('no')\n", "Oops", 3),
    ("syntax-error", "x = 1\ndef f(:\n", "SyntaxError", 2),
    ("return-outside-function", "return 1\n", "SyntaxError", 1),
    ("system-exit", "raise SystemExit(1)\n", "SystemExit", 1),
    ("keyboard-interrupt", "raise KeyboardInterrupt\n", "KeyboardInterrupt", 1),
    ("generator-exit", "raise GeneratorExit\n", "GeneratorExit", 1),
    ("base-exception", "raise BaseException('x')\n", "BaseException", 1),
    ("recursion", "def f(n):\n    return f(n + 1)\nf(0)\n", "RecursionError", 2),
    ("stop-iteration", "next(iter([]))\n", "StopIteration", 1),
]


@pytest.mark.parametrize(
    ("code", "type_name", "line"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_error_reports_type_and_line(code: str, type_name: str, line: int, project: Path) -> None:
    """It reports the exception type and the line in the AI's code, never our internals."""
    payload = run(code, project)
    assert payload["status"] == "error"
    assert payload["error"]["type"] == type_name
    assert payload["error"]["line"] == line
    assert "ai_sandbox" not in json.dumps(payload)
    assert "Traceback" not in json.dumps(payload)


def test_memory_error_is_a_limit(project: Path) -> None:
    """It reports a MemoryError as a hit limit, not a crash."""
    payload = run("raise MemoryError()", project)
    assert payload["status"] == "limit"
    assert payload["error"]["rule"] == "memory"


def test_non_string_code_is_an_error(project: Path) -> None:
    """It reports code that is not a string instead of raising."""
    payload = run(b"x = 1", project)  # type: ignore[arg-type]
    assert payload["status"] == "error"


# -- print -------------------------------------------------------------------------------------
def test_print_everywhere_goes_to_one_output(project: Path) -> None:
    """It captures print from module level, functions, methods, class bodies and lambdas in
    order."""
    code = (
        "print('module')\n"
        "def f():\n    print('function')\n"
        "class A:\n    print('class body')\n    def m(self):\n        print('method', end='!\\n')\n"
        "f()\nA().m()\n(lambda: print('lambda', 1, sep='-'))()\n"
        "def outer():\n    def inner():\n        print('inner')\n    inner()\nouter()\n"
    )
    payload = run(code, project)
    assert payload["stdout"] == "module\nclass body\nfunction\nmethod!\nlambda-1\ninner\n"


def test_print_output_survives_an_error(project: Path) -> None:
    """It keeps what was printed before the code failed."""
    payload = run("print('before')\n1 / 0\n", project)
    assert payload["status"] == "error"
    assert payload["stdout"] == "before\n"


def test_print_is_capped_with_a_marker(project: Path) -> None:
    """It truncates print output at max_output_bytes and says so."""
    payload = run("for i in range(1000):\n    print('x' * 50)\n", project, max_output_bytes=200)
    assert payload["status"] == "ok"
    assert len(payload["stdout"].encode()) <= 200
    assert "output truncated" in payload["stdout"]
    assert payload["stdout"].startswith("xxxx")


def test_print_to_file_opened_by_code(project: Path) -> None:
    """It lets print(file=f) write to a file the code opened (writes allowed)."""
    code = "with open('out.txt', 'w') as f:\n    print('hello', file=f)\n"
    assert run(code, project, allow_writes=True)["status"] == "ok"
    assert (project / "out.txt").read_text() == "hello\n"


# -- files ---------------------------------------------------------------------------------------
def test_open_reads_beneath_root(project: Path) -> None:
    """It reads files beneath the root through the path layer, line by line or whole."""
    code = (
        "with open('data/numbers.csv') as f:\n    header = f.readline().strip()\n"
        "    rows = [int(line) for line in f]\n"
        "result = [header, rows, open('data/numbers.csv', 'rb').read()[:1].decode()]\n"
    )
    assert ok(code, project) == ["n", [1, 2, 3], "n"]


def test_json_load_from_open_file(project: Path) -> None:
    """It lets json.load read a file the code opened."""
    (project / "d.json").write_text('{"a": [1, 2]}')
    assert ok("import json\nwith open('d.json') as f:\n    result = json.load(f)", project) == {
        "a": [1, 2]
    }


def test_writes_refused_by_default(project: Path) -> None:
    """It refuses opening a file for writing unless the policy allows writes."""
    payload = run("open('out.txt', 'w')", project)
    assert payload["status"] == "rejected"
    assert payload["error"]["rule"] == "writes_disabled"
    assert not (project / "out.txt").exists()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("with open('o.txt', 'w') as f:\n    f.write('a')\n", "a"),
        ("f = open('o.txt', 'w')\nf.write('left open')\n", "left open"),
        ("with open('o.txt', 'w') as f:\n    f.writelines(['a', 'b'])\n"
         "with open('o.txt', 'a') as f:\n    f.write('c')\n", "abc"),
        ("with open('o.txt', 'wb') as f:\n    f.write(b'\\x00b')\n", "\x00b"),
    ],
    ids=["with", "left-open", "append", "binary"],
)  # fmt: skip
def test_open_writes_through_path_layer(code: str, expected: str, project: Path) -> None:
    """It saves written files beneath the root when the policy allows writes."""
    assert run(code, project, allow_writes=True)["status"] == "ok"
    assert (project / "o.txt").read_text() == expected


def test_write_is_capped(project: Path) -> None:
    """It stops a write bigger than max_file_bytes before it reaches the disk."""
    code = "with open('big.txt', 'w') as f:\n    f.write('x' * 5000)\n"
    payload = run(code, project, allow_writes=True, max_file_bytes=1000)
    assert payload["status"] == "limit"
    assert not (project / "big.txt").exists()


def test_missing_file_is_an_ordinary_error(project: Path) -> None:
    """It treats a missing file as the code's mistake that it may catch, not as an attack."""
    code = "try:\n    open('nope.txt')\nexcept Exception:\n    pass\nresult = 'fine'\n"
    assert ok(code, project) == "fine"


def test_read_write_mode_is_refused_with_advice(project: Path) -> None:
    """It refuses '+' modes and says how to do it instead."""
    payload = run("open('data/numbers.csv', 'r+')", project, allow_writes=True)
    assert payload["status"] == "error"
    assert "open the file once to read" in payload["error"]["message"]


# -- inputs and results --------------------------------------------------------------------------
def test_inputs_are_copies(project: Path) -> None:
    """It hands the code copies of inputs: changes inside do not reach the host's objects."""
    data = {"rows": [1, 2], "meta": ("a", "b")}
    result = ok("rows.append(3)\nresult = [rows, meta]", project, data)
    assert result == [[1, 2, 3], ["a", "b"]]
    assert data == {"rows": [1, 2], "meta": ("a", "b")}


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("class A:\n    pass\nresult = A()", "not JSON data"),
        ("import datetime\nresult = datetime.date(2024, 1, 1)", "isoformat"),
        ("result = float('nan')", "JSON cannot represent"),
        ("result = {(1, 2): 'x'}", "string keys"),
        ("result = len", "not JSON data"),
    ],
    ids=["object", "date", "nan", "tuple-key", "function"],
)
def test_non_json_result_is_a_clear_error(code: str, fragment: str, project: Path) -> None:
    """It refuses a result that is not JSON data and says how to convert it."""
    payload = run(code, project)
    assert payload["status"] == "error"
    assert fragment in payload["error"]["message"]


def test_big_result_is_a_limit(project: Path) -> None:
    """It reports a result over max_result_bytes as a hit limit."""
    payload = run("result = 'x' * 5000", project, max_result_bytes=1000)
    assert payload["status"] == "limit"
    assert payload["error"]["rule"] == "result"


def test_payload_is_json_data(project: Path) -> None:
    """It describes every outcome as JSON data with the agreed keys."""
    for code in ("result = (1,)", "1/0", "import os"):
        payload = run(code, project)
        assert set(payload) == {"status", "result", "stdout", "error", "duration_ms"}
        assert json.loads(json.dumps(payload)) == payload


# -- compile cache -------------------------------------------------------------------------------
def test_repeated_code_compiles_once(project: Path) -> None:
    """It compiles the same source once and reuses the code object."""
    code = "result = 41 + 1  # cache probe 7c1e"
    before = COMPILE_CACHE.misses
    assert ok(code, project) == 42
    hits = COMPILE_CACHE.hits
    assert ok(code, project) == 42
    assert COMPILE_CACHE.misses == before + 1
    assert COMPILE_CACHE.hits == hits + 1


def test_compile_cache_is_bounded_and_caches_refusals() -> None:
    """It keeps at most maxsize entries, evicting the least recently used, refusals too."""
    cache = CompileCache(maxsize=2)
    cache.get("a = 1")
    refused = cache.get("import os as _x")
    assert cache.get("import os as _x") is refused
    cache.get("b = 2")
    cache.get("c = 3")
    assert len(cache) == 2
    assert cache.hits == 1


# -- sessions and the test-only switch -----------------------------------------------------------
def test_session_keeps_namespace_between_runs(project: Path) -> None:
    """It keeps variables and functions between runs; each run has its own output and result."""
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        session = RestrictedSession(policy=policy, fs=fs)
        first = session.run("def greet(n):\n    print('hi', n)\ncount = 1\nresult = 'set'")
        second = session.run("greet(count)\ncount += 1")
        third = session.run("result = count")
    assert first["result"] == "set"
    assert second["stdout"] == "hi 1\n"
    assert second["result"] is None
    assert third["result"] == 2


def test_unguarded_mode_uses_real_builtins(project: Path) -> None:
    """It runs plain Python with the real builtins when the language guard is switched off."""
    policy = SandboxPolicy(isolation="none")
    with SafeFS(project, policy) as fs:
        payload = execute_payload(
            "import os\nprint('pid ok')\nresult = os.getpid() > 0 and ().__class__.__name__",
            None,
            policy=policy,
            fs=fs,
            language_guard=False,
        )
    assert payload["status"] == "ok"
    assert payload["result"] == "tuple"
    assert payload["stdout"] == "pid ok\n"


# -- error messages name what the code wrote, never our internals ---------------------------------
_MISCALLS: list[tuple[str, str, str]] = [
    ("getattr-as-key", "sorted([1], key=getattr)", "getattr()"),
    ("map-no-args", "map()", "map()"),
    ("enumerate-no-args", "enumerate()", "enumerate()"),
    ("zip-bad-keyword", "zip([1], bad=1)", "zip()"),
    ("sorted-no-args", "sorted()", "sorted()"),
    ("setattr-one-arg", "setattr(1)", "setattr()"),
    ("open-no-args", "open()", "open()"),
]


@pytest.mark.parametrize(
    ("code", "named"), [m[1:] for m in _MISCALLS], ids=[m[0] for m in _MISCALLS]
)
def test_a_miscalled_builtin_is_named_as_written(code: str, named: str, project: Path) -> None:
    """It names a wrongly called builtin as the code wrote it, without our function names."""
    payload = run(code, project)
    assert payload["status"] == "error", payload
    message = payload["error"]["message"]
    assert message.startswith(named), message
    assert "<locals>" not in message
    assert "sandbox_" not in message
    assert "Guards" not in message


_UNREPORTABLE: list[tuple[str, str, str]] = [
    ("deep-nesting", "x = []\nfor i in range(10000):\n    x = [x]\nresult = x", "levels deep"),
    ("cycle", "x = []\nx.append(x)\nresult = x", "levels deep"),
    ("huge-int", "result = {'n': 10**5000}", "hex(n)"),
    ("parse-depth", "x = " + "-" * 100000 + "1", "nested too deeply"),
]


@pytest.mark.parametrize(
    ("code", "advice"), [u[1:] for u in _UNREPORTABLE], ids=[u[0] for u in _UNREPORTABLE]
)
def test_an_unreportable_value_gets_short_actionable_advice(
    code: str, advice: str, project: Path
) -> None:
    """It explains briefly what to do instead, without host-side advice or a giant path."""
    payload = run(code, project)
    assert payload["status"] == "error", payload
    message = payload["error"]["message"]
    assert advice in message
    assert len(message) < 300
    assert "sys." not in message
