"""The default modules work fully: dates, codecs and every module's common functions.

C code in the standard library imports lazily through the calling frame's ``__import__`` (ours),
and Python code imports inside functions: both must work in-process, and in an isolated worker
that can no longer read the interpreter's files once it is locked down (it has imported
``PRELOAD_MODULES`` before).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from ai_sandbox import Sandbox
from ai_sandbox.executor.modules import C_LEVEL_IMPORTS, PRELOAD_MODULES, proxy_for
from ai_sandbox.executor.replacements import replacements
from ai_sandbox.executor.runtime import execute_payload
from ai_sandbox.policy import DEFAULT_ALLOWED_IMPORTS, SandboxPolicy
from ai_sandbox.security import SafeFS

# -- the cases: (id, code, expected result) ------------------------------------------------------
DATES: list[tuple[str, str, Any]] = [
    ("strptime", "import datetime\n"
     "result = str(datetime.datetime.strptime('2024-01-02', '%Y-%m-%d'))", "2024-01-02 00:00:00"),
    ("strptime-names", "from datetime import datetime\n"
     "result = datetime.strptime('Tue 02 Jan 2024 10:30', '%a %d %b %Y %H:%M').isoformat()",
     "2024-01-02T10:30:00"),
    ("strptime-offset", "from datetime import datetime\n"
     "result = datetime.strptime('2024-01-02 10:30 +0100', '%Y-%m-%d %H:%M %z').isoformat()",
     "2024-01-02T10:30:00+01:00"),
    ("date-strptime", "from datetime import datetime\n"
     "result = str(datetime.strptime('02/01/2024', '%d/%m/%Y').date())", "2024-01-02"),
    ("strptime-bad-input-is-value-error", "import datetime\ntry:\n"
     "    datetime.datetime.strptime('x', '%Y')\nexcept ValueError as exc:\n"
     "    result = 'ValueError'", "ValueError"),
    ("strftime-weekday", "import datetime\nresult = datetime.date(2024, 1, 2).strftime('%A')",
     "Tuesday"),
    ("strftime-many", "import datetime\n"
     "result = datetime.datetime(2024, 1, 2, 3, 4, 5).strftime('%a %b %d %j %U %H:%M:%S %p')",
     "Tue Jan 02 002 00 03:04:05 AM"),
    ("format-spec", "import datetime\nd = datetime.date(2024, 1, 2)\n"
     "result = f'{d:%d %B %Y}' + '|' + format(d, '%y')", "02 January 2024|24"),
    ("today", "import datetime\nresult = datetime.date.today() > datetime.date(2024, 1, 1)", True),
    ("now-utc", "import datetime\n"
     "result = datetime.datetime.now(datetime.timezone.utc).tzname()", "UTC"),
    ("now-local", "import datetime\nresult = datetime.datetime.now().year >= 2024", True),
    ("fromisoformat", "from datetime import date, datetime\n"
     "result = [str(date.fromisoformat('2024-01-02')),\n"
     "          datetime.fromisoformat('2024-01-02T03:04:05+01:00').utcoffset().seconds]",
     ["2024-01-02", 3600]),
    ("timedelta-arithmetic", "from datetime import date, timedelta\n"
     "d = date(2024, 2, 28) + timedelta(days=2)\n"
     "result = [str(d), (d - date(2024, 1, 1)).days, str(timedelta(hours=25) * 2)]",
     ["2024-03-01", 60, "2 days, 2:00:00"]),
    ("timestamp-roundtrip", "from datetime import datetime, timezone\n"
     "t = datetime(2024, 1, 2, tzinfo=timezone.utc)\n"
     "result = datetime.fromtimestamp(t.timestamp(), timezone.utc) == t", True),
    ("naive-timestamp", "from datetime import datetime\n"
     "d = datetime(2024, 1, 2)\nresult = datetime.fromtimestamp(d.timestamp()) == d", True),
    ("isocalendar-ctime", "import datetime\nd = datetime.datetime(2024, 1, 2)\n"
     "result = [list(d.isocalendar()), d.ctime(), d.timetuple().tm_yday]",
     [[2024, 1, 2], "Tue Jan  2 00:00:00 2024", 2]),
]  # fmt: skip

MODULES: list[tuple[str, str, Any]] = [
    ("bisect", "import bisect\na = [1, 3, 5]\nbisect.insort(a, 4)\n"
     "result = [bisect.bisect_left(a, 4), bisect.bisect_right(a, 4), a]", [2, 3, [1, 3, 4, 5]]),
    ("collections", "from collections import Counter, OrderedDict, defaultdict, deque, namedtuple\n"
     "P = namedtuple('P', 'x y')\nd = deque([1, 2, 3])\nd.rotate(1)\no = OrderedDict(a=1, b=2)\n"
     "o.move_to_end('a')\ng = defaultdict(list)\ng['k'].append(1)\n"
     "result = [Counter('abracadabra').most_common(2), P(1, 2).y, list(d), list(o), g['k']]",
     [[["a", 5], ["b", 2]], 2, [3, 1, 2], ["b", "a"], [1]]),
    ("collections-chainmap-userdict", "from collections import ChainMap, UserDict\n"
     "class D(UserDict):\n    pass\n"
     "result = [ChainMap({'a': 1}, {'a': 2, 'b': 3})['b'], dict(D(a=1).copy())]",
     [3, {"a": 1}]),
    ("decimal", "from decimal import Decimal, localcontext, ROUND_HALF_UP\n"
     "with localcontext(prec=5):\n    third = str(Decimal(1) / Decimal(3))\n"
     "result = [third, str(Decimal('2.675').quantize(Decimal('0.01'), ROUND_HALF_UP)),\n"
     "          format(Decimal('1234.5'), ',.2f'), format(Decimal('1234.5'), 'n')]",
     ["0.33333", "2.68", "1,234.50", "1234.5"]),
    ("fractions", "from fractions import Fraction\nfrom decimal import Decimal\n"
     "result = [str(Fraction('1/3') + Fraction(1, 6)),\n"
     "          str(Fraction(3.14159).limit_denominator(100)), str(Fraction(Decimal('1.5'))),\n"
     "          str(Fraction.from_decimal(Decimal('0.25'))), round(Fraction(7, 2))]",
     ["1/2", "311/99", "3/2", "1/4", 4]),
    ("heapq", "import heapq\nh = []\nfor x in [5, 1, 4]:\n    heapq.heappush(h, x)\n"
     "result = [heapq.heappop(h), heapq.nlargest(2, [3, 9, 4]), list(heapq.merge([1, 3], [2]))]",
     [1, [9, 4], [1, 2, 3]]),
    ("itertools", "import itertools as it\n"
     "result = [[k for k, g in it.groupby('aabbc')], list(it.accumulate([1, 2, 3])),\n"
     "          len(list(it.combinations(range(4), 2))), list(it.islice(it.count(5), 3)),\n"
     "          list(it.chain.from_iterable([[1], [2]])), list(it.pairwise([1, 2, 3]))]",
     [["a", "b", "c"], [1, 3, 6], 6, [5, 6, 7], [1, 2], [[1, 2], [2, 3]]]),
    ("json", "import json\ntext = json.dumps({'b': [1, 2.5, None], 'a': 'é'}, indent=1, "
     "sort_keys=True)\ntry:\n    json.loads('{bad')\nexcept json.JSONDecodeError as exc:\n"
     "    where = exc.pos\nresult = [json.loads(text), text.startswith('{\\n \"a\"'), where]",
     [{"a": "é", "b": [1, 2.5, None]}, True, 1]),
    ("math", "import math\n"
     "result = [math.sqrt(16), math.isclose(0.1 + 0.2, 0.3), math.comb(5, 2), math.gcd(12, 18),\n"
     "           math.fsum([0.1] * 10), math.prod([2, 3]), math.floor(-1.5)]",
     [4.0, True, 10, 6, 1.0, 6, -2]),
    ("random", "import random\nrandom.seed(42)\na = random.random()\nrandom.seed(42)\n"
     "r = random.Random('seed')\nresult = [a == random.random(), 1 <= random.randint(1, 6) <= 6,\n"
     "          len(random.sample(range(10), 3)), len(random.choices('ab', k=4)),\n"
     "          r.random() == random.Random('seed').random(), len(random.randbytes(4))]",
     [True, True, 3, 4, True, 4]),
    ("re", "import re\nm = re.fullmatch(r'(?P<y>\\d{4})-(\\d\\d)', '2024-01')\n"
     "result = [re.findall(r'\\d+', 'a1b22'), re.sub(r'(a)(b)?', r'\\1\\1', 'ab a'),\n"
     "          m.group('y'), m.expand(r'\\2/\\g<y>'), re.split(r'[,;]\\s*', 'a, b;c'),\n"
     "          bool(re.compile('x', re.I).match('X')), re.sub(r'\\N{EM DASH}', '-', 'a\\u2014b')]",
     [["1", "22"], "aa aa", "2024", "01/2024", ["a", "b", "c"], True, "a-b"]),
    ("re-warning", "import re\ntry:\n    found = bool(re.match('[[a]', '['))\n"
     "except FutureWarning:  # warnings are errors under pytest\n    found = True\n"
     "result = found", True),
    ("statistics", "import statistics as st\nd = [1, 2, 3, 4, 10]\n"
     "result = [st.mean(d), st.median(d), round(st.stdev(d), 3), st.quantiles(d, n=4),\n"
     "          st.mode('aab'), round(st.NormalDist(0, 1).cdf(0), 2),\n"
     "          round(st.correlation([1, 2, 3], [2, 4, 7]), 3),\n"
     "          st.linear_regression([1, 2, 3], [2, 4, 6]).slope, len(st.NormalDist().samples(3))]",
     [4, 3, 3.536, [1.5, 3.0, 7.0], "a", 0.5, 0.993, 2.0, 3]),
    ("string", "import string\nresult = [string.ascii_lowercase[:3], string.digits, "
     "len(string.punctuation)]", ["abc", "0123456789", 32]),
    ("textwrap", "import textwrap\n"
     "result = [textwrap.wrap('one two three four', 9), textwrap.dedent('  a\\n  b'),\n"
     "          textwrap.shorten('hello big world', 12), textwrap.indent('a\\nb', '> '),\n"
     "          textwrap.fill('aa bb', 2)]",
     [["one two", "three", "four"], "a\nb", "hello [...]", "> a\n> b", "aa\nbb"]),
]  # fmt: skip

_CODECS = [
    "utf-8", "ascii", "latin-1", "iso-8859-15", "iso-8859-2", "cp1252", "cp1251", "cp437",
    "cp850", "mac-roman", "koi8-r", "utf-8-sig", "utf-7", "utf-16", "utf-16-le", "utf-16-be",
    "utf-32", "utf-32-le", "utf-32-be", "unicode_escape", "raw_unicode_escape", "shift_jis",
    "cp932", "euc-jp", "gbk", "gb2312", "gb18030", "big5", "euc-kr",
]  # fmt: skip

CODECS: list[tuple[str, str, Any]] = [
    (f"codec-{name}", f"text = 'Az09 ~'\ndata = text.encode('{name}')\n"
     f"result = [data.decode('{name}') == text, len(data) > 0]", [True, True])
    for name in _CODECS
] + [
    ("codec-idna", "result = ['bücher.example'.encode('idna').decode('ascii'),\n"
     "          b'xn--bcher-kva.example'.decode('idna')]",
     ["xn--bcher-kva.example", "bücher.example"]),
    ("codec-punycode", "result = 'bücher'.encode('punycode').decode('ascii')", "bcher-kva"),
    ("codec-latin1-accents", "result = [b'caf\\xe9'.decode('latin-1'),\n"
     "          list('€'.encode('cp1252')), 'é'.encode('utf-16-le').hex()]",
     ["café", [128], "e900"]),
    ("error-handlers", "s = 'é€'\nresult = [s.encode('ascii', 'replace').decode(),\n"
     "          s.encode('ascii', 'ignore').decode(), s.encode('ascii', 'namereplace').decode(),\n"
     "          s.encode('ascii', 'xmlcharrefreplace').decode(),\n"
     "          s.encode('ascii', 'backslashreplace').decode(),\n"
     "          b'\\xff'.decode('utf-8', 'replace'),\n"
     "          b'\\xffa'.decode('utf-8', 'surrogateescape')[1]]",
     ["??", "", "\\N{LATIN SMALL LETTER E WITH ACUTE}\\N{EURO SIGN}", "&#233;&#8364;",
      "\\xe9\\u20ac", "\ufffd", "a"]),
    ("named-escape-decode", "result = b'a\\\\N{EM DASH}b'.decode('unicode_escape')", "a\u2014b"),
    ("unknown-codec-is-lookup-error", "try:\n    'x'.encode('no-such-codec')\n"
     "except LookupError:\n    result = 'LookupError'", "LookupError"),
]  # fmt: skip

ALL_CASES = DATES + MODULES + CODECS


def _ids(cases: list[tuple[str, str, Any]]) -> list[str]:
    return [case[0] for case in cases]


def _run(code: str, root: Path) -> dict[str, Any]:
    policy = SandboxPolicy(isolation="none")
    with SafeFS(root, policy) as fs:
        return execute_payload(code, None, policy=policy, fs=fs)


@pytest.mark.parametrize(("case", "code", "expected"), ALL_CASES, ids=_ids(ALL_CASES))
def test_default_module_call_works(case: str, code: str, expected: Any, project: Path) -> None:
    """It runs dates, codecs and the default modules' common functions in the sandbox."""
    payload = _run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == expected


