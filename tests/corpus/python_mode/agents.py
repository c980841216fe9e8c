# Class-heavy agent code: dataclasses, protocols, enums, ABCs, descriptors, async tools, typing.
# %% tool-registry-decorator
from typing import Callable, Dict
class ToolRegistry:
    def __init__(self) -> None:
        self._tools: Dict[str, Callable[..., object]] = {}
    def register(self, name: str):
        def decorator(fn):
            self._tools[name] = fn
            return fn
        return decorator
    def call(self, tool: str, /, **kwargs):
        if tool not in self._tools:
            raise KeyError(f"unknown tool {tool}")
        return self._tools[tool](**kwargs)
registry = ToolRegistry()
@registry.register("add")
def add(a: int, b: int) -> int:
    return a + b
@registry.register("greet")
def greet(name: str) -> str:
    return f"Hello, {name}!"
result = [registry.call("add", a=2, b=3), registry.call("greet", name="Ada")]
try:
    registry.call("missing")
except KeyError as e:
    print("error:", e)
# %% message-dataclasses
from dataclasses import dataclass, field, asdict
from typing import Literal, Optional
@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    name: Optional[str] = None
@dataclass
class Conversation:
    messages: list[Message] = field(default_factory=list)
    def add(self, role, content, **kw):
        self.messages.append(Message(role, content, **kw))
        return self
    def to_openai(self):
        return [{k: v for k, v in asdict(m).items() if v is not None} for m in self.messages]
conv = Conversation().add("system", "Be brief.").add("user", "Hi").add("tool", "42", name="calc")
result = conv.to_openai()
print(len(conv.messages), conv.messages[0])
# %% state-machine-enum
from enum import Enum, auto
class State(Enum):
    IDLE = auto()
    PLANNING = auto()
    ACTING = auto()
    DONE = auto()
TRANSITIONS = {State.IDLE: {State.PLANNING}, State.PLANNING: {State.ACTING, State.DONE},
               State.ACTING: {State.PLANNING, State.DONE}, State.DONE: set()}
class Agent:
    def __init__(self):
        self.state = State.IDLE
        self.history = [self.state.name]
    def go(self, new: State):
        if new not in TRANSITIONS[self.state]:
            raise ValueError(f"{self.state.name} -> {new.name} not allowed")
        self.state = new
        self.history.append(new.name)
a = Agent()
for s in (State.PLANNING, State.ACTING, State.PLANNING, State.DONE):
    a.go(s)
try:
    a.go(State.ACTING)
except ValueError as e:
    print(e)
result = a.history
# %% abstract-base-classes
from abc import ABC, abstractmethod
class Tool(ABC):
    name: str
    @abstractmethod
    def run(self, query: str) -> str: ...
    def __call__(self, query: str) -> str:
        return f"[{self.name}] {self.run(query)}"
class Upper(Tool):
    name = "upper"
    def run(self, query):
        return query.upper()
class Count(Tool):
    name = "count"
    def run(self, query):
        return str(len(query.split()))
try:
    Tool()
except TypeError as e:
    print("TypeError:", "abstract" in str(e))
result = [t("hello agent world") for t in (Upper(), Count())]
# %% protocol-structural-typing
from typing import Protocol, runtime_checkable
@runtime_checkable
class SupportsSearch(Protocol):
    def search(self, q: str) -> list[str]: ...
class Index:
    def __init__(self, docs):
        self.docs = docs
    def search(self, q):
        return [d for d in self.docs if q.lower() in d.lower()]
class NotAnIndex:
    pass
idx = Index(["Python sandbox", "Rust borrow checker", "python typing"])
result = [isinstance(idx, SupportsSearch), isinstance(NotAnIndex(), SupportsSearch), idx.search("python")]
print(result)
# %% properties-and-setters
class Budget:
    def __init__(self, limit):
        self._limit = limit
        self._spent = 0.0
    @property
    def remaining(self):
        return self._limit - self._spent
    @property
    def spent(self):
        return self._spent
    @spent.setter
    def spent(self, value):
        if value > self._limit:
            raise ValueError("over budget")
        self._spent = value
