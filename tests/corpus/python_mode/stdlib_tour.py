# Programs in the style of the Python tutorial's "Brief Tour of the Standard Library" (ch. 10-11).
# %% math-module
import math
print(math.cos(math.pi / 4), math.log(1024, 2), math.factorial(10), math.gcd(48, 18))
print(math.isqrt(99), math.comb(10, 3), math.perm(5, 2), math.hypot(3, 4), math.prod([1, 2, 3, 4]))
result = [math.floor(-2.5), math.ceil(-2.5), math.trunc(-2.5), math.copysign(1, -0.0)]
# %% random-seeded
import random
random.seed(12345)
a = random.choice(["apple", "pear", "banana"])
b = random.sample(range(100), 10)
c = random.random()
d = random.randrange(6)
items = list(range(10))
random.shuffle(items)
result = [a, b, round(c, 12), d, items]
print(result)
# %% statistics-module
import statistics
data = [2.75, 1.75, 1.25, 0.25, 0.5, 1.25, 3.5]
print(statistics.mean(data), statistics.median(data), statistics.variance(data))
print(statistics.stdev(data), statistics.mode([1, 1, 2, 3]), statistics.quantiles(data, n=4))
result = statistics.fmean(data)
# %% datetime-dates
from datetime import date, datetime, timedelta
now = date(2003, 12, 2)
print(now.strftime("%m-%d-%y. %d %b %Y is a %A on the %d day of %B."))
birthday = date(1964, 7, 31)
age = now - birthday
print(age.days)
dt = datetime(2024, 2, 28, 23, 30) + timedelta(hours=1)
print(dt.isoformat(), dt.weekday(), dt.strftime("%j"))
result = datetime.strptime("2021-03-04 05:06", "%Y-%m-%d %H:%M").isoformat()
# %% zlib-compression
import zlib
s = b"witch which has which witches wrist watch"
t = zlib.compress(s)
print(len(s), len(t), zlib.decompress(t) == s, zlib.crc32(s))
result = zlib.crc32(s)
# %% timeit-runs
from timeit import Timer
t = Timer("t=a; a=b; b=t", "a=1; b=2")
elapsed = t.timeit(number=1000)
result = elapsed >= 0
print(result)
# %% doctest-style-checks
def average(values):
    """Computes the arithmetic mean of a list of numbers.

    >>> print(average([20, 30, 70]))
    40.0
    """
    return sum(values) / len(values)
import doctest
finder = doctest.DocTestFinder()
tests = finder.find(average, "average", globs={"average": average})
runner = doctest.DocTestRunner(verbose=False)
for test in tests:
    runner.run(test, out=lambda s: None)
result = [runner.failures, runner.tries]
print(result)
# %% unittest-in-code
import io
import unittest
def average(values):
    return sum(values) / len(values)
class TestStatisticalFunctions(unittest.TestCase):
    def test_average(self):
        self.assertEqual(average([20, 30, 70]), 40.0)
        self.assertEqual(round(average([1, 5, 7]), 1), 4.3)
        with self.assertRaises(ZeroDivisionError):
            average([])
suite = unittest.TestLoader().loadTestsFromTestCase(TestStatisticalFunctions)
outcome = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
result = [outcome.testsRun, len(outcome.failures), len(outcome.errors), outcome.wasSuccessful()]
print(result)
# %% reprlib-pprint-textwrap
import reprlib, pprint, textwrap
print(reprlib.repr(set("supercalifragilisticexpialidocious"))[:5])
t = [[[["black", "cyan"], "white", ["green", "red"]], [["magenta", "yellow"], "blue"]]]
pprint.pprint(t, width=30)
doc = """The wrap() method is just like fill() except that it returns
a list of strings instead of one big string with newlines to separate
the wrapped lines."""
print(textwrap.fill(doc, width=40))
result = textwrap.wrap(doc, width=40)
# %% string-template
from string import Template
t = Template("${village}folk send $$10 to $cause.")
print(t.substitute(village="Nottingham", cause="the ditch fund"))
t2 = Template("Return the $item to $owner.")
d = dict(item="unladen swallow")
result = t2.safe_substitute(d)
try:
    t2.substitute(d)
except KeyError as e:
    print("KeyError", e)