# -- preloading: what a locked-down worker needs -------------------------------------------------
def test_preload_covers_default_allow_list_and_c_level_imports() -> None:
    """It lists every default module and every module C code imports lazily."""
    assert set(DEFAULT_ALLOWED_IMPORTS) <= set(PRELOAD_MODULES)
    assert set(C_LEVEL_IMPORTS) <= set(PRELOAD_MODULES)
    assert len(set(PRELOAD_MODULES)) == len(PRELOAD_MODULES)


@pytest.mark.parametrize("name", PRELOAD_MODULES)
def test_preload_module_exists(name: str) -> None:
    """It lists only modules this interpreter can import."""
    importlib.import_module(name)


#: Runs in a fresh interpreter: import what a zygote imports plus PRELOAD_MODULES, then make
#: every further import fail (as after the worker's lockdown) and run the cases.
_LOCKED_DOWN_RUN = """
import json, sys, tempfile, importlib
import ai_sandbox.executor.runtime as runtime
from ai_sandbox.executor.modules import PRELOAD_MODULES
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS
for name in PRELOAD_MODULES:
    importlib.import_module(name)

class LockedDown:
    def find_spec(self, name, path=None, target=None):
        raise ImportError(f"cannot import {name!r} after lockdown")

sys.meta_path.insert(0, LockedDown())
cases = json.load(sys.stdin)
policy = SandboxPolicy(isolation="none")
out = {}
with SafeFS(tempfile.mkdtemp(), policy) as fs:
    for case, code in cases.items():
        out[case] = runtime.execute_payload(code, None, policy=policy, fs=fs)
print(json.dumps(out))
"""