b = Budget(10)
b.spent = 7.5
try:
    b.spent = 11
except ValueError as e:
    print(e)
result = [b.remaining, b.spent]
# %% descriptors-validation
class Positive:
    def __set_name__(self, owner, name):
        self.private = "_" + name
    def __get__(self, obj, objtype=None):
        return getattr(obj, self.private)
    def __set__(self, obj, value):
        if value <= 0:
            raise ValueError(f"{self.private[1:]} must be positive")
        setattr(obj, self.private, value)
class Order:
    qty = Positive()
    price = Positive()
    def __init__(self, qty, price):
        self.qty = qty
        self.price = price
    def total(self):
        return self.qty * self.price
o = Order(3, 2.5)
try:
    Order(0, 1)
except ValueError as e:
    print(e)
result = o.total()
# %% dunder-methods-vector
import math
class Vector:
    __slots__ = ("x", "y")
    def __init__(self, x, y):
        self.x, self.y = x, y
    def __repr__(self):
        return f"Vector({self.x!r}, {self.y!r})"
    def __add__(self, o):
        return Vector(self.x + o.x, self.y + o.y)
    def __mul__(self, k):
        return Vector(self.x * k, self.y * k)
    __rmul__ = __mul__
    def __abs__(self):
        return math.hypot(self.x, self.y)
    def __eq__(self, o):
        return isinstance(o, Vector) and (self.x, self.y) == (o.x, o.y)
    def __hash__(self):
        return hash((self.x, self.y))
    def __iter__(self):
        yield self.x
        yield self.y
    def __bool__(self):
        return bool(self.x or self.y)
v = Vector(3, 4)
print(v + Vector(1, 1), 2 * v, abs(v), list(v), bool(Vector(0, 0)), len({v, Vector(3, 4)}))
result = repr(v * 3)
# %% container-protocols
class Memory:
    def __init__(self):
        self._data = {}
    def __setitem__(self, k, v):
        self._data[k] = v
    def __getitem__(self, k):
        return self._data[k]
    def __delitem__(self, k):
        del self._data[k]
    def __contains__(self, k):
        return k in self._data
    def __len__(self):
        return len(self._data)
    def __iter__(self):
        return iter(sorted(self._data))
m = Memory()
m["goal"] = "write report"
m["step"] = 2
del m["step"]
m["tool"] = "search"
result = [len(m), "goal" in m, "step" in m, list(m), m["tool"]]
print(result)
# %% context-manager-class
class Span:
    log = []
    def __init__(self, name):
        self.name = name
    def __enter__(self):
        Span.log.append(f"start {self.name}")
        return self
    def __exit__(self, exc_type, exc, tb):
        Span.log.append(f"end {self.name} {'error' if exc_type else 'ok'}")
        return exc_type is KeyError
with Span("outer"):
    with Span("lookup"):
        {}["missing"]
    with Span("inner"):
        pass
result = Span.log
print(*result, sep="\n")
# %% class-methods-and-static
class Config:
    defaults = {"model": "small", "temperature": 0.2}
    def __init__(self, **values):
        self.values = {**self.defaults, **values}
    @classmethod
    def from_text(cls, text):
        pairs = (line.split("=", 1) for line in text.strip().splitlines())
        return cls(**{k.strip(): cls.parse(v.strip()) for k, v in pairs})
    @staticmethod
    def parse(v):
        for kind in (int, float):
            try:
                return kind(v)
            except ValueError:
                pass
        return v
cfg = Config.from_text("""
model = large
max_tokens = 256
temperature = 0.7
""")
result = cfg.values
print(result)
# %% inheritance-mro-super
class Base:
    def describe(self):
        return ["Base"]
class Logging(Base):
    def describe(self):
        return ["Logging"] + super().describe()
class Retrying(Base):
    def describe(self):
        return ["Retrying"] + super().describe()