# %% struct-binary-records
import struct
record = struct.pack("<IHH8s", 0x04034B50, 20, 0, b"filename")
fields = struct.unpack("<IHH8s", record)
print(len(record), hex(fields[0]), fields[1:3], fields[3])
result = [struct.calcsize("<IHH8s"), list(struct.unpack(">hhl", struct.pack(">hhl", 1, 2, 3)))]
# %% weakref-dictionary
import weakref, gc
class A:
    def __init__(self, value):
        self.value = value
    def __repr__(self):
        return str(self.value)
a = A(10)
d = weakref.WeakValueDictionary()
d["primary"] = a
before = d["primary"].value
del a
gc.collect()
result = [before, "primary" in d]
print(result)
# %% array-and-deque-and-bisect
from array import array
from collections import deque
import bisect
a = array("H", [4000, 10, 700, 22222])
print(sum(a), a[1:3].tolist())
d = deque(["task1", "task2", "task3"])
d.append("task4")
print("Handling", d.popleft())
scores = [(100, "perl"), (200, "tcl"), (400, "lua"), (500, "python")]
bisect.insort(scores, (300, "ruby"))
result = scores
print(result)
# %% heapq-module
from heapq import heapify, heappop, heappush, nlargest, nsmallest
data = [1, 3, 5, 7, 9, 2, 4, 6, 8, 0]
heapify(data)
heappush(data, -5)
smallest = [heappop(data) for i in range(3)]
result = [smallest, nlargest(2, [5, 1, 8, 3]), nsmallest(2, [5, 1, 8, 3])]
print(result)
# %% decimal-arithmetic
from decimal import Decimal, getcontext
print(round(Decimal("0.70") * Decimal("1.05"), 2), round(0.70 * 1.05, 2))
print(Decimal("1.00") % Decimal(".10"), 1.00 % 0.10)
print(sum([Decimal("0.1")] * 10) == Decimal("1.0"), 0.1 + 0.1 + 0.1 == 0.3)
getcontext().prec = 36
result = str(Decimal(1) / Decimal(7))
print(result)
# %% fractions-module
from fractions import Fraction
x = Fraction(3, 4) + Fraction(1, 6)
print(x, float(x), Fraction("0.125"), Fraction(1.5), Fraction(355, 113).limit_denominator(10))
result = [x.numerator, x.denominator]
# %% itertools-recipes
import itertools
print(list(itertools.accumulate([1, 2, 3, 4, 5])))
print(list(itertools.chain("ABC", "DEF")))
print(list(itertools.combinations("ABCD", 2)))
print(list(itertools.permutations(range(3), 2))[:4])
print(list(itertools.product("ab", repeat=2)))
print([(k, len(list(g))) for k, g in itertools.groupby("AAAABBBCCDAABBB")])
print(list(itertools.islice(itertools.count(10, 5), 4)), list(itertools.pairwise("ABCD")))
result = list(itertools.zip_longest("ABCD", "xy", fillvalue="-"))
# %% functools-module
import functools
@functools.lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
print(fib(80), fib.cache_info().hits > 0)
print(functools.reduce(lambda a, b: a * b, range(1, 8)))
basetwo = functools.partial(int, base=2)
print(basetwo("10010"))
@functools.total_ordering
class V:
    def __init__(self, v): self.v = v
    def __eq__(self, o): return self.v == o.v
    def __lt__(self, o): return self.v < o.v
@functools.singledispatch
def show(x): return "object"
@show.register
def _(x: int): return "int"
@show.register
def _(x: list): return "list"
result = [V(1) <= V(2), V(3) >= V(2), show(1), show([1]), show("s")]
print(result)
# %% collections-counter-etc
from collections import Counter, OrderedDict, defaultdict, namedtuple, ChainMap
words = "the quick brown fox jumps over the lazy dog the end".split()
c = Counter(words)
print(c.most_common(2), c["the"], c["missing"])
dd = defaultdict(list)
for w in words:
    dd[w[0]].append(w)