def test_cases_need_no_import_after_preload() -> None:
    """It runs every case in a worker-like process that cannot import once preloaded."""
    cases = {case: code for case, code, _ in ALL_CASES}
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _LOCKED_DOWN_RUN],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    payloads = json.loads(proc.stdout)
    expected = {case: result for case, _, result in ALL_CASES}
    wrong = {
        case: payload
        for case, payload in payloads.items()
        if payload["status"] != "ok" or payload["result"] != expected[case]
    }
    assert wrong == {}


#: Calls every public callable of every default module (and the public methods of what they
#: return) with typical arguments, from a frame whose builtins carry a recording
#: ``__import__``; prints what C code asked the hook for and what got imported.
_DISCOVERY = """
import builtins, datetime, decimal, fractions, importlib, json, operator, signal, sys, types
modules, preload = json.load(sys.stdin)
for name in [*modules, *preload]:
    importlib.import_module(name)
before = set(sys.modules)
asked = set()
real_import = builtins.__import__

def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    asked.add((name, type(fromlist).__name__))
    return real_import(name, globals, locals, fromlist, level)

frame_builtins = dict(vars(builtins), __import__=recording_import)
namespace = {"__builtins__": frame_builtins}
exec("def call(f, args):\\n    return f(*args)\\n", namespace)
call = namespace["call"]
POOL = [(), (2,), (2.5,), (-3,), ("abc",), ("2024-01-02",), ([3, 1, 2],), ((1, 2),),
        ({"a": 1},), (b"abc",), (2, 3), (1, 2, 3), (2024, 1, 2), (2024, 1, 2, 3, 4, 5),
        ("a b c", 2), ("%Y-%m-%d %A %B %c %x %X %Z %z %p %j %U %a %b",),
        ("2024-01-02", "%Y-%m-%d"), ([1, 2, 3], 2), ("1.5",), (r"(\\d+)", "a1b22"),
        (r"(a)", r"\\1x", "aa"), ("\\\\1-\\\\1",), (abs, [1, -2]), (operator.add, [1, 2, 3]),
        ([1.0, 2.0, 4.0],), ([1, 2, 3], [2, 4, 7]), ('{"a": [1, 2.5, null]}',), ("x" * 30, 10),
        ("  a\\n  b",), (datetime.date(2024, 1, 2),), (datetime.timedelta(days=1),),
        (decimal.Decimal("1.5"),), (fractions.Fraction(1, 3),),
        ("2024-01-02T03:04:05+01:00",), ("n",), (",.2f",), ("%d/%m/%Y %H:%M",),
        ("02/01/2024 10:30", "%d/%m/%Y %H:%M"), (datetime.timezone.utc,), (None,), (True,)]
INFINITE = {"count", "cycle", "repeat"}
DUNDERS = {"__format__", "__str__", "__repr__", "__round__", "__hash__"}
# refused by the sandbox's guards (they print to the real stdout)
PRINTING = {"prmonth", "prweek", "pryear"}
# queues wait for another thread: each call would only run into the alarm
BLOCKING_MODULES = {"queue", "_queue"}

def expire(*_):
    raise TimeoutError

signal.signal(signal.SIGALRM, expire)
produced = []

def exercise(function):
    for args in POOL:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        try:
            value = call(function, args)
        except BaseException:
            value = None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if value is not None and not isinstance(value, types.ModuleType):
            produced.append(value)

for name, exposed in modules.items():
    module = sys.modules[name]
    for attr in exposed:
        value = getattr(module, attr, None)
        if attr not in INFINITE and callable(value) and not isinstance(value, types.ModuleType):
            exercise(value)
seen = set()
for obj in list(produced):
    if type(obj) in seen or type(obj).__module__ in BLOCKING_MODULES:
        continue
    seen.add(type(obj))
    for attr in dir(obj):
        if (attr.startswith("_") and attr not in DUNDERS) or attr in PRINTING:
            continue
        try:
            method = getattr(obj, attr)
        except BaseException:
            continue
        if callable(method):
            exercise(method)
c_level = sorted(name for name, kind in asked if kind == "list")
print(json.dumps({"c_level": c_level, "imported": sorted(set(sys.modules) - before),
                  "types": len(seen)}))
"""


