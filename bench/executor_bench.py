"""Restricted executor overhead as ratios to plain Python.

Run: ``uv run python bench/executor_bench.py``


* compile: restricted compile of *new* source (cache bypassed) vs plain ``compile``;
  goal <= 2.5x (RestrictedPython's stock transformer: 3.5x-6x).
* compute: guarded execution vs plain ``exec`` of the same source, for a 1M-iteration
  arithmetic loop, a merge sort of 10k ints and a 100k-dict aggregation; goal <= 1.5x.

Times are the minimum of several interleaved repeats of CPU time (other processes share the
machine); only the ratios are meaningful.
"""

from __future__ import annotations

import builtins
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from RestrictedPython import compile_restricted

from ai_sandbox.executor.compiler import compile_ai_code
from ai_sandbox.executor.runtime import RestrictedSession
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS

SEED = """
def analyze_data(input_data):
    total = sum(input_data)
    count = len(input_data)
    average = total / count if count else 0
    return {"summary": "Data analysis complete", "count": count, "average": average}

result = analyze_data(input_data)
"""

PROGRAM = SEED + """
import math
from collections import Counter

class Stats:
    def __init__(self, values):
        self.values = list(values)
        self.n = len(self.values)

    def mean(self):
        return sum(self.values) / self.n

    def variance(self):
        m = self.mean()
        return sum((x - m) ** 2 for x in self.values) / self.n

def top_words(text, k=3):
    counts = Counter()
    for word in text.lower().split():
        counts[word.strip(".,")] += 1
    return [w for w, n in counts.most_common(k)]

rows = [{"city": c, "temp": t} for c, t in [("a", 1.5), ("b", 2.5), ("a", 3.0)]]
by_city = {}
for row in rows:
    by_city.setdefault(row["city"], []).append(row["temp"])
summary = {city: round(sum(v) / len(v), 2) for city, v in by_city.items()}
try:
    ratio = summary["a"] / summary["b"]
except (KeyError, ZeroDivisionError) as exc:
    ratio = None
print(f"{len(summary)} cities", "{} rows".format(len(rows)))
result = {"summary": summary, "ratio": ratio, "words": top_words("a b. a c, b a")}
"""

LOOP = """
total = 0
for i in range(1_000_000):
    total += i * 3 % 7
result = total
"""

MERGE_SORT = """
def merge_sort(a):
    if len(a) <= 1:
        return a
    mid = len(a) // 2
    left = merge_sort(a[:mid])
    right = merge_sort(a[mid:])
    out = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out.extend(left[i:])
    out.extend(right[j:])
    return out

data = [(i * 7919) % 10007 for i in range(10_000)]
result = merge_sort(data)[:3]
"""

AGGREGATION = """
records = [{"key": "k%d" % (i % 100), "value": i} for i in range(100_000)]
totals = {}
counts = {}
for rec in records:
    key = rec["key"]
    totals[key] = totals.get(key, 0) + rec["value"]
    counts[key] = counts.get(key, 0) + 1
result = sorted((k, totals[k] / counts[k]) for k in totals)[:3]
"""


def best(fn: Callable[[], Any], repeat: int) -> float:
    """Minimum CPU seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def ratio_of(
    plain: Callable[[], Any], guarded: Callable[[], Any], rounds: int, each: int
) -> tuple[float, float, float]:
    """Interleave the two so load from other processes hits both alike."""
    p_times, g_times = [], []
    for _ in range(rounds):
        p_times.append(best(plain, each))
        g_times.append(best(guarded, each))
    p, g = min(p_times), min(g_times)
    return p, g, g / p


def compile_bench() -> None:
    print("compile of new source (cache bypassed), per call:")
    for name, src in [("seed snippet", SEED), ("60-line program", PROGRAM)]:
        n = 40

        def plain(src: str = src, n: int = n) -> None:
            for i in range(n):
                compile(f"{src}\n# {i}", "<ai-code>", "exec", dont_inherit=True)

        def ours(src: str = src, n: int = n) -> None:
            for i in range(n):
                compile_ai_code(f"{src}\n# {i}")

        def stock(src: str = src, n: int = n) -> None:
            source = src.replace('counts[word.strip(".,")] += 1', "counts[word] = 1")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i in range(n):
                    compile_restricted(f"{source}\n# {i}", "<ai-code>", "exec")

        p, g, r = ratio_of(plain, ours, rounds=9, each=3)
        _, _stock_time, rs = ratio_of(plain, stock, rounds=5, each=3)
        print(
            f"  {name:16} plain {p / n * 1e6:7.1f} us  ours {g / n * 1e6:7.1f} us  "
            f"ratio {r:4.2f}x   (stock RestrictedPython {rs:4.2f}x)"
        )


def compute_bench() -> None:
    print("guarded compute vs plain exec:")
    root = Path(tempfile.mkdtemp())
    policy = SandboxPolicy(isolation="none")
    fs = SafeFS(root, policy)
    for name, src in [("1M-iteration loop", LOOP), ("merge sort 10k", MERGE_SORT),
                      ("100k-dict aggregation", AGGREGATION)]:  # fmt: skip
        plain_code = compile(src, "<plain>", "exec")
        session = RestrictedSession(policy=policy, fs=fs)
        session.run(src)  # warm the compile cache

        def plain(code: Any = plain_code) -> None:
            exec(code, {"__builtins__": builtins})

        def guarded(session: RestrictedSession = session, src: str = src) -> None:
            payload = session.run(src)
            assert payload["status"] == "ok", payload

        p, g, r = ratio_of(plain, guarded, rounds=7, each=2)
        print(f"  {name:22} plain {p * 1e3:7.1f} ms  guarded {g * 1e3:7.1f} ms  ratio {r:4.2f}x")


if __name__ == "__main__":
    compile_bench()
    compute_bench()
