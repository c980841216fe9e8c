"""What a hostile worker costs the other tenants of its host process, and the host's memory.

Run with ``uv run python bench/neighbour_bench.py`` (``--quick`` for a shorter run). A
*neighbour* ``Sandbox`` (the default strict policy) runs a small job back to back and its
latency p50/p95 is measured: alone, then while a hostile backend in the same process (the
language guard off, as if RestrictedPython were bypassed) runs workers that spam the host with
worst-case frames:

* ``bigint``  read requests padded with 4,300-digit integers (the slowest ints to decode);
* ``reads``   a flood of reads of a maximal file and of paths outside the root;
* ``writes``  a flood of maximal write requests (the largest frames a worker may send).

``--memory`` measures instead the host memory (tracemalloc peak) used to serve one worker
sending maximal frames of each kind. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.isolation.worker_backend import WorkerBackend

NEIGHBOUR_JOB = """
rows = [{'n': i, 'sq': i * i} for i in range(200)]
result = sum(r['sq'] for r in rows)  # CALL
"""

#: Guard-off worker code: find the channel, then talk to the host raw.
_RAW = r"""
import json, os, socket, stat, struct, time
def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False
chan = socket.socket(fileno=next(fd for fd in range(3, 64) if _is_socket(fd)))
def send(body):
    chan.sendall(struct.pack('>I', len(body)) + body)
def recv():
    size = struct.unpack('>I', chan.recv(4, socket.MSG_WAITALL))[0]
    return chan.recv(size, socket.MSG_WAITALL)
"""

HOSTILE = {
    "bigint": _RAW
    + r"""
big = b'7' * 4300
pad = b'[' + b','.join([big] * 1400) + b']'
frame = b'{"type":"read","path":"missing.txt","pad":' + pad + b'}'
while True:
    send(frame)
    recv()
""",
    "reads": _RAW
    + r"""
frames = [b'{"type":"read","path":"big.bin"}', b'{"type":"read","path":"/etc/passwd"}',
          b'{"type":"read","path":"' + b'../' * 300 + b'etc/passwd"}']
n = 0
while True:
    send(frames[n % 3])
    recv()
    n += 1
""",
    "writes": _RAW
    + r"""
import base64
data = base64.b64encode(b'x' * MAX_FILE)
frame = b'{"type":"write","path":"out.bin","data_b64":"' + data + b'"}'
while True:
    send(frame)
    recv()
""",
}


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _neighbour(box: Sandbox, calls: int) -> list[float]:
    samples = []
    for n in range(calls):
        start = time.perf_counter()
        result = box.run(NEIGHBOUR_JOB.replace("CALL", str(n)))
        samples.append((time.perf_counter() - start) * 1000)
        assert result.status == "ok", result
        time.sleep(0.01)
    return samples


def _attack(backend: WorkerBackend, code: str, stop: threading.Event, counts: list[str]) -> None:
    while not stop.is_set():
        result = backend.execute(code)
        counts.append(result.status if result.error is None else str(result.error.rule))


def neighbour_latency(calls: int, policy: SandboxPolicy, only: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "big.bin").write_bytes(b"\0" * policy.max_file_bytes)
        with Sandbox(root, SandboxPolicy()) as box:
            _neighbour(box, 10)  # warm
            alone = _neighbour(box, calls)
            print(
                f"{'alone':>8}: p50 {statistics.median(alone):7.2f} ms  "
                f"p95 {_percentile(alone, 0.95):7.2f} ms"
            )
            base = statistics.median(alone)
            for name, code in HOSTILE.items():
                if only is not None and name != only:
                    continue
                code = code.replace("MAX_FILE", str(policy.max_file_bytes))
                backend = WorkerBackend(root, policy, _language_guard=False)
                stop = threading.Event()
                counts: list[str] = []
                thread = threading.Thread(target=_attack, args=(backend, code, stop, counts))
                thread.start()
                time.sleep(0.5)
                try:
                    under = _neighbour(box, calls)
                finally:
                    stop.set()
                    thread.join()
                    backend.close()
                p50 = statistics.median(under)
                endings = ", ".join(f"{k}={counts.count(k)}" for k in sorted(set(counts)))
                print(
                    f"{name:>8}: p50 {p50:7.2f} ms  p95 {_percentile(under, 0.95):7.2f} ms"
                    f"  ({p50 / base:.2f}x)  hostile runs: {endings}"
                )


def host_memory(policy: SandboxPolicy) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "big.bin").write_bytes(b"\0" * policy.max_file_bytes)
        backend = WorkerBackend(root, policy, _language_guard=False)
        try:
            for name, code in HOSTILE.items():
                code = code.replace("MAX_FILE", str(policy.max_file_bytes))
                once = code.replace("while True:", "for _ in range(3):") + "\nresult = 1\n"
                backend.execute("result = 0")
                tracemalloc.start()
                result = backend.execute(once)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                print(
                    f"{name:>8}: host peak {peak / 2**20:7.1f} MiB while serving one worker "
                    f"({result.status}, {result.error.rule if result.error else ''})"
                )
        finally:
            backend.close()
        print(f"(max_file_bytes {policy.max_file_bytes / 2**20:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--memory", action="store_true", help="measure host memory instead")
    parser.add_argument("--only", choices=sorted(HOSTILE), help="one kind of hostile worker")
    args = parser.parse_args()
    policy = SandboxPolicy(timeout_s=30.0, allow_writes=True, pool_size=1)
    if args.memory:
        host_memory(policy)
    else:
        neighbour_latency(40 if args.quick else 150, policy, args.only)


if __name__ == "__main__":
    main()
