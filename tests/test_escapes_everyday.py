"""The everyday language that issue 10 allowed opens no way out: for each newly allowed construct,
its obvious abuse is refused (special methods, ``super()``, names, private names, ``type``)."""

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


ABUSES: list[tuple[str, str]] = [
    # special methods: hooks stay refused, and reading one never reaches the class machinery
    ("define-getattribute", "class A:\n    def __getattribute__(self, n):\n        return 1"),
    ("define-del", "class A:\n    def __del__(self):\n        pass"),
    ("define-reduce-ex", "class A:\n    def __reduce_ex__(self, p):\n        return (print, ())"),
    ("assign-reduce-in-body", "def f(self, p):\n    return 1\nclass A:\n    __reduce__ = f"),
    ("define-init-subclass", "class A:\n    def __init_subclass__(cls):\n        pass"),
    ("define-class-getitem", "class A:\n    def __class_getitem__(cls, k):\n        pass"),
    ("getattr-hook-computed", "class A:\n    pass\nx = getattr(A(), '__getattribute__')"),
    ("type-call-through-dunder", "x = type.__call__"),
    ("class-call-from-metaclass", "class A:\n    pass\nx = A.__call__"),
    ("module-proxy-reinit", "import math\nmath.__init__('math', {})"),
    ("module-proxy-name", "import math\nx = math.__name__"),
    ("host-object-reinit", "import statistics\nd = statistics.NormalDist()\nd.__init__(5, 1)"),
    (
        "host-object-setitem",
        "import statistics\nd = statistics.NormalDist()\n" "d.__setitem__('x', 1)",
    ),
    (
        "special-method-returns-module",
        "import math\nclass A:\n    def __getitem__(self, k):\n"
        "        return math\nx = A()[0].__loader__",
    ),
    # super(): its object's guarded methods are guarded through it too
    (
        "super-format-str-subclass",
        "class S(str):\n    def f(self):\n"
        "        return super().format(1)\nx = S('{0.__class__.__base__}').f()",
    ),
    (
        "super-format-map-str-subclass",
        "class S(str):\n    def f(self):\n"
        "        return super().format_map({'a': 1})\nx = S('{a.__class__}').f()",
    ),
    (
        "super-format-userstring",
        "import collections\nclass U(collections.UserString):\n"
        "    def f(self):\n        return super().format(1)\nx = U('{0.__class__}').f()",
    ),
    (
        "super-format-two-arguments",
        "class S(str):\n    pass\n" "x = super(S, S('{0.__class__}')).format(1)",
    ),
    (
        "super-calendar-print",
        "import calendar\nclass C(calendar.TextCalendar):\n"
        "    def f(self):\n        return super().prmonth(2024, 1)\nC().f()",
    ),
    # super(): never a walk to object's machinery
    (
        "super-getattribute",
        "class A:\n    def f(self):\n"
        "        return getattr(super(), '__getattribute__')\nA().f()",
    ),
    (
        "super-setattr",
        "class A:\n    def f(self):\n        s = super()\n"
        "        return getattr(s, '__setattr__')\nA().f()",
    ),
    (
        "super-reduce",
        "class A:\n    def f(self):\n        return getattr(super(), '__reduce_ex__')\n" "A().f()",
    ),
    ("super-class-is-type", "class A:\n    pass\nx = super(type, A)"),
    ("super-subclasses", "class A:\n    pass\nx = getattr(super(A, A()), '__subclasses__')"),
    # names: read only, and only names
    ("name-write", "def f():\n    pass\nf.__name__ = 'g'"),
    ("name-write-computed", "def f():\n    pass\nsetattr(f, '__name__', 'g')"),
    ("qualname-delete", "class A:\n    pass\ndelattr(A, '__qualname__')"),
    ("class-assign", "class A:\n    pass\nclass B:\n    pass\na = A()\na.__class__ = B"),
    ("class-assign-computed", "class A:\n    pass\na = A()\nsetattr(a, '__class__', int)"),
    ("module-name-store", "__name__ = 'x'"),
    ("dict-of-host-class", "x = int.__dict__"),
    ("dict-of-own-class", "class A:\n    pass\nx = A.__dict__"),
    ("dict-of-function", "def f():\n    pass\nx = f.__dict__"),
    ("members-of-non-enum", "class A:\n    pass\nx = A.__members__"),
    ("globals-of-function", "def f():\n    pass\nx = getattr(f, '__globals__')"),
    # private names: the code's own things only
    ("reserved-guard-name", "_getattr_ = getattr"),
    ("reserved-print-name", "_print = 1"),
    ("reserved-flag-name", "_ai_plain_attr_x = 1"),
    ("builtins-name", "x = __builtins__"),
    ("metaclass-name", "__metaclass__ = 1"),
    ("host-private-attribute", "import statistics\nx = statistics.NormalDist()._mu"),
    ("host-private-computed", "import statistics\nx = getattr(statistics.NormalDist(), '_mu')"),
    ("module-private-attribute", "import json\nx = json._default_encoder"),
    (
        "host-base-private-method",
        "import random\nclass R(random.Random):\n    pass\n" "x = R()._randbelow",
    ),
    (
        "override-host-private",
        "import random\nclass R(random.Random):\n" "    def _randbelow(self, n):\n        return 0",
    ),
    (
        "shadow-host-private",
        "import random\nclass R(random.Random):\n    pass\nr = R()\n" "r._randbelow = lambda n: 0",
    ),
    (
        "setattr-host-private",
        "import random\nclass R(random.Random):\n    pass\n" "setattr(R(), '_randbelow', 1)",
    ),
    ("private-on-function", "def f():\n    pass\nx = getattr(f, '_x', None)"),
    # match: patterns read attributes without the guards, so they are held to public names
    # and to the code's own classes
    ("match-format-keyword", "match '{0.__class__}':\n    case str(format=f):\n        f(1)"),
    (
        "match-format-own-str",
        "class S(str):\n    pass\nmatch S('{0}'):\n" "    case S(format=f):\n        f(1)",
    ),
    (
        "match-private-keyword",
        "import statistics\nmatch statistics.NormalDist():\n"
        "    case statistics.NormalDist(_mu=m):\n        pass",
    ),
    (
        "match-host-class-attributes",
        "import statistics\nmatch statistics.NormalDist(1, 2):\n"
        "    case statistics.NormalDist(mean=m):\n        pass",
    ),
    (
        "match-object-metaclass-method",
        "import abc\nclass A(abc.ABC):\n    pass\nmatch A:\n"
        "    case object(register=r):\n        r(int)",
    ),
    (
        "match-own-subclass-of-host",
        "import random\nclass R(random.Random):\n    pass\n"
        "match R():\n    case R(random=f):\n        pass",
    ),
    ("match-dunder-value", "import math\nmatch 1:\n    case math.__loader__:\n        pass"),
    (
        "match-match-args-dunder",
        "class A:\n    __match_args__ = ('__class__',)\n"
        "match A():\n    case A(c):\n        pass",
    ),
    ("match-reserved-capture", "match 1:\n    case _getattr_:\n        pass"),
    # object.__setattr__, vars(), exception chains, contextlib: the code's own objects only
    (
        "object-setattr-host",
        "import statistics\nobject.__setattr__(statistics.NormalDist(), 'x', 1)",
    ),
    ("object-setattr-class-swap", "class A:\n    pass\nobject.__setattr__(A(), '__class__', int)"),
    (
        "object-setattr-host-private",
        "import random\nclass R(random.Random):\n    pass\n"
        "object.__setattr__(R(), '_randbelow', len)",
    ),
    ("other-setattr", "class A:\n    pass\nx = A.__setattr__"),
    ("vars-host", "import statistics\nx = vars(statistics.NormalDist())"),
    ("vars-no-argument", "x = vars()"),
    ("vars-own-class", "class A:\n    pass\nx = vars(A)"),
    ("exception-traceback", "try:\n    1 / 0\nexcept Exception as e:\n    t = e.__traceback__"),
    (
        "exception-context-traceback",
        "try:\n    1 / 0\nexcept Exception as e:\n"
        "    t = getattr(e.__context__ or e, '__traceback__')",
    ),
    ("annotations-of-host-class", "import fractions\nx = fractions.Fraction.__annotations__"),
    ("annotations-of-host-function", "import json\nx = json.dumps.__annotations__"),
    ("cause-of-non-exception", "class A:\n    pass\nx = A().__cause__"),
    ("contextlib-redirect", "import contextlib\nx = contextlib.redirect_stdout"),
    ("contextlib-chdir", "import contextlib\nx = contextlib.chdir"),
    ("function-attribute-host", "import json\njson.dumps.calls = 1"),
    # type: the real one only for checks, never a metaclass or a class factory
    ("three-argument-type", "x = type('X', (), {})"),
    ("type-of-class-then-call", "class A:\n    pass\nx = type(A)('X', (), {})"),
    ("metaclass-of-enum", "import enum\nclass C(enum.Enum):\n    A = 1\nx = type(C)"),
    ("metaclass-via-class-attr", "import enum\nclass C(enum.Enum):\n    A = 1\nx = C.__class__"),
    ("subclass-type", "class M(type):\n    pass"),
    ("type-mro", "x = type.mro"),
]