Point = namedtuple("Point", ["x", "y"])
p = Point(11, y=22)
print(p, p.x + p.y, p._asdict(), p._replace(x=1))
od = OrderedDict.fromkeys("abcde")
od.move_to_end("b")
cm = ChainMap({"a": 1}, {"a": 2, "b": 3})
result = [dict(dd)["t"], "".join(od), cm["a"], cm["b"]]
print(result)
# %% re-module
import re
print(re.findall(r"\bf[a-z]*", "which foot or hand fell fastest"))
print(re.sub(r"(\b[a-z]+) \1", r"\1", "cat in the the hat"))
m = re.match(r"(?P<first>\w+) (?P<last>\w+)", "Malcolm Reynolds")
print(m.group("first"), m.groupdict(), m.span())
pattern = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
print(pattern.sub(r"\3/\2/\1", "dates: 2024-01-15 and 2023-12-31"))
print(re.split(r"[,;]\s*", "a, b;c,  d"), bool(re.fullmatch(r"[A-Z]{3}\d+", "ABC123")))
result = [m.group(0) for m in re.finditer(r"\d+", "a1b22c333")]
# %% csv-in-memory
import csv, io
buf = io.StringIO()
w = csv.writer(buf)
w.writerow(["name", "age"])
w.writerows([["ann", 31], ["bob", 27]])
text = buf.getvalue()
print(text.replace("\r\n", "|"))
rows = list(csv.DictReader(io.StringIO(text)))
result = rows
# %% pathlib-pure-paths
from pathlib import PurePosixPath, PureWindowsPath
p = PurePosixPath("/usr/local/lib/python3.11/site-packages/pkg/mod.tar.gz")
print(p.name, p.suffix, p.suffixes, p.stem, p.parent.name, p.parts[:3])
print(PurePosixPath("a/b") / "c" / "../d", PureWindowsPath("c:/Program Files/x.exe").drive)
result = [str(p.with_suffix(".zip")), p.is_absolute(), p.match("*.gz"), str(p.relative_to("/usr"))]
# %% hashlib-hmac-base64
import hashlib, hmac, base64, binascii
print(hashlib.sha256(b"hello").hexdigest())
print(hashlib.md5(b"hello").hexdigest(), hashlib.blake2b(b"x", digest_size=8).hexdigest())
print(hmac.new(b"key", b"msg", "sha256").hexdigest()[:16])
enc = base64.b64encode(b"binary\x00data")
print(enc, base64.b64decode(enc), binascii.hexlify(b"\xde\xad"))
result = base64.urlsafe_b64encode(b"\xfb\xff").decode()
# %% uuid-and-secrets-shapes
import uuid, secrets
u = uuid.uuid4()
tok = secrets.token_hex(16)
print(uuid.UUID("12345678123456781234567812345678"))
print(uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"))
result = [len(str(u)), u.version, len(tok)]
# %% enum-variants
from enum import Enum, IntEnum, Flag, auto
class Perm(Flag):
    R = 4
    W = 2
    X = 1
class Level(IntEnum):
    LOW = 1
    HIGH = 3
class Shape(Enum):
    SQUARE = auto()
    CIRCLE = auto()
rw = Perm.R | Perm.W
print(rw, Perm.R in rw, Perm.X in rw, Level.HIGH > Level.LOW, Level.LOW + 1, list(Shape))
result = [Shape.CIRCLE.value, Level(3).name, [m.name for m in Perm]]
# %% typing-generics
from typing import Generic, TypeVar, Optional, Union, Callable, Iterable, Protocol, NamedTuple, TypedDict, Literal, get_type_hints
T = TypeVar("T")
class Stack(Generic[T]):
    def __init__(self) -> None:
        self.items: list[T] = []
    def push(self, item: T) -> None:
        self.items.append(item)
    def pop(self) -> T:
        return self.items.pop()
class Movie(TypedDict):
    name: str
    year: int
class Employee(NamedTuple):
    name: str
    id: int = 3
def apply(f: Callable[[int], int], xs: Iterable[int]) -> list[int]:
    return [f(x) for x in xs]
s: Stack[int] = Stack()
s.push(1); s.push(2)
m: Movie = {"name": "Blade Runner", "year": 1982}
hints = get_type_hints(apply)
print(s.pop(), m["year"], Employee("Guido"), sorted(hints))
result = apply(lambda v: v * 10, [1, 2, 3])
# %% contextlib-tools
import contextlib, io
@contextlib.contextmanager
def tag(name):
    print(f"<{name}>")
    yield name.upper()
    print(f"</{name}>")
with tag("h1") as t:
    print("hello", t)
with contextlib.suppress(KeyError):
    {}["x"]
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    print("captured")
with contextlib.ExitStack() as stack:
    names = [stack.enter_context(tag(n)) for n in ("a", "b")]
result = [buf.getvalue(), names]
# %% logging-to-stream
import logging, io
stream = io.StringIO()
logger = logging.getLogger("corpus.demo")
handler = logging.StreamHandler(stream)
handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
logger.addHandler(handler)
logger.setLevel(logging.INFO)
logger.debug("hidden")
logger.info("Informational message")
logger.warning("Warning:config file %s not found", "server.conf")
logger.removeHandler(handler)
result = stream.getvalue().splitlines()
print(result)
# %% argparse-parse
import argparse
parser = argparse.ArgumentParser(prog="top", description="Show top lines from each file")
parser.add_argument("filenames", nargs="+")
parser.add_argument("-l", "--lines", type=int, default=10)
parser.add_argument("--verbose", action="store_true")
args = parser.parse_args(["alpha.txt", "beta.txt", "-l", "5", "--verbose"])
print(args.filenames, args.lines, args.verbose)
result = vars(args)
# %% inspect-and-dis
import inspect, dis
def greet(name: str, punctuation: str = "!") -> str:
    return f"Hello, {name}{punctuation}"
sig = inspect.signature(greet)
print(sig, list(sig.parameters), sig.return_annotation.__name__)
ops = [i.opname for i in dis.get_instructions(greet)]
print(inspect.isfunction(greet), "RETURN_VALUE" in ops)
result = inspect.getsource(greet).splitlines()[0]
# %% copy-deep-shallow
import copy
a = [[1, 2], [3, 4]]
b = copy.copy(a)
c = copy.deepcopy(a)
a[0].append(99)
print(b, c)
result = [b[0] is a[0], c[0] is a[0]]
# %% zoneinfo-conversion
from datetime import datetime
from zoneinfo import ZoneInfo
try:
    dt = datetime(2024, 7, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    result = dt.isoformat()
except Exception as exc:
    result = type(exc).__name__
print(result)
# %% graphlib-topo
from graphlib import TopologicalSorter
graph = {"D": {"B", "C"}, "C": {"A"}, "B": {"A"}}
ts = TopologicalSorter(graph)
order = list(ts.static_order())
result = [order[0], order[-1], len(order)]
print(result)
# %% html-and-urllib-parse
import html
from urllib.parse import urlparse, urlencode, parse_qs, quote, urljoin
u = urlparse("https://example.com:8080/path/page.html?q=1&r=two#frag")
print(u.scheme, u.netloc, u.port, u.path, parse_qs(u.query), u.fragment)
print(urlencode({"a": 1, "b": "x y"}), quote("a b/c"), urljoin("http://a/b/c", "../d"))
result = [html.escape("<a href='x'>&</a>"), html.unescape("&lt;&amp;&gt;")]
# %% xml-etree
import xml.etree.ElementTree as ET
root = ET.fromstring("<root><item id='1'>a</item><item id='2'>b</item></root>")
items = [(e.get("id"), e.text) for e in root.iter("item")]
new = ET.SubElement(root, "item", id="3")
new.text = "c"
print(ET.tostring(root, encoding="unicode"))
result = items
# %% gzip-bz2-lzma
import gzip, bz2, lzma
data = b"compress me " * 50
result = [gzip.decompress(gzip.compress(data)) == data, bz2.decompress(bz2.compress(data)) == data, lzma.decompress(lzma.compress(data)) == data]
print(result)
# %% pickle-round-trip
import pickle
from dataclasses import dataclass
@dataclass
class Item:
    name: str
    qty: int
blob = pickle.dumps([Item("a", 1), {"k": (1, 2)}])
back = pickle.loads(blob)
print(back)
result = back[0].qty
# %% difflib-compare
import difflib
a = "one two three four".split()
b = "one three four five".split()
print(list(difflib.unified_diff(a, b, lineterm="", n=0)))
print(difflib.get_close_matches("appel", ["ape", "apple", "peach", "puppy"]))
result = round(difflib.SequenceMatcher(None, "abcd", "bcde").ratio(), 4)
# %% unicodedata-and-codecs
import unicodedata, codecs
print(unicodedata.name("é"), unicodedata.normalize("NFD", "é").encode("utf-8"))
print("straße".upper(), "ǅ".casefold(), codecs.encode("hello", "rot13"))
print("héllo wörld".encode("latin-1"), "€".encode("utf-16-le"))
result = [unicodedata.category("A"), unicodedata.numeric("½"), len("👍🏽")]
# %% shlex-ipaddress
import shlex, ipaddress
print(shlex.split('cmd --opt "quoted arg" plain'), shlex.quote("it's"))
net = ipaddress.ip_network("192.168.0.0/30")
result = [str(h) for h in net.hosts()] + [ipaddress.ip_address("10.0.0.1").is_private]
print(result)
