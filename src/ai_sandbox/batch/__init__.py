"""Batch execution: many untrusted programs, each in a fresh locked-down worker.

* :meth:`ai_sandbox.Sandbox.map` / ``map_indexed`` -- programs in parallel on this machine;
* :func:`run_batch` -- ``ai-sandbox batch``: a JSONL file in, a JSONL file out, resumable;
* :func:`run_on_ray` -- the same over a Ray cluster (the ``ray`` extra).
"""

from __future__ import annotations

from ai_sandbox.batch.jsonl import BadLine, BatchItem, read_items
from ai_sandbox.batch.mapping import default_jobs
from ai_sandbox.batch.ray_backend import RayUnavailable, run_on_ray
from ai_sandbox.batch.runner import BatchSummary, run_batch

__all__ = [
    "BadLine",
    "BatchItem",
    "BatchSummary",
    "RayUnavailable",
    "default_jobs",
    "read_items",
    "run_batch",
    "run_on_ray",
]
