"""``language="python"``: per-call latency and throughput, with and without preload.

Run with ``uv run python bench/python_mode.py`` (``--quick`` for a shorter run). In one run it
measures, for the seed snippet and a small pandas analysis:

* ``exec``                  plain ``compile`` + ``exec`` in this process (pandas already imported);
* ``restricted (default)``  the default ``Sandbox()`` (seed only: restricted code has no pandas);
* ``python, no preload``    ``SandboxPolicy(language="python")``: pandas imported in every call;
* ``python, preload``       ``preload=("numpy", "pandas", "matplotlib")``: imported once, in the
  zygote, before lockdown;
* ``python session``        one long-lived python-mode worker with the same preload;

a cold ``python -c "import pandas"`` (and ``python -c pass``) as references; and how the
zygote's size (what it preloads) changes the cost of each fresh worker (a trivial call).
Latency (p50/p95) with calls ``--gap-ms`` apart; calls/s back to back from ``--threads``
threads. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import run as base  # bench/run.py: the shared measuring helpers

from ai_sandbox import Sandbox, SandboxPolicy

PANDAS = """
import pandas as pd
df = pd.DataFrame({"region": ["n", "s", "n", "e", "s", "e"], "units": [10, 4, 7, 3, 8, 6],
                   "price": [2.5, 4.0, 2.5, 10.0, 2.5, 4.0]})
df["revenue"] = df["units"] * df["price"]
result = df.groupby("region")["revenue"].sum().sort_values(ascending=False).to_dict()
"""

DATA_STACK = ("numpy", "pandas", "matplotlib")
ZYGOTE_SIZES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("stdlib only", ()),
    ("+ numpy", ("numpy",)),
    ("+ numpy, pandas", ("numpy", "pandas")),
    ("+ numpy, pandas, matplotlib", DATA_STACK),
)


def _cold(command: str, calls: int, label: str) -> base.Row:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", command], check=True)
        samples.append(time.perf_counter() - start)
    return base.Row(
        "(reference)",
        label,
        base._percentile(samples, 0.5),
        base._percentile(samples, 0.95),
        1 / statistics.mean(samples),
    )


def _zygote_rss_mib(sandbox: Sandbox) -> float:
    pid = sandbox._get_backend()._zygote.pid  # type: ignore[attr-defined]
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _measure(
    rows: list[base.Row],
    workload: base.Workload,
    mode: str,
    runner: base.Runner,
    *,
    calls: int,
    gap_s: float,
    threads: int,
    seconds: float,
) -> None:
    samples = base._latency(runner, workload, calls, gap_s)
    rate = base._throughput(runner, workload, threads, seconds)
    rows.append(
        base.Row(
            workload.name,
            mode,
            base._percentile(samples, 0.5),
            base._percentile(samples, 0.95),
            rate,
        )
    )
    print(f"  measured {workload.name} / {mode}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, shorter runs")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between timed calls")
    parser.add_argument("--threads", type=int, default=2, help="threads for calls/s")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each calls/s run")
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    seconds = args.seconds * scale
    gap_s = args.gap_ms / 1000
    calls = max(10, int(200 * scale))
    slow_calls = max(3, int(12 * scale))
    seed = base.Workload("seed analysis", base.SEED, calls)
    pandas = base.Workload("pandas groupby", PANDAS, calls)
    measure = {"gap_s": gap_s, "threads": args.threads, "seconds": seconds}

    import pandas as _pd  # noqa: F401  (the exec floor runs with pandas already imported)

    rows: list[base.Row] = []
    sizes: list[tuple[str, float, base.Row]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        exec_run = base._exec_runner()
        _measure(rows, seed, "exec", exec_run, calls=calls, **measure)
        _measure(rows, pandas, "exec", exec_run, calls=calls, **measure)
        with Sandbox(root) as restricted:
            run = base._sandbox_runner(restricted)
            _measure(rows, seed, "restricted (default)", run, calls=calls, **measure)
        bare_policy = SandboxPolicy(language="python", timeout_s=60)
        with Sandbox(root, bare_policy) as bare:
            run = base._sandbox_runner(bare)
            _measure(rows, seed, "python, no preload", run, calls=calls, **measure)
            _measure(rows, pandas, "python, no preload", run, calls=slow_calls, **measure)
        data_policy = SandboxPolicy(language="python", preload=DATA_STACK, timeout_s=60)
        with Sandbox(root, data_policy) as data:
            run = base._sandbox_runner(data)
            _measure(rows, seed, "python, preload", run, calls=calls, **measure)
            _measure(rows, pandas, "python, preload", run, calls=calls, **measure)
            session_run, close = base._session_runner(data)
            try:
                _measure(rows, seed, "python session", session_run, calls=calls, **measure)
                _measure(rows, pandas, "python session", session_run, calls=calls, **measure)
            finally:
                close()
        trivial = base.Workload("trivial", "result = 1 + 1\n", calls)
        for label, preload in ZYGOTE_SIZES:
            policy = SandboxPolicy(language="python", preload=preload)
            with Sandbox(root, policy) as sized:
                rss = _zygote_rss_mib(sized)
                local: list[base.Row] = []
                _measure(local, trivial, label, base._sandbox_runner(sized), calls=calls, **measure)
                sizes.append((label, rss, local[0]))
    cold_calls = max(3, int(10 * scale))
    rows.append(_cold("import pandas", cold_calls, 'cold `python -c "import pandas"`'))
    rows.append(_cold("pass", cold_calls, "cold `python -c pass`"))
    _print(rows, sizes, args)
    return 0


def _print(
    rows: list[base.Row], sizes: list[tuple[str, float, base.Row]], args: argparse.Namespace
) -> None:
    floor = {r.workload: r.p50_ms for r in rows if r.mode == "exec"}
    cold = next(r.p50_ms for r in rows if "import pandas" in r.mode)
    print(
        f"\nPython {sys.version.split()[0]}; latency with calls {args.gap_ms:g} ms apart, "
        f"calls/s with {args.threads} threads back to back.\n"
    )
    print(
        "| workload | mode | p50 ms | p95 ms | calls/s | p50 vs exec | p50 vs cold import pandas |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        base_ms = floor.get(row.workload)
        ratio = f"{row.p50_ms / base_ms:.1f}x" if base_ms else ""
        print(
            f"| {row.workload} | {row.mode} | {row.p50_ms:.3f} | {row.p95_ms:.3f} "
            f"| {row.calls_per_s:,.1f} | {ratio} | {row.p50_ms / cold:.3f}x |"
        )
    print("\nZygote size and the cost of each fresh worker (a trivial call, python mode):\n")
    print("| zygote preloads | zygote RSS MiB | p50 ms | p95 ms | calls/s |")
    print("|---|---:|---:|---:|---:|")
    for label, rss, row in sizes:
        print(
            f"| {label} | {rss:.0f} | {row.p50_ms:.3f} | {row.p95_ms:.3f} "
            f"| {row.calls_per_s:,.1f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
