"""What the filesystem view (``fs_view``) costs: once per zygote, and per worker.

Run with ``uv run python bench/fsview_bench.py`` (as root, or where user namespaces work). In a
forked "zygote" it times :func:`~ai_sandbox.isolation.fsview.enter_view` (paid once per
Sandbox), then forks workers that time their whole ``lockdown_worker`` and, separately, the
worker's own part of the view (:func:`~ai_sandbox.isolation.fsview.enter_worker_view`: python
mode only; restricted-mode workers inherit the zygote's view and do nothing). Roots of several
sizes show what the python-mode walk costs. Medians of ``--workers`` forks; printed, never
asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ai_sandbox.isolation import fsview
from ai_sandbox.isolation.layers import lockdown_worker, prepare_zygote
from ai_sandbox.policy import SandboxPolicy


class _PythonModePolicy(SandboxPolicy):
    language: str = "python"


def _child(body: Any) -> Any:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            os.write(write_end, json.dumps(body(write_end)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 1 << 16):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks))


def _measure(root: Path, policy: SandboxPolicy, workers: int) -> dict[str, float]:
    def zygote(_fd: int) -> Any:
        os.chdir(root)
        start = time.perf_counter()
        plan = prepare_zygote(policy, required=frozenset())
        setup = time.perf_counter() - start
        view = plan.view
        lockdowns, views = [], []
        for _ in range(workers):

            def worker(fd: int) -> Any:
                start = time.perf_counter()
                lockdown_worker(plan, keep_fds=(fd,))
                return time.perf_counter() - start

            lockdowns.append(_child(worker))
            if view is not None and view.mode == "python":

                def view_only(_fd: int) -> Any:
                    start = time.perf_counter()
                    fsview.enter_worker_view(view, uid=plan.uid, gid=plan.gid)
                    return time.perf_counter() - start

                views.append(_child(view_only))
        return {
            "zygote setup ms": setup * 1e3,
            "worker lockdown p50 ms": statistics.median(lockdowns) * 1e3,
            "worker view p50 ms": statistics.median(views) * 1e3 if views else 0.0,
            "layers": "fs_view" in plan.layers,
        }

    result: dict[str, float] = _child(zygote)
    return result


def _tree(base: Path, files: int) -> Path:
    root = base / f"root-{files}"
    (root / ".git").mkdir(parents=True)
    (root / ".env").write_text("KEY=1")
    per_dir = 50
    for index in range(files):
        folder = root / f"d{index // per_dir}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{index}.csv").write_text("a,b\n")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=40, help="workers per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        print("| mode | root entries | view | zygote setup ms | lockdown p50 ms | view p50 ms |")
        print("|---|---:|---|---:|---:|---:|")
        for files in (10, 1000, 10000):
            root = _tree(base, files)
            rows = [("restricted", SandboxPolicy()), ("python", _PythonModePolicy())]
            if files != 10:
                rows = rows[1:]
            for name, policy in rows:
                got = _measure(root, policy, args.workers)
                print(
                    f"| {name} | {files} | {'yes' if got['layers'] else 'no'} "
                    f"| {got['zygote setup ms']:.1f} | {got['worker lockdown p50 ms']:.3f} "
                    f"| {got['worker view p50 ms']:.3f} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