@pytest.mark.parametrize("code", [a[1] for a in ABUSES], ids=[a[0] for a in ABUSES])
def test_abuse_of_new_construct_is_refused(code: str, project: Path) -> None:
    """It refuses the abuse of a newly allowed construct (the run is rejected)."""
    payload = run(code, project)
    assert payload["status"] == "rejected", payload
    assert payload["error"]["type"] == "SecurityError"


def test_caught_refusal_of_new_construct_still_rejects(project: Path) -> None:
    """It rejects the run even when the code catches the refusal of a private host name."""
    code = (
        "import statistics\ntry:\n    statistics.NormalDist()._mu\nexcept Exception:\n"
        "    pass\nresult = 1"
    )
    assert run(code, project)["status"] == "rejected"


MODULE_ABUSES: list[tuple[str, str]] = [
    ("attrgetter-dunder", "import operator\nx = operator.attrgetter('__class__.__base__')(1)"),
    (
        "attrgetter-private",
        "import operator, statistics\n" "x = operator.attrgetter('_mu')(statistics.NormalDist())",
    ),
    (
        "methodcaller-format",
        "import operator\nx = operator.methodcaller('format', 1)" "('{0.__class__}')",
    ),
    (
        "operator-setitem-host",
        "import operator, statistics\n" "operator.setitem(statistics.NormalDist(), 'a', 1)",
    ),
    ("partial-of-format", "import functools\nf = functools.partial('{0.__class__}'.format)\nf(1)"),
    ("update-wrapper-host", "import functools, json\nfunctools.update_wrapper(json.dumps, len)"),
    (
        "wraps-chosen-names",
        "import functools, json\n"
        "@functools.wraps(json.dumps, assigned=('__globals__',))\ndef f():\n    pass",
    ),
    (
        "total-ordering-host",
        "import functools, fractions\nfunctools.total_ordering(fractions.Fraction)",
    ),
    ("singledispatch-withheld", "import functools\nx = functools.singledispatch"),
    ("deepcopy-memo-subclass", "import copy\nclass M(dict):\n    pass\ncopy.deepcopy([1], M())"),
    ("hashlib-file-digest", "import hashlib\nx = hashlib.file_digest"),
    ("time-tzset", "import time\ntime.tzset()"),
    ("uuid-node-lookup", "import uuid\nx = uuid.getnode()"),
    ("uuid1-subprocess", "import uuid\nx = uuid.uuid1()"),
    ("csv-register-dialect", "import csv\ncsv.register_dialect('x', delimiter=';')"),
    ("csv-field-size-limit", "import csv\ncsv.field_size_limit(1)"),
    (
        "pprint-to-host-stream",
        "import pprint, statistics\n" "pprint.pprint(1, stream=statistics.NormalDist())",
    ),
    ("pprint-class-withheld", "import pprint\nx = pprint.PrettyPrinter"),
    ("calendar-print-method", "import calendar\ncalendar.TextCalendar().prmonth(2024, 1)"),
    ("calendar-locale", "import calendar\nx = calendar.LocaleTextCalendar"),
    ("abc-register", "import abc\nclass A(abc.ABC):\n    pass\nA.register(int)"),
    ("abc-metaclass-call", "import abc\nx = abc.ABCMeta('X', (), {})"),
    ("abstractmethod-host", "import abc, json\nabc.abstractmethod(json.dumps)"),
    ("typing-final-host", "import typing, json\ntyping.final(json.JSONEncoder)"),
    ("typing-no-type-check-host", "import typing, json\ntyping.no_type_check(json.JSONEncoder)"),
    (
        "typing-hints-eval",
        "import typing\nclass A:\n    x: '().__class__.__base__'\n" "typing.get_type_hints(A)",
    ),
    ("typing-hints-call", "import typing\nclass A:\n    x: 'print(1)'\ntyping.get_type_hints(A)"),
    (
        "typing-hints-globals",
        "import typing\nclass A:\n    x: int\n" "typing.get_type_hints(A, {'__builtins__': {}})",
    ),
    ("typing-hints-host", "import typing, json\ntyping.get_type_hints(json.JSONEncoder)"),
    ("typing-reveal-type", "import typing\ntyping.reveal_type(1)"),
    ("typing-clear-overloads", "import typing\ntyping.clear_overloads()"),
    (
        "dataclass-host-class",
        "import dataclasses, json\n" "dataclasses.dataclass(frozen=True)(json.JSONEncoder)",
    ),
    (
        "make-dataclass-hook-field",
        "import dataclasses\nX = dataclasses.make_dataclass('X', "
        "[('__reduce_ex__', object, dataclasses.field(default=1))])",
    ),
    (
        "make-dataclass-hook-namespace",
        "import dataclasses\ndef f(self):\n    pass\n"
        "X = dataclasses.make_dataclass('X', ['a'], namespace={'__del__': f})",
    ),
    ("enum-metaclass", "import enum\nx = enum.EnumType"),
    ("enum-global", "import enum\nx = enum.global_enum"),
    ("sys-modules", "import sys\nx = sys.modules"),
    ("sys-setrecursionlimit", "import sys\nsys.setrecursionlimit(10)"),
    ("sys-getframe", "import sys\nx = sys._getframe"),
    ("sys-stdout-internals", "import sys\nx = sys.stdout._ai_ctx"),
    ("sys-stdout-type", "import sys\nx = type(sys.stdout)"),
    ("sys-write", "import sys\nsys.maxsize = 1"),
    ("time-sleep-past-limit", "import time\ntime.sleep(10)"),
]


