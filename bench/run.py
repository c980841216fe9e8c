"""Per-call latency, throughput and CPU of ai-sandbox, against plain ``exec`` and the fork floor.

Run with ``uv run python bench/run.py`` (``--quick`` for a shorter run). For every workload it
measures, in one run:

* ``exec``      plain ``compile`` + ``exec`` in this process;
* ``none``      ``Sandbox(isolation="none")``: RestrictedPython in this process;
* ``isolated``  the default ``Sandbox()``: a fresh locked-down worker process per call, with
                calls spaced ``--gap-ms`` apart (arriving slower than the pool refills),
                ``isolated, back to back`` (one thread, one call after another: bound by how
                fast the pool refills) and ``isolated, back to back, pool full`` (each call
                waits, spinning, not sleeping, until the pool is full again: the call path
                alone, on warm caches);
* ``session``   ``Sandbox().session()``: one long-lived locked-down worker, back to back;

then, for the trivial workload, the same through a ``language="python"`` zygote that preloads
numpy and pandas (``--no-python-mode`` skips it); and, as references, a cold
``python -c pass`` and **the floor**: bare fork + ``os._exit(0)`` + ``waitpid`` of a process
the zygote's size (``bench/floor.py``: it imports and warms up what the zygote does, is padded
to the live zygote's ``RssAnon``, and forks with ``os.fork()`` and with libc's ``fork``).

calls/s is sustained throughput with back-to-back calls from ``--threads`` threads. During the
isolated calls/s runs the CPU they cost is split per call into the worker (the zygote's reaped
children: ``cutime + cstime`` of ``/proc/<zygote>/stat``), the zygote (its own ``utime +
stime``) and the host (this process's ``RUSAGE_SELF``). Every call sends new source text (a
counter in a trailing comment), as agents rarely send the same code twice. Ratios are p50
against ``exec`` and, for isolated calls, p50 and CPU per call against the floor measured in
the same run (``os.fork``, as the zygote forks). Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.exceptions import SandboxError

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

#: The zygote a row is read against (its floor): the default one, and python mode's.
RESTRICTED = "restricted"
PYTHON = "python"
PYTHON_PRELOAD = ("numpy", "pandas")
PYTHON_WORKLOAD = Workload("trivial, python mode + numpy, pandas", "result = 1 + 1\n", 300)

FLOOR_SCRIPT = Path(__file__).with_name("floor.py")
FORKS = ("os.fork", "libc fork")
#: The fork the isolated rows are compared with: the zygote forks with ``os.fork()``.
FLOOR_FORK = "os.fork"
#: After a calls/s run, time for the zygote to reap the last workers before it is read.
REAP_WAIT_S = 0.2
#: Longest wait for a full pool before a "pool full" call.
POOL_WAIT_S = 1.0
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Mode:
    name: str
    run: Runner
    gap_s: float
    throughput: bool = True  # measure calls/s too
    sandbox: Sandbox | None = None  # split the calls/s run's CPU through its zygote
    zygote: str = ""  # the floor the row is read against ("" for none)
    wait: Callable[[], None] | None = None  # before each timed call, instead of the gap


@dataclass(frozen=True)
class Row:
    workload: str
    mode: str
    p50_ms: float
    p95_ms: float | None
    calls_per_s: float | None
    zygote: str = ""


@dataclass(frozen=True)
class CpuSplit:
    """CPU ms per call (or per fork cycle), by who paid it; ``None`` where not measured."""

    workload: str
    mode: str
    calls_per_s: float
    worker_ms: float | None
    zygote_ms: float | None
    host_ms: float | None
    zygote: str = ""

    @property
    def total_ms(self) -> float | None:
        parts = (self.worker_ms, self.zygote_ms, self.host_ms)
        if self.worker_ms is None or self.zygote_ms is None:
            return None
        return sum(part for part in parts if part is not None)


@dataclass(frozen=True)
class Floor:
    """What ``bench/floor.py`` measured for one zygote."""

    zygote: str
    zygote_rss_kb: int | None
    loaded_rss_kb: int
    rss_kb: int
    missed: list[str]
    # per fork kind: wall ms, CPU ms, parent CPU ms, child CPU ms per cycle
    forks: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    splits: list[CpuSplit] = field(default_factory=list)
    floors: dict[str, Floor] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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


def _latency(
    run: Runner,
    workload: Workload,
    calls: int,
    gap_s: float,
    wait: Callable[[], None] | None = None,
) -> list[float]:
    run(_source(workload.code, -1))  # warm up
    samples = []
    for n in range(calls):
        if wait is not None:
            wait()
        elif gap_s:
            time.sleep(gap_s)
        start = time.perf_counter()
        run(_source(workload.code, n))
        samples.append(time.perf_counter() - start)
    return samples


def _throughput(run: Runner, workload: Workload, threads: int, seconds: float) -> tuple[int, float]:
    """Calls made and seconds taken by ``threads`` threads calling back to back."""
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
    return done, time.perf_counter() - start


def _pool_full(sandbox: Sandbox) -> Callable[[], None] | None:
    """Waits, without sleeping, until ``sandbox``'s pool is full again (private attributes:
    ``None`` if they have moved). Calls then follow one another with warm caches, but each
    takes a ready worker instead of waiting for one to be forked."""
    pool = getattr(getattr(sandbox, "_backend", None), "_pool", None)
    ready, size = getattr(pool, "ready_count", None), getattr(pool, "_size", None)
    if not callable(ready) or not isinstance(size, int):
        return None

    def wait() -> None:
        deadline = time.perf_counter() + POOL_WAIT_S
        while ready() < size and time.perf_counter() < deadline:
            time.sleep(0)  # lets the pool's thread run; no timer, no idle CPU

    return wait


# -- the CPU split: worker / zygote / host ------------------------------------------------------
def _zygote_pid(sandbox: Sandbox) -> int | None:
    """The pid of ``sandbox``'s zygote (private attributes: ``None`` if they have moved)."""
    try:
        zygote = getattr(getattr(sandbox, "_backend", None), "_zygote", None)
    except SandboxError:
        return None
    pid = getattr(zygote, "pid", None)
    return pid if isinstance(pid, int) else None