def _exposed_names() -> dict[str, list[str]]:
    """What each default module's proxy shows the code, less the functions the sandbox
    replaces by checked versions (``replacements``: they print, sleep or look names up only
    through the guards)."""
    allowed = DEFAULT_ALLOWED_IMPORTS
    return {
        name: sorted(
            attr
            for attr in proxy_for(name, allowed)._ai_names
            if attr not in replacements(name, object(), _never_refuses, _FAKE_GUARDS)
        )
        for name in sorted(allowed)
    }


#: Stands in for a namespace's guards: only the names of the replaced functions are used.
_FAKE_GUARDS = types.SimpleNamespace(ctx=None, safe_getattr=getattr, namespace_globals={})


def _never_refuses(reason: str, rule: str) -> NoReturn:
    raise AssertionError(reason)


def test_every_public_function_needs_only_preloaded_modules() -> None:
    """It finds, calling every public function and method of the default modules, no lazy
    import outside PRELOAD_MODULES and no C-level import outside C_LEVEL_IMPORTS."""
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _DISCOVERY],
        input=json.dumps([_exposed_names(), list(PRELOAD_MODULES)]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["types"] > 30  # the walk really reached the modules' objects
    assert {"time", "_strptime"} <= set(found["c_level"])
    assert set(found["c_level"]) <= C_LEVEL_IMPORTS
    assert found["imported"] == []


# -- the real thing: the default (strict) Sandbox ------------------------------------------------
@pytest.fixture(scope="module")
def strict_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One Sandbox with the default policy (strict isolation) for the module's tests."""
    with Sandbox(tmp_path_factory.mktemp("stdlib-strict")) as box:
        yield box


@pytest.mark.parametrize(("case", "code", "expected"), DATES, ids=_ids(DATES))
def test_dates_work_in_strict_sandbox(
    case: str, code: str, expected: Any, strict_sandbox: Sandbox
) -> None:
    """It runs the date cases in an isolated, locked-down worker with the default policy."""
    outcome = strict_sandbox.run(code)
    assert outcome.status == "ok", outcome
    assert outcome.result == expected


def test_all_cases_work_in_strict_sandbox(strict_sandbox: Sandbox) -> None:
    """It runs every case (codecs included) in an isolated, locked-down worker."""
    failing = {}
    for case, code, expected in ALL_CASES:
        outcome = strict_sandbox.run(code)
        if outcome.status != "ok" or outcome.result != expected:
            failing[case] = outcome.error
    assert failing == {}


def test_c_code_reaches_re_without_policy_allowing_it(project: Path) -> None:
    """It lets a pattern's C code load ``re`` (for templates) when only ``textwrap`` is allowed,
    while the code itself still cannot import ``re``."""
    policy = SandboxPolicy(isolation="none", allowed_imports=frozenset({"textwrap"}))
    code = "import textwrap\npattern = textwrap.TextWrapper.wordsep_simple_re\n"
    with SafeFS(project, policy) as fs:
        works = execute_payload(
            code + "result = pattern.sub(r'[\\1]', 'a b')", None, policy=policy, fs=fs
        )
        refused = execute_payload(code + "import re", None, policy=policy, fs=fs)
    assert (works["status"], works["result"]) == ("ok", "a[ ]b")
    assert refused["status"] == "rejected"
