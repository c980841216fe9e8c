"""What auditing costs: records/s of AuditLog and per-call cost of Sandbox.call with audit.

    uv run python bench/audit_bench.py [--records N] [--calls N]

Prints records/s for fsync="never", "batch" and "always", and the time per Sandbox.call
(isolation="none", a small read_file) without audit and with each fsync mode, as a ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.audit import AuditLog, FsyncMode

MODES: tuple[FsyncMode, ...] = ("never", "batch", "always")


def records_per_second(directory: Path, mode: FsyncMode, count: int) -> float:
    with AuditLog(directory / f"records-{mode}.jsonl", fsync=mode) as log:
        start = time.perf_counter()
        for n in range(count):
            log.record("requested", call_id=str(n), tool="read_file", args={"path": "a.txt"})
        return count / (time.perf_counter() - start)


def seconds_per_call(root: Path, audit: AuditLog | None, count: int) -> float:
    policy = SandboxPolicy(isolation="none")
    with Sandbox(root, policy, audit=audit) as sandbox:
        sandbox.call("read_file", {"path": "data.txt"})  # warm up
        start = time.perf_counter()
        for _ in range(count):
            sandbox.call("read_file", {"path": "data.txt"})
        return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        root = directory / "root"
        root.mkdir()
        (root / "data.txt").write_text("n\n1\n2\n3\n", encoding="utf-8")
        print("AuditLog.record, records/s:")
        for mode in MODES:
            count = args.records if mode != "always" else max(1, args.records // 10)
            print(f"  fsync={mode:<7} {records_per_second(directory, mode, count):>10,.0f}")
        base = seconds_per_call(root, None, args.calls)
        print(
            f"\nSandbox.call(read_file), per call:\n  no audit       {base * 1e6:>8.1f} us  1.00x"
        )
        for mode in MODES:
            count = args.calls if mode != "always" else max(1, args.calls // 10)
            with AuditLog(directory / f"calls-{mode}.jsonl", fsync=mode) as log:
                cost = seconds_per_call(root, log, count)
            print(f"  fsync={mode:<7}  {cost * 1e6:>8.1f} us  {cost / base:.2f}x")


if __name__ == "__main__":
    main()