def _zygote_cpu_s(pid: int | None) -> tuple[float, float] | None:
    """The zygote's own CPU seconds and its reaped children's (the workers'), or ``None``."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    # fields[0] is field 3 (state): utime, stime, cutime, cstime (14 to 17) are fields[11:15]
    own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    return own / TICKS_PER_S, reaped / TICKS_PER_S


def _host_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_anon_kb(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _split_throughput(
    run: Runner, workload: Workload, mode: Mode, threads: int, seconds: float
) -> tuple[float, CpuSplit]:
    """calls/s of ``mode`` and the CPU per call it cost, split worker / zygote / host."""
    assert mode.sandbox is not None
    pid = _zygote_pid(mode.sandbox)
    zygote_before, host_before = _zygote_cpu_s(pid), _host_cpu_s()
    done, elapsed = _throughput(run, workload, threads, seconds)
    time.sleep(REAP_WAIT_S)  # the zygote reaps the last workers: their CPU is then counted
    zygote_after, host_after = _zygote_cpu_s(pid), _host_cpu_s()
    calls = max(done, 1)
    worker_ms = zygote_ms = None
    if zygote_before is not None and zygote_after is not None and _zygote_pid(mode.sandbox) == pid:
        zygote_ms = (zygote_after[0] - zygote_before[0]) / calls * 1000
        worker_ms = (zygote_after[1] - zygote_before[1]) / calls * 1000
    host_ms = (host_after - host_before) / calls * 1000
    rate = done / elapsed
    split = CpuSplit(
        workload.name, mode.name, rate, worker_ms, zygote_ms, host_ms, zygote=mode.zygote
    )
    return rate, split


# -- the floor: fork + exit + wait of a process the zygote's size ------------------------------
def _floor(
    zygote: str, policy: SandboxPolicy, zygote_rss_kb: int | None, cycles: int, cwd: Path
) -> Floor | str:
    """Run ``bench/floor.py`` for ``policy``'s zygote; what it measured, or why it could not."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [
            sys.executable,
            "-I",
            str(FLOOR_SCRIPT),
            json.dumps(policy.model_dump(mode="json")),
            str(cycles),
            out.name,
            str(zygote_rss_kb or 0),
        ]
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"floor for the {zygote} zygote failed: {done.stderr.strip()[-500:]}"
        report = json.loads(Path(out.name).read_text(encoding="utf-8"))
    return Floor(
        zygote,
        zygote_rss_kb,
        int(report["loaded_rss_anon_kb"]),
        int(report["rss_anon_kb"]),
        list(report["missed"]),
        {name: dict(values) for name, values in report["forks"].items()},
    )


def _floor_rows(floor: Floor, workload: str) -> tuple[list[Row], list[CpuSplit]]:
    rows, splits = [], []
    for kind in FORKS:
        values = floor.forks[kind]
        mode = f"floor: fork+exit ({kind})"
        rate = 1000 / values["wall_ms"]
        rows.append(Row(workload, mode, values["wall_ms"], None, rate, zygote=floor.zygote))
        splits.append(
            CpuSplit(
                workload,
                mode,
                rate,
                values["child_cpu_ms"],
                values["parent_cpu_ms"],
                None,
                zygote=floor.zygote,
            )
        )
    return rows, splits


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