class Robust(Logging, Retrying):
    def describe(self):
        return ["Robust"] + super().describe()
result = [Robust().describe(), [c.__name__ for c in Robust.__mro__]]
print(result)
# %% init-subclass-plugins
class Plugin:
    registry = {}
    def __init_subclass__(cls, *, key, **kwargs):
        super().__init_subclass__(**kwargs)
        Plugin.registry[key] = cls
class Csv(Plugin, key="csv"):
    pass
class Json(Plugin, key="json"):
    pass
result = {k: v.__name__ for k, v in Plugin.registry.items()}
print(result)
# %% metaclass-singleton
class Singleton(type):
    _instances = {}
    def __call__(cls, *args, **kwargs):
        if cls not in cls._instances:
            cls._instances[cls] = super().__call__(*args, **kwargs)
        return cls._instances[cls]
class Settings(metaclass=Singleton):
    def __init__(self):
        self.calls = 0
a = Settings()
b = Settings()
a.calls += 1
result = [a is b, b.calls, type(Settings).__name__]
print(result)
# %% async-tool-calls
import asyncio
async def fetch(name, delay):
    await asyncio.sleep(delay)
    return f"{name} done"
async def main():
    results = await asyncio.gather(fetch("search", 0.01), fetch("calc", 0.0), fetch("db", 0.005))
    try:
        await asyncio.wait_for(fetch("slow", 1), timeout=0.01)
    except asyncio.TimeoutError:
        results.append("slow timed out")
    return results
result = asyncio.run(main())
print(result)
# %% async-queue-workers
import asyncio
async def worker(name, queue, done):
    while True:
        item = await queue.get()
        done.append((name, item * item))
        queue.task_done()
async def main():
    queue = asyncio.Queue()
    done = []
    for i in range(6):
        queue.put_nowait(i)
    tasks = [asyncio.create_task(worker(f"w{n}", queue, done)) for n in range(2)]
    await queue.join()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return sorted(v for _, v in done)
result = asyncio.run(main())
print(result)
# %% async-generators-and-context
import asyncio
from contextlib import asynccontextmanager
@asynccontextmanager
async def session(name):
    print("open", name)
    yield name.upper()
    print("close", name)
