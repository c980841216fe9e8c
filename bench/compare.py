"""Compare isolated-call throughput and CPU of two checkouts, in interleaved runs.

Run with ``uv run python bench/compare.py BEFORE_DIR AFTER_DIR`` (each a checkout with its own
``.venv``, e.g. a ``git worktree`` of the older commit after ``uv sync``). Each round runs, in
each checkout in turn, the loop of ``bench/run.py``'s calls/s measurement (2 threads back to
back, a trivial call with new source text each time) and reads the CPU of the worker, the zygote
and the host as ``bench/run.py`` does; it prints every run and the medians. On a machine whose
speed drifts (a shared VM), interleaving the two is what makes their difference readable.
Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess  # nosec B404 - runs our own benchmark loop in each checkout's interpreter
import sys
from pathlib import Path

#: The loop, run by each checkout's own interpreter (so each measures its own code).
_LOOP = r"""
import json, os, resource, sys, tempfile, threading, time
from ai_sandbox import Sandbox

calls = int(sys.argv[1])
tick = os.sysconf("SC_CLK_TCK")

def zygote_times(pid):
    fields = open(f"/proc/{pid}/stat", "rb").read().rsplit(b")", 1)[1].split()
    return [int(x) / tick for x in fields[11:15]]

with tempfile.TemporaryDirectory() as root:
    sandbox = Sandbox(root)
    zygote = sandbox._backend._zygote.pid
    for n in range(50):
        sandbox.run(f"result = {n}")
    time.sleep(0.3)
    z0, h0 = zygote_times(zygote), resource.getrusage(resource.RUSAGE_SELF)
    counter, lock = iter(range(10**9)), threading.Lock()

    def loop():
        for _ in range(calls // 2):
            with lock:
                n = next(counter)
            assert sandbox.run(f"result = 1 + 1\n# {n}").ok

    start = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    time.sleep(0.3)  # the last workers reaped
    z1, h1 = zygote_times(zygote), resource.getrusage(resource.RUSAGE_SELF)
    sandbox.close()
done = calls // 2 * 2
host = h1.ru_utime + h1.ru_stime - h0.ru_utime - h0.ru_stime
print(json.dumps({
    "calls_per_s": done / elapsed,
    "worker_ms": (sum(z1[2:]) - sum(z0[2:])) / done * 1000,
    "zygote_ms": (sum(z1[:2]) - sum(z0[:2])) / done * 1000,
    "host_ms": host / done * 1000,
}))
"""

_COLUMNS = ("calls_per_s", "worker_ms", "zygote_ms", "host_ms")


def _run(checkout: Path, calls: int) -> dict[str, float]:
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(  # nosec B603 - our own loop, no shell
        [str(python), "-c", _LOOP, str(calls)],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["total_ms"] = result["worker_ms"] + result["zygote_ms"] + result["host_ms"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="checkout of the older code (with .venv)")
    parser.add_argument("after", type=Path, help="checkout of the newer code (with .venv)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs of each")
    parser.add_argument("--calls", type=int, default=800, help="calls per run")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for round_ in range(args.rounds):
        for name, checkout in (("before", args.before), ("after", args.after)):
            result = _run(checkout.resolve(), args.calls)
            runs[name].append(result)
            print(f"round {round_ + 1} {name}: " + json.dumps(result), file=sys.stderr)
    print("| code | calls/s | CPU ms per call | worker | zygote | host |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, results in runs.items():
        median = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(
            f"| {name} | {median['calls_per_s']:,.0f} | {median['total_ms']:.2f} "
            f"| {median['worker_ms']:.2f} | {median['zygote_ms']:.2f} | {median['host_ms']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