@pytest.mark.parametrize("code", [a[1] for a in MODULE_ABUSES], ids=[a[0] for a in MODULE_ABUSES])
def test_abuse_of_widened_module_is_refused(code: str, project: Path) -> None:
    """It refuses the dangerous corner of a newly allowed module (the run never succeeds)."""
    payload = run(code, project, timeout_s=2)
    assert payload["status"] in ("rejected", "limit"), payload


@pytest.mark.parametrize(
    "names",
    [
        "[('A', 1), ('__reduce_ex__', hook)]",
        "[('__new__', hook), ('A', 1)]",
        "{'A': 1, '__del__': hook}",
        "'A _x'",
    ],
    ids=["reduce-ex", "new", "del-mapping", "private-in-string"],
)
def test_enum_functional_api_takes_member_names_only(names: str, project: Path) -> None:
    """It refuses special or private names in Enum's functional API (a "__new__" returning a
    class from a module made enum write _name_/_value_ onto that shared class)."""
    import json

    code = (
        "from enum import Enum, IntEnum, Flag\nimport json\ndef hook(*args):\n"
        f"    return json.JSONEncoder\nX = Enum('X', {names})"
    )
    payload = run(code, project)
    assert payload["status"] == "rejected", payload
    assert "_value_" not in vars(json.JSONEncoder)