def _measure(
    results: Results,
    workload: Workload,
    modes: list[Mode],
    calls: int,
    args: argparse.Namespace,
    seconds: float,
) -> None:
    for mode in modes:
        samples = _latency(mode.run, workload, calls, mode.gap_s, mode.wait)
        # without a calls/s run: one thread's rate back to back (1 / mean latency)
        rate = None if mode.gap_s or mode.wait else 1 / statistics.mean(samples)
        if mode.throughput and mode.sandbox is not None:
            rate, split = _split_throughput(mode.run, workload, mode, args.threads, seconds)
            results.splits.append(split)
        elif mode.throughput:
            done, elapsed = _throughput(mode.run, workload, args.threads, seconds)
            rate = done / elapsed
        results.rows.append(
            Row(
                workload.name,
                mode.name,
                _percentile(samples, 0.5),
                _percentile(samples, 0.95),
                rate,
                zygote=mode.zygote,
            )
        )
        print(f"  measured {workload.name} / {mode.name}", file=sys.stderr)


def _pool_full_mode(sandbox: Sandbox, run: Runner, zygote: str) -> list[Mode]:
    wait = _pool_full(sandbox)
    if wait is None:
        return []
    name = "isolated, back to back, pool full"
    return [Mode(name, run, 0.0, throughput=False, zygote=zygote, wait=wait)]


def _restricted(results: Results, root: Path, args: argparse.Namespace) -> int | None:
    """The default zygote's workloads; its ``RssAnon`` (KiB) after them, if known."""
    scale = 0.25 if args.quick else 1.0
    seconds = args.seconds * scale
    none = Sandbox(root, SandboxPolicy(isolation="none"))
    isolated = Sandbox(root)
    session_run, close_session = _session_runner(isolated)
    isolated_run = _sandbox_runner(isolated)
    modes = [
        Mode("exec", _exec_runner(), 0.0),
        Mode('isolation="none"', _sandbox_runner(none), 0.0),
        Mode(
            "isolated (default)",
            isolated_run,
            args.gap_ms / 1000,
            sandbox=isolated,
            zygote=RESTRICTED,
        ),
        Mode("isolated, back to back", isolated_run, 0.0, throughput=False, zygote=RESTRICTED),
        *_pool_full_mode(isolated, isolated_run, RESTRICTED),
        Mode("session", session_run, 0.0),
    ]
    try:
        wanted = [w for w in args.only.split(",") if w]
        for workload in WORKLOADS:
            if wanted and not any(workload.name.startswith(w) for w in wanted):
                continue
            calls = max(5, int(workload.calls * scale))
            _measure(results, workload, modes, calls, args, seconds)
        return _rss_anon_kb(_zygote_pid(isolated))
    finally:
        close_session()
        isolated.close()
        none.close()


def _python_policy() -> SandboxPolicy:
    return SandboxPolicy(language="python", preload=PYTHON_PRELOAD)


def _python_mode(results: Results, root: Path, args: argparse.Namespace) -> int | None:
    """The trivial workload through a python-mode zygote with numpy and pandas; its
    ``RssAnon`` (KiB) after it, if known. Skipped, with a note, when it cannot run here."""
    missing = [name for name in PYTHON_PRELOAD if importlib.util.find_spec(name) is None]
    if missing:
        results.notes.append(
            f"python mode skipped: {', '.join(missing)} not importable (install the [data] extra)"
        )
        return None
    try:
        sandbox = Sandbox(root, _python_policy())
    except SandboxError as exc:
        results.notes.append(f"python mode skipped: {type(exc).__name__}: {exc}")
        return None
    scale = 0.25 if args.quick else 1.0
    run = _sandbox_runner(sandbox)
    modes = [
        Mode("exec", _exec_runner(), 0.0),
        Mode("isolated", run, args.gap_ms / 1000, sandbox=sandbox, zygote=PYTHON),
        Mode("isolated, back to back", run, 0.0, throughput=False, zygote=PYTHON),
        *_pool_full_mode(sandbox, run, PYTHON),
    ]
    try:
        calls = max(5, int(PYTHON_WORKLOAD.calls * scale))
        _measure(results, PYTHON_WORKLOAD, modes, calls, args, args.seconds * scale)
        return _rss_anon_kb(_zygote_pid(sandbox))
    finally:
        sandbox.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, shorter runs")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between timed calls")
    parser.add_argument("--threads", type=int, default=2, help="threads for calls/s")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each calls/s run")
    parser.add_argument(
        "--only", default="", help="comma-separated workload name prefixes (default: all)"
    )
    parser.add_argument(
        "--no-python-mode",
        dest="python_mode",
        action="store_false",
        help="skip the python-mode zygote with numpy and pandas",
    )
    parser.add_argument(
        "--floor-cycles", type=int, default=400, help="fork+exit cycles per floor round"
    )
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    cycles = max(20, int(args.floor_cycles * scale))

    results = Results()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        restricted_rss = _restricted(results, root, args)
        python_rss = _python_mode(results, root, args) if args.python_mode else None
        # The floors last, with every Sandbox closed: nothing else of ours runs meanwhile.
        floors = [(RESTRICTED, SandboxPolicy(), restricted_rss, "(reference)")]
        if python_rss is not None:
            floors.append((PYTHON, _python_policy(), python_rss, PYTHON_WORKLOAD.name))
        for zygote, policy, rss_kb, workload in floors:
            floor = _floor(zygote, policy, rss_kb, cycles, root)
            print(f"  measured the floor of the {zygote} zygote", file=sys.stderr)
            if isinstance(floor, str):
                results.notes.append(floor)
                continue
            results.floors[zygote] = floor
            rows, splits = _floor_rows(floor, workload)
            results.rows.extend(rows)
            results.splits.extend(splits)
    results.rows.append(_cold_python(max(5, int(20 * scale))))
    _print_tables(results, args)
    return 0


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ratio(value: float | None, base: float | None, digits: int = 2) -> str:
    return f"{value / base:.{digits}f}x" if value is not None and base else ""


