"""Python mode: nothing the zygote holds is shared writably with its workers.

Preloaded modules (numpy, pandas, matplotlib) are imported by the zygote before any fork; a
``MAP_SHARED`` writable mapping among them would be one memory that every worker could write
and the next worker read. Copy-on-write private mappings are fine: a worker's writes stay its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ai_sandbox import SandboxPolicy
from ai_sandbox.isolation.worker_backend import WorkerBackend

pytest.importorskip("pandas", reason="the data extra (numpy, pandas, matplotlib) is not installed")

DATA_STACK = SandboxPolicy(language="python", preload=("numpy", "pandas", "matplotlib"))


def _writable_shared(pid: int) -> list[str]:
    """The mappings of ``pid`` that are both writable and shared (``rw-s``, ``-w-s``)."""
    with open(f"/proc/{pid}/maps", encoding="utf-8") as maps:
        return [line for line in maps if line.split()[1][1] == "w" and line.split()[1][3] == "s"]


def test_no_writable_shared_mapping_in_the_zygote_or_a_worker(tmp_path: Path) -> None:
    """It holds no writable shared memory in the zygote (with the data stack preloaded) nor in
    a ready, locked-down worker forked from it."""
    os.chmod(tmp_path, 0o755)
    backend = WorkerBackend(tmp_path, DATA_STACK)
    try:
        assert backend.execute("import pandas\nresult = 1").ok
        worker = backend._pool.take()
        try:
            assert _writable_shared(backend._zygote.pid) == []
            assert _writable_shared(worker.pid) == []
        finally:
            worker.close()
    finally:
        backend.close()
