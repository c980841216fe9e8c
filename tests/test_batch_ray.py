"""``run_on_ray`` and ``ai-sandbox batch --ray``: the same programs over a local Ray cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_sandbox import SandboxPolicy
from ai_sandbox.batch import run_on_ray

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

SLOW = "x = 0\nfor k in range(400000):\n    x += k\nresult = {i}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.usefixtures("cluster")
def test_results_stream_back_in_order(tmp_path: Path) -> None:
    """It runs every program on the actors and yields the results in input order."""
    programs = [f"result = {i} + 1" for i in range(30)]
    results = list(run_on_ray(programs, root=tmp_path, policy=SandboxPolicy(), actors=2))
    assert [index for index, _ in results] == list(range(30))
    assert [r.result for _, r in results] == [i + 1 for i in range(30)]
    assert all(r.isolation == "strict" and "seccomp" in r.layers for _, r in results)


@pytest.mark.usefixtures("cluster")
def test_a_lost_actor_costs_only_a_retry(tmp_path: Path) -> None:
    """It survives an actor killed mid-batch: its in-flight programs run once more elsewhere,
    and every program comes back exactly once, in order, with its own result."""
    programs = [SLOW.format(i=i) for i in range(24)]
    results = run_on_ray(programs, root=tmp_path, policy=SandboxPolicy(), actors=2)
    seen = [next(results), next(results)]
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)]
    victim = next(n for n in names if n.startswith("ai-sandbox-") and n.endswith("-0"))
    ray.kill(ray.get_actor(victim))
    seen.extend(results)
    assert [index for index, _ in seen] == list(range(24))
    assert [r.result for _, r in seen] == list(range(24))
    assert all(r.status == "ok" for _, r in seen)


def test_the_cli_runs_a_file_on_a_local_cluster(tmp_path: Path) -> None:
    """It runs ``ai-sandbox batch --ray local`` with the same output format as a local batch."""
    lines = [json.dumps({"id": i, "code": f"result = {i} * 3"}) for i in range(10)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ai_sandbox.cli",
            "batch",
            "in.jsonl",
            "-o",
            "out.jsonl",
            "--ray",
            "local",
            "--jobs",
            "2",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    records = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted((r["id"], r["result"]) for r in records) == [(i, i * 3) for i in range(10)]
    assert "10 programs run" in out.stdout