def _mib(kb: int | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MiB"


def _print_tables(results: Results, args: argparse.Namespace) -> None:
    exec_p50 = {r.workload: r.p50_ms for r in results.rows if r.mode == "exec"}
    floor_wall = {z: f.forks[FLOOR_FORK]["wall_ms"] for z, f in results.floors.items()}
    floor_cpu = {z: f.forks[FLOOR_FORK]["cpu_ms"] for z, f in results.floors.items()}
    cpus = os.cpu_count() or 1
    print(
        f"\nPython {sys.version.split()[0]}, {cpus} CPUs. Latency: the isolated rows with calls "
        f"{args.gap_ms:g} ms apart, every other row back to back (one thread; pool full: each "
        "call first waits, spinning, for a full pool). calls/s: "
        f"{args.threads} threads back to back; in the back to back rows one thread's (1 / mean "
        "latency); in the floor rows one fork+exit+wait at a time. vs floor: against "
        f"fork+exit ({FLOOR_FORK}) of a process the size of the row's zygote.\n"
    )
    print("| workload | mode | p50 ms | p95 ms | calls/s | p50 vs exec | p50 vs floor |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in results.rows:
        calls = "" if row.calls_per_s is None else f"{row.calls_per_s:,.0f}"
        p95 = "" if row.p95_ms is None else f"{row.p95_ms:.3f}"
        floor_row = row.mode.startswith("floor")
        print(
            f"| {row.workload} | {row.mode} | {row.p50_ms:.3f} | {p95} | {calls} "
            f"| {_ratio(row.p50_ms, None if floor_row else exec_p50.get(row.workload), 1)} "
            f"| {_ratio(row.p50_ms, floor_wall.get(row.zygote))} |"
        )
    print(
        f"\nCPU per isolated call during the calls/s run ({args.threads} threads), split: worker "
        "(the zygote's reaped children), zygote (its own), host (this process); floor rows: "
        f"child and parent of one fork+exit+wait. Bound by CPU: {cpus} CPUs / CPU per call.\n"
    )
    print(
        "| workload | mode | calls/s | CPU ms per call | worker | zygote | host "
        "| calls/s bound by CPU | CPU vs floor |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for split in results.splits:
        total = split.total_ms
        bound = f"{cpus * 1000 / total:,.0f}" if total else "n/a"
        host = "" if split.mode.startswith("floor") else _ms(split.host_ms)
        print(
            f"| {split.workload} | {split.mode} | {split.calls_per_s:,.0f} | {_ms(total)} "
            f"| {_ms(split.worker_ms)} | {_ms(split.zygote_ms)} | {host} | {bound} "
            f"| {_ratio(total, floor_cpu.get(split.zygote))} |"
        )
    if results.floors:
        print()
    for zygote, floor in results.floors.items():
        padded = floor.rss_kb - floor.loaded_rss_kb
        print(
            f"- {zygote} zygote: RssAnon {_mib(floor.zygote_rss_kb)}; its floor process "
            f"{_mib(floor.loaded_rss_kb)} after the zygote's imports and warm-up"
            + (f", padded by {_mib(padded)} to {_mib(floor.rss_kb)}" if padded > 0 else "")
            + (f" (not done: {'; '.join(floor.missed)})" if floor.missed else "")
        )
    for note in results.notes:
        print(f"- {note}")


if __name__ == "__main__":
    sys.exit(main())
