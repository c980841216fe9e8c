"""Per-call latency and throughput of ai-sandbox, against plain ``exec`` and a cold interpreter.

Run with ``uv run python bench/run.py`` (``--quick`` for a shorter run). For every workload it
measures, in one run:

* ``exec``      plain ``compile`` + ``exec`` in this process (the floor);
* ``none``      ``Sandbox(isolation="none")``: RestrictedPython in this process;
* ``isolated``  the default ``Sandbox()``: a fresh locked-down worker process per call;
* ``session``   ``Sandbox().session()``: one long-lived locked-down worker;

and, once, a cold ``python -c pass`` subprocess as a reference. Every call sends new source
text (a counter in a trailing comment), as agents rarely send the same code twice.

Latency (p50/p95) is measured with calls spaced ``--gap-ms`` apart, i.e. arriving slower than
the pool refills; calls/s is sustained throughput with back-to-back calls from ``--threads``
threads. Ratios are p50 against ``exec``. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ai_sandbox import Sandbox, SandboxPolicy

SEED = """
def analyze_data(input_data):
    return {'summary': 'Data analysis complete', 'count': len(input_data)}

result = analyze_data([1, 2, 3, 4, 5])
"""

LOOP = """
total = 0
for i in range(1_000_000):
    total += i * 2 - 1
result = total
"""

MERGE_SORT = """
import random

def merge_sort(items):
    if len(items) <= 1:
        return items
    middle = len(items) // 2
    left = merge_sort(items[:middle])
    right = merge_sort(items[middle:])
    merged = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    merged.extend(left[i:])
    merged.extend(right[j:])
    return merged

rng = random.Random(7)
data = [rng.randint(0, 1_000_000) for _ in range(10_000)]
result = merge_sort(data)[:3]
"""

AGGREGATE = """
rows = [{'group': i % 10, 'value': i} for i in range(100_000)]
totals = {}
for row in rows:
    key = row['group']
    totals[key] = totals.get(key, 0) + row['value']
result = totals[3]
"""


@dataclass(frozen=True)
class Workload:
    name: str
    code: str
    calls: int  # latency samples


WORKLOADS = (
    Workload("trivial", "result = 1 + 1\n", 300),
    Workload("seed analysis", SEED, 300),
    Workload("1M-iteration loop", LOOP, 12),
    Workload("merge sort 10k", MERGE_SORT, 12),
    Workload("100k-dict aggregation", AGGREGATE, 12),
)

Runner = Callable[[str], object]


@dataclass(frozen=True)
class Row:
    workload: str
    mode: str
    p50_ms: float
    p95_ms: float
    calls_per_s: float


def _source(code: str, counter: int) -> str:
    return f"{code}\n# call {counter}\n"


def _exec_runner() -> Runner:
    def run(source: str) -> object:
        namespace: dict[str, object] = {}
        exec(compile(source, "<bench>", "exec"), namespace)
        return namespace.get("result")

    return run


def _sandbox_runner(sandbox: Sandbox) -> Runner:
    def run(source: str) -> object:
        result = sandbox.run(source)
        if not result.ok:
            raise RuntimeError(f"benchmark snippet failed: {result.error}")
        return result.result

    return run


def _session_runner(sandbox: Sandbox) -> tuple[Runner, Callable[[], None]]:
    session = sandbox.session()
    lock = threading.Lock()

    def run(source: str) -> object:
        with lock:
            result = session.run(source)
        if not result.ok:
            raise RuntimeError(f"benchmark snippet failed: {result.error}")
        return result.result

    return run, session.close


def _latency(run: Runner, workload: Workload, calls: int, gap_s: float) -> list[float]:
    run(_source(workload.code, -1))  # warm up
    samples = []
    for n in range(calls):
        if gap_s:
            time.sleep(gap_s)
        start = time.perf_counter()
        run(_source(workload.code, n))
        samples.append(time.perf_counter() - start)
    return samples


def _throughput(run: Runner, workload: Workload, threads: int, seconds: float) -> float:
    counter = iter(range(10**9))
    lock = threading.Lock()
    done = 0
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter)
            run(_source(workload.code, 1_000_000 + n))
            with lock:
                done += 1

    start = time.perf_counter()
    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return done / (time.perf_counter() - start)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _cold_python(calls: int) -> Row:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append(time.perf_counter() - start)
    return Row(
        "(reference)",
        "cold `python -c pass`",
        _percentile(samples, 0.5),
        _percentile(samples, 0.95),
        1 / statistics.mean(samples),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, shorter runs")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between timed calls")
    parser.add_argument("--threads", type=int, default=2, help="threads for calls/s")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each calls/s run")
    parser.add_argument(
        "--only", default="", help="comma-separated workload name prefixes (default: all)"
    )
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    seconds = args.seconds * scale
    gap_s = args.gap_ms / 1000

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        none = Sandbox(root, SandboxPolicy(isolation="none"))
        isolated = Sandbox(root)
        session_run, close_session = _session_runner(isolated)
        modes: list[tuple[str, Runner, float]] = [
            ("exec", _exec_runner(), 0.0),
            ('isolation="none"', _sandbox_runner(none), 0.0),
            ("isolated (default)", _sandbox_runner(isolated), gap_s),
            ("session", session_run, 0.0),
        ]
        try:
            wanted = [w for w in args.only.split(",") if w]
            for workload in WORKLOADS:
                if wanted and not any(workload.name.startswith(w) for w in wanted):
                    continue
                calls = max(5, int(workload.calls * scale))
                for mode, run, gap in modes:
                    samples = _latency(run, workload, calls, gap)
                    rate = _throughput(run, workload, args.threads, seconds)
                    rows.append(
                        Row(
                            workload.name,
                            mode,
                            _percentile(samples, 0.5),
                            _percentile(samples, 0.95),
                            rate,
                        )
                    )
                    print(f"  measured {workload.name} / {mode}", file=sys.stderr)
        finally:
            close_session()
            isolated.close()
            none.close()
    rows.append(_cold_python(max(5, int(20 * scale))))
    _print_table(rows, args)
    return 0


def _print_table(rows: list[Row], args: argparse.Namespace) -> None:
    floor = {r.workload: r.p50_ms for r in rows if r.mode == "exec"}
    cpus = os.cpu_count()
    print(
        f"\nPython {sys.version.split()[0]}, {cpus} CPUs; latency with calls "
        f"{args.gap_ms:g} ms apart, calls/s with {args.threads} threads back to back.\n"
    )
    print("| workload | mode | p50 ms | p95 ms | calls/s | p50 vs exec |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        base = floor.get(row.workload)
        ratio = f"{row.p50_ms / base:.1f}x" if base else ""
        print(
            f"| {row.workload} | {row.mode} | {row.p50_ms:.3f} | {row.p95_ms:.3f} "
            f"| {row.calls_per_s:,.0f} | {ratio} |"
        )


if __name__ == "__main__":
    sys.exit(main())