async def ticks(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i
async def main():
    async with session("db") as s:
        values = [i async for i in ticks(4)]
    return s, values
result = asyncio.run(main())
print(result)
# %% retry-with-backoff
import functools
def retry(times):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            errors = []
            for attempt in range(1, times + 1):
                try:
                    return fn(*args, **kwargs), attempt, errors
                except ConnectionError as e:
                    errors.append(str(e))
            raise RuntimeError(f"gave up after {times}: {errors}")
        return wrapper
    return deco
calls = {"n": 0}
@retry(times=4)
def flaky():
    calls["n"] += 1
    if calls["n"] < 3:
        raise ConnectionError(f"fail {calls['n']}")
    return "ok"
result = [flaky(), flaky.__name__]
print(result)
# %% observer-pattern
class EventBus:
    def __init__(self):
        self.subscribers = {}
    def on(self, event, handler):
        self.subscribers.setdefault(event, []).append(handler)
    def emit(self, event, payload):
        return [h(payload) for h in self.subscribers.get(event, [])]
bus = EventBus()
log = []
bus.on("tool_call", lambda p: log.append(("audit", p["tool"])) or "audited")
bus.on("tool_call", lambda p: f"metrics:{p['tool']}")
result = [bus.emit("tool_call", {"tool": "search"}), bus.emit("nothing", {}), log]
print(result)
# %% planner-with-dataclass-ordering
from dataclasses import dataclass, field
import heapq
@dataclass(order=True)
class Task:
    priority: int
    name: str = field(compare=False)
    deps: tuple = field(default=(), compare=False)
tasks = [Task(3, "write"), Task(1, "research"), Task(2, "outline", ("research",)), Task(5, "publish", ("write",))]
heapq.heapify(tasks)
order = [heapq.heappop(tasks).name for _ in range(len(tasks))]
result = order
print(result)
# %% json-schema-like-validation
SCHEMA = {"name": str, "age": int, "tags": list}
def validate(obj, schema=SCHEMA):
    errors = []
    for key, kind in schema.items():
        if key not in obj:
            errors.append(f"missing {key}")
        elif not isinstance(obj[key], kind):
            errors.append(f"{key}: expected {kind.__name__}, got {type(obj[key]).__name__}")
    extra = sorted(set(obj) - set(schema))
    errors.extend(f"unexpected {k}" for k in extra)
    return errors
result = [validate({"name": "a", "age": 3, "tags": []}), validate({"name": 1, "tags": [], "x": 0})]
print(result)
# %% memoizing-llm-cache
from functools import lru_cache
calls = []
@lru_cache(maxsize=2)
def complete(prompt):
    calls.append(prompt)
    return prompt[::-1]
for p in ["a", "b", "a", "c", "a", "b"]:
    complete(p)
result = [calls, complete.cache_info().hits, complete.cache_info().misses]
print(result)
# %% generics-result-type
from dataclasses import dataclass
from typing import Generic, TypeVar, Union
T = TypeVar("T")
E = TypeVar("E")
@dataclass
class Ok(Generic[T]):
    value: T
@dataclass
class Err(Generic[E]):
    error: E
Result = Union[Ok[T], Err[E]]
def parse_int(s: str) -> "Result[int, str]":
    try:
        return Ok(int(s))
    except ValueError:
        return Err(f"not an int: {s!r}")
out = []
for s in ["12", "x", "-3"]:
    match parse_int(s):
        case Ok(value=v):
            out.append(v)
        case Err(error=e):
            out.append(e)
result = out
print(result)
# %% namedtuple-and-typeddict-records
from typing import NamedTuple, TypedDict
class Hit(NamedTuple):
    doc: str
    score: float
class Query(TypedDict, total=False):
    text: str
    k: int
def search(q: Query) -> list[Hit]:
    docs = {"intro": 0.9, "setup": 0.4, "faq": 0.7}
    hits = sorted((Hit(d, s) for d, s in docs.items()), key=lambda h: -h.score)
    return hits[: q.get("k", 2)]
result = [h._asdict() for h in search({"text": "how"})]
print(result)
# %% string-templates-for-prompts
from string import Template
PROMPT = Template("You are $role.\nTask: $task\nConstraints:\n$constraints")
def render(role, task, constraints):
    return PROMPT.substitute(role=role, task=task, constraints="\n".join(f"- {c}" for c in constraints))
text = render("a careful analyst", "summarise sales", ["cite numbers", "be brief"])
print(text)
result = text.count("\n")
# %% chain-of-responsibility
class Handler:
    def __init__(self, nxt=None):
        self.nxt = nxt
    def handle(self, req):
        if self.nxt:
            return self.nxt.handle(req)
        return "unhandled"
class Cache(Handler):
    store = {"ping": "pong"}
    def handle(self, req):
        return self.store.get(req) or super().handle(req)
class Calculator(Handler):
    def handle(self, req):
        if req.replace("+", "").isdigit():
            return str(sum(int(p) for p in req.split("+")))
        return super().handle(req)
chain = Cache(Calculator(Handler()))
result = [chain.handle(r) for r in ("ping", "2+40", "weather")]
print(result)
# %% generator-pipeline
def read(lines):
    for line in lines:
        yield line.strip()
def non_empty(items):
    return (i for i in items if i)
def parse(items):
    for i in items:
        k, _, v = i.partition(":")
        yield k.strip(), v.strip()
raw = ["name: sandbox", "", "lang: python ", "  ", "mode: strict"]
result = dict(parse(non_empty(read(raw))))
print(result)
# %% exceptions-hierarchy-agent
class AgentError(Exception):
    pass
class ToolError(AgentError):
    def __init__(self, tool, reason):
        super().__init__(f"{tool}: {reason}")
        self.tool = tool
class BudgetExceeded(AgentError):
    pass
def step(i):
    if i == 1:
        raise ToolError("search", "timeout")
    if i == 2:
        raise BudgetExceeded("no tokens left")
    return f"step {i} ok"
out = []
for i in range(4):
    try:
        out.append(step(i))
    except ToolError as e:
        out.append(f"retry {e.tool}")
    except AgentError as e:
        out.append(f"stop: {e}")
result = out
print(result)
# %% slots-and-weakref-cache
import weakref
class Node:
    __slots__ = ("name", "children", "__weakref__")
    def __init__(self, name):
        self.name = name
        self.children = []
root = Node("root")
root.children.append(Node("leaf"))
ref = weakref.ref(root)
try:
    root.extra = 1
except AttributeError:
    print("no __dict__")
result = [ref().name, [c.name for c in root.children]]
# %% dataclass-post-init-and-replace
from dataclasses import dataclass, field, replace, fields
@dataclass
class Run:
    tool: str
    tokens: int
    cost: float = field(init=False)
    tags: list = field(default_factory=list, repr=False)
    def __post_init__(self):
        self.cost = round(self.tokens * 0.002, 4)
r = Run("search", 1500)
r2 = replace(r, tokens=500)
result = [r.cost, r2.cost, [f.name for f in fields(Run)], repr(r2)]
print(result)
# %% operator-overloading-money
from functools import total_ordering
@total_ordering
class Money:
    def __init__(self, cents, currency="EUR"):
        self.cents, self.currency = cents, currency
    def __add__(self, other):
        if other == 0:
            return self
        assert self.currency == other.currency
        return Money(self.cents + other.cents, self.currency)
    __radd__ = __add__
    def __eq__(self, other):
        if isinstance(other, int):
            return self.cents == other
        return (self.cents, self.currency) == (other.cents, other.currency)
    def __lt__(self, other):
        return self.cents < other.cents
    def __str__(self):
        return f"{self.cents // 100}.{self.cents % 100:02d} {self.currency}"
    __hash__ = None
prices = [Money(1999), Money(550), Money(1)]
result = [str(sum(prices)), str(max(prices)), str(min(prices)), Money(5) <= Money(6)]
print(result)
# %% eval-and-exec-of-own-strings
namespace = {}
exec("def double(x):\n    return 2 * x", namespace)
formula = "double(a) + b ** 2"
result = [eval(formula, namespace, {"a": 5, "b": 3}), eval("[i * i for i in range(4)]")]
code = compile("total = sum(values)", "<agent>", "exec")
scope = {"values": [1, 2, 3]}
exec(code, scope)
result.append(scope["total"])
print(result)
# %% closures-counters-nonlocal
def make_counter():
    count = 0
    def incr(step=1):
        nonlocal count
        count += step
        return count
    def reset():
        nonlocal count
        count = 0
    return incr, reset
incr, reset = make_counter()
incr(); incr(5)
before = incr()
reset()
result = [before, incr()]
print(result)
# %% walrus-and-comprehension-scope
data = [3, 8, 1, 9, 4]
if (n := len(data)) > 3:
    print(f"{n} items")
running = [total := 0] and [total := total + x for x in data]
result = [running, total, [y for x in data if (y := x * 2) > 6]]
print(result)
# %% typing-overload-and-final
from typing import overload, Final, ClassVar
MAX_STEPS: Final = 10
class Tokenizer:
    vocab: ClassVar[dict[str, int]] = {"a": 1, "b": 2}
    @overload
    def encode(self, text: str) -> list[int]: ...
    @overload
    def encode(self, text: list[str]) -> list[list[int]]: ...
    def encode(self, text):
        if isinstance(text, list):
            return [self.encode(t) for t in text]
        return [self.vocab.get(c, 0) for c in text]
result = [Tokenizer().encode("abc"), Tokenizer().encode(["ab", "ba"]), MAX_STEPS]
print(result)
