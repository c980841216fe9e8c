# Programs in the style of the official Python tutorial (docs.python.org/3/tutorial).
# %% numbers-arithmetic
print(2 + 2, 50 - 5 * 6, (50 - 5 * 6) / 4, 8 / 5, 17 // 3, 17 % 3, 5 ** 2, 2 ** 7)
result = round(3.14159, 2)
# %% strings-basics
word = "Python"
print(word[0], word[-1], word[0:2], word[2:5], word[:2] + word[2:])
print('doesn\'t', "\"Yes,\" they said.", r"C:\some\name")
result = len("supercalifragilisticexpialidocious")
# %% string-concat-repeat
print(3 * "un" + "ium")
text = ("Put several strings within parentheses "
        "to have them joined together.")
print(text)
result = text.split()
# %% lists-basics
squares = [1, 4, 9, 16, 25]
squares.append(36)
squares += [49, 64]
letters = ["a", "b", "c", "d", "e", "f", "g"]
letters[2:5] = ["C", "D", "E"]
print(squares[-3:], letters)
letters[:] = []
result = [squares, letters, len(squares)]
# %% fibonacci-while
a, b = 0, 1
out = []
while a < 1000:
    out.append(a)
    a, b = b, a + b
print(*out, sep=",")
result = out
# %% if-elif-else
def classify(x):
    if x < 0:
        return "Negative"
    elif x == 0:
        return "Zero"
    elif x == 1:
        return "Single"
    else:
        return "More"
result = [classify(v) for v in (-3, 0, 1, 42)]
print(result)
# %% for-over-words
words = ["cat", "window", "defenestrate"]
for w in words:
    print(w, len(w))
users = {"Hans": "active", "Eleonore": "inactive", "Tom": "active"}
for user, status in users.copy().items():
    if status == "inactive":
        del users[user]
result = users
# %% range-function
print(list(range(5)), list(range(5, 10)), list(range(0, 10, 3)), list(range(-10, -100, -30)))
a = ["Mary", "had", "a", "little", "lamb"]
for i in range(len(a)):
    print(i, a[i])
result = sum(range(4))
# %% break-else-primes
primes = []
for n in range(2, 30):
    for x in range(2, n):
        if n % x == 0:
            break
    else:
        primes.append(n)
print(primes)
result = primes
# %% continue-even-odd
for num in range(2, 10):
    if num % 2 == 0:
        print("Found an even number", num)
        continue
    print("Found an odd number", num)
result = None
# %% match-http-status
def http_error(status):
    match status:
        case 400:
            return "Bad request"
        case 404:
            return "Not found"
        case 418:
            return "I'm a teapot"
        case 401 | 403:
            return "Not allowed"
        case _:
            return "Something's wrong with the internet"
result = [http_error(s) for s in (400, 403, 418, 500)]
print(result)
# %% match-points
class Point:
    __match_args__ = ("x", "y")
    def __init__(self, x, y):
        self.x = x
        self.y = y
def where_is(point):
    match point:
        case Point(x=0, y=0):
            return "Origin"
        case Point(x=0, y=y):
            return f"Y={y}"
        case Point(x=x, y=0):
            return f"X={x}"
        case Point(x, y) if x == y:
            return f"Diagonal at {x}"
        case Point():
            return "Somewhere else"
        case _:
            return "Not a point"
result = [where_is(p) for p in (Point(0, 0), Point(0, 3), Point(2, 0), Point(4, 4), Point(1, 2), 7)]
print(result)
# %% match-enum-color
from enum import Enum
class Color(Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"
def describe(color):
    match color:
        case Color.RED:
            return "I see red!"
        case Color.GREEN:
            return "Grass is green"
        case Color.BLUE:
            return "I'm feeling the blues :("
result = [describe(Color(c)) for c in ("red", "green", "blue")]
print(*result, sep="\n")
# %% define-fib-function
def fib2(n):
    """Return a list containing the Fibonacci series up to n."""
    result = []
    a, b = 0, 1
    while a < n:
        result.append(a)
        a, b = b, a + b
    return result
print(fib2.__doc__)
result = fib2(100)
# %% default-arguments
def ask_ok(prompt, retries=4, reminder="Please try again!"):
    return f"{prompt} ({retries}) {reminder}"
i = 5
def f(arg=i):
    return arg
i = 6
print(ask_ok("Do you really want to quit?"), ask_ok("OK to overwrite?", 2), f())
def g(a, L=[]):
    L.append(a)
    return L
g(1); g(2)
result = g(3)
# %% keyword-arguments
def parrot(voltage, state="a stiff", action="voom", type="Norwegian Blue"):
    return f"-- This parrot wouldn't {action} if you put {voltage} volts through it. -- It's {state}!"
print(parrot(1000))
print(parrot(voltage=1000000, action="VOOOOOM"))
print(parrot("a million", "bereft of life", "jump"))
def cheeseshop(kind, *arguments, **keywords):
    lines = ["-- Do you have any " + kind + "?"]
    lines.extend(arguments)
    lines.extend(f"{kw}: {keywords[kw]}" for kw in keywords)
    return lines
result = cheeseshop("Limburger", "It's very runny, sir.", shopkeeper="Michael Palin", client="John Cleese")
print("\n".join(result))
# %% special-parameters
def standard_arg(arg):
    return arg
def pos_only_arg(arg, /):
    return arg
def kwd_only_arg(*, arg):
    return arg
def combined_example(pos_only, /, standard, *, kwd_only):
    return pos_only, standard, kwd_only
try:
    pos_only_arg(arg=1)
except TypeError as e:
    print("TypeError:", "positional-only" in str(e))
result = [standard_arg(2), pos_only_arg(1), kwd_only_arg(arg=3), combined_example(1, standard=2, kwd_only=3)]
print(result)
# %% unpacking-argument-lists
args = [3, 6]
print(list(range(*args)))
def parrot(voltage, state="a stiff", action="voom"):
    return f"voltage={voltage} state={state} action={action}"
d = {"voltage": "four million", "state": "bleedin' demised", "action": "VOOM"}
result = parrot(**d)
print(result)
# %% lambda-expressions
def make_incrementor(n):
    return lambda x: x + n
f = make_incrementor(42)
pairs = [(1, "one"), (2, "two"), (3, "three"), (4, "four")]
pairs.sort(key=lambda pair: pair[1])
print(f(0), f(1), pairs)
result = pairs
# %% list-methods
fruits = ["orange", "apple", "pear", "banana", "kiwi", "apple", "banana"]
print(fruits.count("apple"), fruits.count("tangerine"), fruits.index("banana"), fruits.index("banana", 4))
fruits.reverse()
fruits.append("grape")
fruits.sort()
print(fruits, fruits.pop())
result = fruits
# %% list-as-stack-queue
from collections import deque
stack = [3, 4, 5]
stack.append(6)
stack.append(7)
stack.pop()
queue = deque(["Eric", "John", "Michael"])
queue.append("Terry")
queue.append("Graham")
first = queue.popleft()
second = queue.popleft()
result = {"stack": stack, "queue": list(queue), "served": [first, second]}
print(result)
# %% list-comprehensions
squares = [x ** 2 for x in range(10)]
combs = [(x, y) for x in [1, 2, 3] for y in [3, 1, 4] if x != y]
vec = [-4, -2, 0, 2, 4]
from math import pi
print([str(round(pi, i)) for i in range(1, 6)])
result = [squares, combs, [x * 2 for x in vec], [abs(x) for x in vec]]
# %% nested-comprehension-transpose
matrix = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
t1 = [[row[i] for row in matrix] for i in range(4)]
t2 = list(map(list, zip(*matrix)))
print(t1 == t2)
result = t1
# %% del-statement
a = [-1, 1, 66.25, 333, 333, 1234.5]
del a[0]
del a[2:4]
print(a)
del a[:]
result = a
# %% tuples-sequences
t = 12345, 54321, "hello!"
u = t, (1, 2, 3, 4, 5)
empty = ()
singleton = "hello",
x, y, z = t
print(t[0], u, len(empty), len(singleton), singleton)
result = [x, y, z]
# %% sets-basics
basket = {"apple", "orange", "apple", "pear", "orange", "banana"}
a = set("abracadabra")
b = set("alacazam")
print(sorted(basket), "orange" in basket, "crabgrass" in basket)
print(sorted(a - b), sorted(a | b), sorted(a & b), sorted(a ^ b))
result = sorted({x for x in "abracadabra" if x not in "abc"})
# %% dictionaries
tel = {"jack": 4098, "sape": 4139}
tel["guido"] = 4127
del tel["sape"]
tel["irv"] = 4127
print(tel, list(tel), sorted(tel), "guido" in tel)
print(dict([("sape", 4139), ("guido", 4127), ("jack", 4098)]), {x: x ** 2 for x in (2, 4, 6)})
result = dict(sape=4139, guido=4127, jack=4098)
# %% looping-techniques
knights = {"gallahad": "the pure", "robin": "the brave"}
for k, v in knights.items():
    print(k, v)
for i, v in enumerate(["tic", "tac", "toe"]):
    print(i, v)
questions = ["name", "quest", "favorite color"]
answers = ["lancelot", "the holy grail", "blue"]
for q, a in zip(questions, answers):
    print(f"What is your {q}?  It is {a}.")
for i in reversed(range(1, 10, 2)):
    print(i, end=" ")
print()
basket = ["apple", "orange", "apple", "pear", "orange", "banana"]
result = [f for f in sorted(set(basket))]
# %% comparing-sequences
result = [
    (1, 2, 3) < (1, 2, 4),
    [1, 2, 3] < [1, 2, 4],
    "ABC" < "C" < "Pascal" < "Python",
    (1, 2, 3, 4) < (1, 2, 4),
    (1, 2) < (1, 2, -1),
    (1, 2, 3) == (1.0, 2.0, 3.0),
    (1, 2, ("aa", "ab")) < (1, 2, ("abc", "a"), 4),
]
print(result)
# %% fancy-output-fstrings
import math
year = 2016
event = "Referendum"
print(f"Results of the {year} {event}")
yes_votes = 42_572_654
total_votes = 85_705_149
percentage = yes_votes / total_votes
print("{:-9} YES votes  {:2.2%}".format(yes_votes, percentage))
print(f"The value of pi is approximately {math.pi:.3f}.")
table = {"Sjoerd": 4127, "Jack": 4098, "Dcab": 7678}
for name, phone in table.items():
    print(f"{name:10} ==> {phone:10d}")
animals = "eels"
print(f"My hovercraft is full of {animals!r}.")
bugs = "roaches"
count = 13
area = "living room"
print(f"Debugging {bugs=} {count=} {area=}")
result = f"{percentage:.4f}"
# %% str-format-method
print("We are the {} who say \"{}!\"".format("knights", "Ni"))
print("{0} and {1}".format("spam", "eggs"), "{1} and {0}".format("spam", "eggs"))
print("This {food} is {adjective}.".format(food="spam", adjective="absolutely horrible"))
table = {"Sjoerd": 4127, "Jack": 4098, "Dcab": 8637678}
print("Jack: {0[Jack]:d}; Sjoerd: {0[Sjoerd]:d}; Dcab: {0[Dcab]:d}".format(table))
print("Jack: {Jack:d}; Sjoerd: {Sjoerd:d}; Dcab: {Dcab:d}".format(**table))
for x in range(1, 6):
    print("{0:2d} {1:3d} {2:4d}".format(x, x * x, x * x * x))
result = "12".zfill(5)
# %% old-string-formatting
import math
print("The value of pi is approximately %5.3f." % math.pi)
print("%s has %d items costing %.2f" % ("cart", 3, 9.5))
result = repr("hello, world\n")
print(result, str(1 / 7), repr(1 / 7))
# %% json-round-trip
import json
x = [1, "simple", "list", {"nested": True, "n": None}]
s = json.dumps(x)
print(s)
result = json.loads(s)
# %% exceptions-handling
def divide(x, y):
    try:
        result = x / y
    except ZeroDivisionError:
        return "division by zero!"
    else:
        return f"result is {result}"
    finally:
        print("executing finally clause")
result = [divide(2, 1), divide(2, 0)]
try:
    divide("2", "1")
except TypeError as err:
    print(type(err).__name__)
# %% raise-and-chain
def func():
    raise ConnectionError
try:
    try:
        func()
    except ConnectionError as exc:
        raise RuntimeError("Failed to open database") from exc
except RuntimeError as e:
    print(e, type(e.__cause__).__name__)
try:
    raise ValueError("spam", "eggs")
except Exception as inst:
    print(type(inst).__name__, inst.args)
    x, y = inst.args
result = [x, y]
# %% user-defined-exceptions
class InputError(Exception):
    def __init__(self, expression, message):
        self.expression = expression
        self.message = message
        super().__init__(f"{expression}: {message}")
try:
    raise InputError("1 +", "incomplete expression")
except InputError as e:
    print(e.expression, "|", e.message, "|", e)
    result = str(e)
# %% exception-groups
def f():
    excs = [OSError("error 1"), SystemError("error 2")]
    raise ExceptionGroup("there were problems", excs)
caught = []
try:
    f()
except* OSError as e:
    caught.append(("OSError", len(e.exceptions)))
except* SystemError as e:
    caught.append(("SystemError", len(e.exceptions)))
print(caught)
try:
    raise TypeError("bad type")
except Exception as e:
    e.add_note("Add some information")
    e.add_note("Add some more information")
    print(e.__notes__)
result = caught
# %% classes-dog
class Dog:
    kind = "canine"
    def __init__(self, name):
        self.name = name
        self.tricks = []
    def add_trick(self, trick):
        self.tricks.append(trick)
d = Dog("Fido")
e = Dog("Buddy")
d.add_trick("roll over")
e.add_trick("play dead")
print(d.kind, e.kind, d.name, e.name, d.tricks, e.tricks)
result = {"fido": d.tricks, "buddy": e.tricks}
# %% scopes-namespaces
def scope_test():
    def do_local():
        spam = "local spam"
    def do_nonlocal():
        nonlocal spam
        spam = "nonlocal spam"
    def do_global():
        global spam
        spam = "global spam"
    spam = "test spam"
    do_local()
    print("After local assignment:", spam)
    do_nonlocal()
    print("After nonlocal assignment:", spam)
    do_global()
    print("After global assignment:", spam)
scope_test()
print("In global scope:", spam)
result = spam
# %% inheritance-mapping
class Mapping:
    def __init__(self, iterable):
        self.items_list = []
        self.__update(iterable)
    def update(self, iterable):
        for item in iterable:
            self.items_list.append(item)
    __update = update
class MappingSubclass(Mapping):
    def update(self, keys, values):
        for item in zip(keys, values):
            self.items_list.append(item)
m = MappingSubclass([1, 2])
m.update(["a", "b"], [3, 4])
print(m.items_list, isinstance(m, Mapping), issubclass(bool, int))
result = m.items_list
# %% iterators-reverse
class Reverse:
    """Iterator for looping over a sequence backwards."""
    def __init__(self, data):
        self.data = data
        self.index = len(data)
    def __iter__(self):
        return self
    def __next__(self):
        if self.index == 0:
            raise StopIteration
        self.index = self.index - 1
        return self.data[self.index]
rev = Reverse("spam")
result = "".join(rev)
it = iter("abc")
print(next(it), next(it), next(it), result)
# %% generators
def reverse(data):
    for index in range(len(data) - 1, -1, -1):
        yield data[index]
print(list(reverse("golf")))
print(sum(i * i for i in range(10)))
xvec = [10, 20, 30]
yvec = [7, 5, 3]
print(sum(x * y for x, y in zip(xvec, yvec)))
data = "golf"
result = list(data[i] for i in range(len(data) - 1, -1, -1))
# %% dataclass-employee
from dataclasses import dataclass
@dataclass
class Employee:
    name: str
    dept: str
    salary: int
john = Employee("john", "computer lab", 1000)
print(john, john.dept, john.salary)
result = [john.name, john == Employee("john", "computer lab", 1000)]
