# Rosetta Code tasks (rosettacode.org task names), one solution each, written for this corpus.
# %% 100-doors
doors = [False] * 100
for i in range(100):
    for j in range(i, 100, i + 1):
        doors[j] = not doors[j]
result = [i + 1 for i, open_ in enumerate(doors) if open_]
print(result)
# %% fizzbuzz
for i in range(1, 21):
    print("Fizz" * (i % 3 == 0) + "Buzz" * (i % 5 == 0) or i)
result = None
# %% ackermann-function
import sys
sys.setrecursionlimit(10000)
def ack(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ack(m - 1, 1)
    return ack(m - 1, ack(m, n - 1))
result = [ack(0, 0), ack(1, 2), ack(2, 3), ack(3, 3)]
print(result)
# %% towers-of-hanoi
moves = []
def hanoi(n, src="A", via="B", dst="C"):
    if n:
        hanoi(n - 1, src, dst, via)
        moves.append((src, dst))
        hanoi(n - 1, via, src, dst)
hanoi(4)
print(len(moves), moves[:3])
result = len(moves)
# %% sieve-of-eratosthenes
def sieve(limit):
    is_prime = [True] * (limit + 1)
    is_prime[0] = is_prime[1] = False
    for i in range(2, int(limit ** 0.5) + 1):
        if is_prime[i]:
            is_prime[i * i :: i] = [False] * len(range(i * i, limit + 1, i))
    return [i for i, p in enumerate(is_prime) if p]
result = sieve(100)
print(result)
# %% greatest-common-divisor
def gcd(u, v):
    while v:
        u, v = v, u % v
    return abs(u)
result = [gcd(40902, 24140), gcd(-12, 18), gcd(0, 5)]
print(result)
# %% factorial
from functools import reduce
from operator import mul
def fact_iter(n):
    return reduce(mul, range(1, n + 1), 1)
def fact_rec(n):
    return 1 if n < 2 else n * fact_rec(n - 1)
result = [fact_iter(20), fact_rec(25)]
print(result)
# %% fibonacci-sequence
def fib_gen():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b
from itertools import islice
result = list(islice(fib_gen(), 30))
print(result[-1])
# %% binary-search
def binary_search(xs, target):
    lo, hi = 0, len(xs) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if xs[mid] < target:
            lo = mid + 1
        elif xs[mid] > target:
            hi = mid - 1
        else:
            return mid
    return -1
xs = list(range(0, 100, 3))
result = [binary_search(xs, 27), binary_search(xs, 28), binary_search(xs, 99)]
print(result)
# %% bubble-sort
def bubble(xs):
    xs = list(xs)
    changed = True
    while changed:
        changed = False
        for i in range(len(xs) - 1):
            if xs[i] > xs[i + 1]:
                xs[i], xs[i + 1] = xs[i + 1], xs[i]
                changed = True
    return xs
result = bubble([5, 3, 8, 1, 9, 2, 7])
print(result)
# %% quicksort
def qsort(xs):
    if len(xs) <= 1:
        return xs
    pivot, *rest = xs
    return qsort([x for x in rest if x < pivot]) + [pivot] + qsort([x for x in rest if x >= pivot])
result = qsort([3, 6, 1, 8, 1, 9, 4, 4, 0])
print(result)
# %% merge-sort
def merge_sort(m):
    if len(m) <= 1:
        return m
    middle = len(m) // 2
    left, right = merge_sort(m[:middle]), merge_sort(m[middle:])
    out = []
    while left and right:
        out.append(left.pop(0) if left[0] <= right[0] else right.pop(0))
    return out + left + right
result = merge_sort([38, 27, 43, 3, 9, 82, 10])
print(result)
# %% heapsort
def heapsort(a):
    def sift(start, end):
        root = start
        while 2 * root + 1 <= end:
            child = 2 * root + 1
            if child + 1 <= end and a[child] < a[child + 1]:
                child += 1
            if a[root] < a[child]:
                a[root], a[child] = a[child], a[root]
                root = child
            else:
                return
    for start in range(len(a) // 2 - 1, -1, -1):
        sift(start, len(a) - 1)
    for end in range(len(a) - 1, 0, -1):
        a[end], a[0] = a[0], a[end]
        sift(0, end - 1)
    return a
result = heapsort([12, 11, 13, 5, 6, 7, 1])
print(result)
# %% caesar-cipher
def caesar(s, k, decode=False):
    if decode:
        k = 26 - k
    return "".join(
        chr((ord(c) - base + k) % 26 + base) if c.isalpha() else c
        for c in s
        for base in [ord("A") if c.isupper() else ord("a")]
    )
enc = caesar("The quick brown fox Jumped over the lazy Dog", 11)
print(enc)
result = caesar(enc, 11, decode=True)
# %% rot-13
import codecs
result = codecs.encode("Hello, World!", "rot_13")
print(result, codecs.decode(result, "rot_13"))
# %% palindrome-detection
def is_palindrome(s):
    t = "".join(ch.lower() for ch in s if ch.isalnum())
    return t == t[::-1]
result = [is_palindrome(s) for s in ("A man, a plan, a canal: Panama", "rosetta", "")]
print(result)
# %% anagrams
from collections import defaultdict
words = "listen silent enlist google elgoog inlets banana tinsel".split()
groups = defaultdict(list)
for w in words:
    groups["".join(sorted(w))].append(w)
result = sorted(sorted(g) for g in groups.values() if len(g) > 1)
print(result)
# %% roman-numerals-encode
def to_roman(n):
    vals = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
            (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for v, s in vals:
        while n >= v:
            out += s
            n -= v
    return out
result = [to_roman(n) for n in (1990, 2008, 1666, 4, 3999)]
print(result)
# %% roman-numerals-decode
def from_roman(s):
    vals = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
    total = 0
    for a, b in zip(s, s[1:] + " "):
        v = vals[a]
        total += -v if b != " " and vals[b] > v else v
    return total
result = [from_roman(s) for s in ("MCMXC", "MMVIII", "MDCLXVI", "IV")]
print(result)
# %% temperature-conversion
def convert(k):
    return {"K": round(k, 2), "C": round(k - 273.15, 2), "F": round(k * 9 / 5 - 459.67, 2), "R": round(k * 9 / 5, 2)}
result = convert(21)
for unit, v in result.items():
    print(f"{unit} {v:.2f}")
# %% leap-year
import calendar
def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
years = [1900, 1996, 2000, 2023, 2024]
result = [is_leap(y) == calendar.isleap(y) for y in years]
print([y for y in years if is_leap(y)])
# %% day-of-the-week
import datetime
result = [y for y in range(2008, 2122) if datetime.date(y, 12, 25).weekday() == 6]
print(result[:5])
# %% calendar-month
import calendar
text = calendar.TextCalendar(calendar.MONDAY).formatmonth(2024, 2)
print(text)
result = calendar.monthrange(2024, 2)
# %% n-queens
def queens(n):
    solutions = []
    def place(row, cols, d1, d2, board):
        if row == n:
            solutions.append(board)
            return
        for c in range(n):
            if c not in cols and row - c not in d1 and row + c not in d2:
                place(row + 1, cols | {c}, d1 | {row - c}, d2 | {row + c}, board + [c])
    place(0, set(), set(), set(), [])
    return solutions
sols = queens(6)
result = [len(sols), sols[0], len(queens(8))]
print(result)
# %% permutations
from itertools import permutations
result = ["".join(p) for p in permutations("abc")]
print(result)
# %% power-set
from itertools import chain, combinations
def powerset(s):
    s = list(s)
    return [list(c) for c in chain.from_iterable(combinations(s, r) for r in range(len(s) + 1))]
result = powerset([1, 2, 3])
print(result)
# %% matrix-multiplication
def matmul(a, b):
    return [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]
a = [[1, 2], [3, 4], [5, 6]]
b = [[7, 8, 9], [10, 11, 12]]
result = matmul(a, b)
print(result)
# %% matrix-transposition
m = [[1, 1, 1, 1], [2, 4, 8, 16], [3, 9, 27, 81]]
result = [list(r) for r in zip(*m)]
print(result)
# %% pascals-triangle
def pascal(n):
    row = [1]
    rows = []
    for _ in range(n):
        rows.append(row)
        row = [a + b for a, b in zip([0] + row, row + [0])]
    return rows
result = pascal(7)
for r in result:
    print(" ".join(map(str, r)).center(30))
# %% collatz-hailstone
def hailstone(n):
    seq = [n]
    while n != 1:
        n = 3 * n + 1 if n & 1 else n // 2
        seq.append(n)
    return seq
h27 = hailstone(27)
longest = max(range(1, 10000), key=lambda n: len(hailstone(n)))
result = [len(h27), h27[:4], h27[-4:], longest]
print(result)
# %% perfect-numbers
def is_perfect(n):
    return n > 1 and sum(d for d in range(1, n // 2 + 1) if n % d == 0) == n
result = [n for n in range(1, 10000) if is_perfect(n)]
print(result)
# %% amicable-pairs
def d(n):
    s = 1
    i = 2
    while i * i <= n:
        if n % i == 0:
            s += i
            if i != n // i:
                s += n // i
        i += 1
    return s
result = [(a, d(a)) for a in range(2, 3000) if a < d(a) and d(d(a)) == a]
print(result)
# %% digital-root
def digital_root(n):
    persistence = 0
    while n >= 10:
        n = sum(int(c) for c in str(n))
        persistence += 1
    return persistence, n
result = [digital_root(n) for n in (627615, 39390, 588225, 393900588225)]
print(result)
# %% happy-numbers
def happy(n):
    seen = set()
    while n != 1 and n not in seen:
        seen.add(n)
        n = sum(int(c) ** 2 for c in str(n))
    return n == 1
result = [n for n in range(1, 50) if happy(n)][:8]
print(result)
# %% look-and-say
from itertools import groupby
def look_and_say(s):
    return "".join(str(len(list(g))) + k for k, g in groupby(s))
seq = ["1"]
for _ in range(8):
    seq.append(look_and_say(seq[-1]))
result = seq
print("\n".join(seq))
# %% levenshtein-distance
def lev(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
result = [lev("kitten", "sitting"), lev("rosettacode", "raisethysword"), lev("", "abc")]
print(result)
# %% longest-common-subsequence
def lcs(a, b):
    dp = [[""] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            dp[i + 1][j + 1] = dp[i][j] + x if x == y else max(dp[i + 1][j], dp[i][j + 1], key=len)
    return dp[-1][-1]
result = [lcs("thisisatest", "testing123testing"), lcs("1234", "1224533324")]
print(result)
# %% knapsack-01
items = [("map", 9, 150), ("compass", 13, 35), ("water", 153, 200), ("sandwich", 50, 160),
         ("glucose", 15, 60), ("tin", 68, 45), ("banana", 27, 60), ("apple", 39, 40)]
def knapsack(items, limit):
    table = [[0] * (limit + 1) for _ in range(len(items) + 1)]
    for i, (_, w, v) in enumerate(items, 1):
        for cap in range(limit + 1):
            table[i][cap] = table[i - 1][cap]
            if w <= cap:
                table[i][cap] = max(table[i][cap], table[i - 1][cap - w] + v)
    chosen, cap = [], limit
    for i in range(len(items), 0, -1):
        if table[i][cap] != table[i - 1][cap]:
            chosen.append(items[i - 1][0])
            cap -= items[i - 1][1]
    return table[-1][-1], sorted(chosen)
result = knapsack(items, 200)
print(result)
# %% dijkstras-algorithm
import heapq
graph = {"a": {"b": 7, "c": 9, "f": 14}, "b": {"c": 10, "d": 15}, "c": {"d": 11, "f": 2},
         "d": {"e": 6}, "e": {}, "f": {"e": 9}}
def dijkstra(g, src, dst):
    queue = [(0, src, [src])]
    seen = set()
    while queue:
        cost, node, path = heapq.heappop(queue)
        if node == dst:
            return cost, path
        if node in seen:
            continue
        seen.add(node)
        for nxt, w in g[node].items():
            heapq.heappush(queue, (cost + w, nxt, path + [nxt]))
    return None
result = dijkstra(graph, "a", "e")
print(result)
# %% breadth-first-maze
maze = ["S.#.....", ".##.###.", "....#...", ".##...#E"]
from collections import deque
def solve(maze):
    rows, cols = len(maze), len(maze[0])
    start = next((r, c) for r in range(rows) for c in range(cols) if maze[r][c] == "S")
    q = deque([(start, 0)])
    seen = {start}
    while q:
        (r, c), dist = q.popleft()
        if maze[r][c] == "E":
            return dist
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and maze[nr][nc] != "#" and (nr, nc) not in seen:
                seen.add((nr, nc))
                q.append(((nr, nc), dist + 1))
    return -1
result = solve(maze)
print(result)
# %% topological-sort
deps = {"des_system_lib": ["std", "synopsys", "std_cell_lib", "dw02", "dw01", "ramlib", "ieee"],
        "dw01": ["ieee", "dw01", "dware", "gtech"], "dw02": ["ieee", "dw02", "dware"],
        "std_cell_lib": ["ieee", "std_cell_lib"], "ramlib": ["std", "ieee"], "dware": ["ieee", "dware"]}
def toposort(deps):
    graph = {k: set(v) - {k} for k, v in deps.items()}
    for vs in list(graph.values()):
        for v in vs:
            graph.setdefault(v, set())
    order = []
    while graph:
        ready = sorted(k for k, v in graph.items() if not v)
        if not ready:
            raise ValueError("cycle")
        order.extend(ready)
        graph = {k: v - set(ready) for k, v in graph.items() if k not in ready}
    return order
result = toposort(deps)
print(result)
# %% conways-game-of-life
def step(cells):
    from collections import Counter
    counts = Counter((x + dx, y + dy) for x, y in cells for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy)
    return {c for c, n in counts.items() if n == 3 or (n == 2 and c in cells)}
glider = {(1, 0), (2, 1), (0, 2), (1, 2), (2, 2)}
g = glider
for _ in range(4):
    g = step(g)
result = sorted(g)
print(result == sorted((x + 1, y + 1) for x, y in glider))
# %% mandelbrot-ascii
rows = []
for y in range(-8, 9):
    row = ""
    for x in range(-30, 11):
        c = complex(x / 15, y / 8)
        z = 0
        for i in range(30):
            z = z * z + c
            if abs(z) > 2:
                row += " "
                break
        else:
            row += "#"
    rows.append(row)
print("\n".join(rows))
result = sum(r.count("#") for r in rows)
# %% number-names
ones = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
tens = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
def name(n):
    if n < 20:
        return ones[n]
    if n < 100:
        return tens[n // 10] + ("-" + ones[n % 10] if n % 10 else "")
    if n < 1000:
        return ones[n // 100] + " hundred" + (" and " + name(n % 100) if n % 100 else "")
    return name(n // 1000) + " thousand" + (" " + name(n % 1000) if n % 1000 else "")
result = [name(n) for n in (0, 13, 42, 100, 999, 1234)]
print(*result, sep="\n")
# %% word-frequency
text = """It was the best of times, it was the worst of times, it was the age of wisdom,
it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity"""
import re
from collections import Counter
counts = Counter(re.findall(r"[a-z]+", text.lower()))
result = counts.most_common(5)
print(result)
# %% balanced-brackets
def balanced(s):
    depth = 0
    for ch in s:
        depth += 1 if ch == "[" else -1
        if depth < 0:
            return False
    return depth == 0
import random
random.seed(7)
cases = ["".join(random.choice("[]") for _ in range(n)) for n in range(0, 12, 2)]
result = [(c, balanced(c)) for c in cases]
print(result)
# %% string-case-and-reverse
s = "alphaBETA"
result = [s.upper(), s.lower(), s.swapcase(), s.capitalize(), s.title(), s[::-1]]
print(result)
# %% tokenize-a-string
result = ".".join("Hello,How,Are,You,Today".split(","))
print(result)
# %% sum-of-a-series
result = round(sum(1 / k ** 2 for k in range(1, 1001)), 10)
print(result)
# %% sum-digits-of-an-integer
def sum_digits(n, base=10):
    s = 0
    while n:
        n, r = divmod(n, base)
        s += r
    return s
result = [sum_digits(1), sum_digits(12345), sum_digits(0xFE, 16), sum_digits(0xF0E, 16)]
print(result)
# %% prime-decomposition
def factors(n):
    out = []
    d = 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    if n > 1:
        out.append(n)
    return out
result = [factors(n) for n in (2 ** 10, 600851475143, 97, 360)]
print(result)
# %% letter-frequency
from collections import Counter
text = "The quick brown fox jumps over the lazy dog and keeps running far away"
freq = Counter(c for c in text.lower() if c.isalpha())
result = sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:6]
print(result)
# %% queue-and-stack-classes
class Stack:
    def __init__(self):
        self._items = []
    def push(self, x):
        self._items.append(x)
    def pop(self):
        return self._items.pop()
    def empty(self):
        return not self._items
    def __len__(self):
        return len(self._items)
s = Stack()
for x in "abc":
    s.push(x)
out = []
while not s.empty():
    out.append(s.pop())
result = out
print(result, len(s))
# %% luhn-test
def luhn(n):
    digits = [int(c) for c in str(n)][::-1]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0
result = [luhn(n) for n in (49927398716, 49927398717, 1234567812345678, 1234567812345670)]
print(result)
# %% isbn13-check
def isbn13(s):
    digits = [int(c) for c in s if c.isdigit()]
    return len(digits) == 13 and sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
result = [isbn13(s) for s in ("978-0596528126", "978-0596528120", "978-1788399081", "978-1788399083")]
print(result)
# %% run-length-encoding
import re
def encode(s):
    return "".join(f"{len(m.group(0))}{m.group(1)}" for m in re.finditer(r"(.)\1*", s))
def decode(s):
    return "".join(ch * int(n) for n, ch in re.findall(r"(\d+)(\D)", s))
e = encode("WWWWWWWWWWWWBWWWWWWWWWWWWBBBWWWWWWWWWWWWWWWWWWWWWWWWBWWWWWWWWWWWWWW")
result = [e, decode(e) == "WWWWWWWWWWWWBWWWWWWWWWWWWBBBWWWWWWWWWWWWWWWWWWWWWWWWBWWWWWWWWWWWWWW"]
print(result)
# %% bulls-and-cows-scoring
def score(guess, secret):
    bulls = sum(g == s for g, s in zip(guess, secret))
    cows = len(set(guess) & set(secret)) - bulls
    return bulls, cows
result = [score("1234", "1243"), score("5678", "1234"), score("1234", "1234")]
print(result)
# %% closures-value-capture
funcs = [lambda i=i: i * i for i in range(10)]
result = [f() for f in funcs[:5]]
print(result, funcs[7]())