def test_enum_functional_api_still_builds_enums(project: Path) -> None:
    """It builds enums from member names with the functional API, as CPython does."""
    code = (
        "from enum import Enum, IntEnum, Flag\nColor = Enum('Color', 'RED GREEN')\n"
        "Level = IntEnum('Level', [('LOW', 1), ('HIGH', 2)])\nP = Flag('P', {'R': 1, 'W': 2})\n"
        "result = [Color.GREEN.value, Level.HIGH + 1, (P.R | P.W).value, "
        "isinstance(Color.RED, Enum), Color.__module__]"
    )
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == [2, 3, 3, True, "__main__"]


def test_annotations_are_a_copy_so_no_field_name_reaches_generated_code(project: Path) -> None:
    """It hands out a copy of a class's __annotations__: a name added to it never becomes a
    dataclass field (whose name dataclasses writes into the source text it compiles)."""
    code = (
        "import dataclasses\nclass C:\n    x: int\n"
        "C.__annotations__['y=print(1)'] = int\nD = dataclasses.dataclass(C)\n"
        "result = [f.name for f in dataclasses.fields(D)]"
    )
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == ["x"]


def test_dataclass_methods_are_not_compiled_in_the_hosts_main_module(project: Path) -> None:
    """It builds a dataclass's methods outside the host's __main__ module, and the class keeps
    its module name."""
    code = (
        "import dataclasses\n@dataclasses.dataclass\nclass C:\n    x: int = 1\n"
        "result = [C.__module__, C().x]"
    )
    payload = run(code, project)
    assert payload["status"] == "ok", payload
    assert payload["result"] == ["__main__", 1]


def test_copies_of_handles_are_the_handles(project: Path) -> None:
    """It copies sys.stdout, an open file and a module as themselves (a deep copy would copy
    the run's context and file access with them)."""
    code = (
        "import sys, copy, math\nf = open('a.txt', 'w')\n"
        "result = [copy.deepcopy(sys.stdout) is sys.stdout, copy.copy(f) is f, "
        "copy.deepcopy(f) is f, copy.deepcopy(math) is math]\nf.close()"
    )
    payload = run(code, project, allow_writes=True)
    assert payload["status"] == "ok", payload
    assert payload["result"] == [True, True, True, True]
