"""``ai-sandbox batch``: score a JSONL file of programs, resumably, on this machine or on Ray."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ai_sandbox.audit.writer import AuditLog
from ai_sandbox.batch.jsonl import BadLine, ResultWriter, count_lines, done_ids, id_key, read_items
from ai_sandbox.batch.mapping import check_jobs
from ai_sandbox.batch.progress import Progress
from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.policy import SandboxPolicy

__all__ = ["BatchSummary", "run_batch"]

#: Bad input lines reported one by one; past this only their number is counted.
MAX_BAD_LINES_SHOWN = 20


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did: counts per status, skipped ids, bad lines and the rate."""

    counts: Mapping[str, int]
    skipped: int
    bad_lines: int
    elapsed_s: float
    text: str

    @property
    def run(self) -> int:
        return sum(self.counts.values())


def run_batch(
    input_path: Path,
    output_path: Path,
    *,
    root: Path,
    policy: SandboxPolicy,
    jobs: int | None = None,
    ray_address: str | None = None,
    audit_path: Path | None = None,
    progress_stream: TextIO,
    tty: bool | None = None,
) -> BatchSummary:
    """Run every program of ``input_path`` not already in ``output_path``; append results.

    Results are written as they finish (not in input order), one whole line each, so a killed
    run loses only the programs that were running; rerun the same command to resume.
    """
    workers = check_jobs(jobs)
    if not input_path.is_file():
        raise ConfigurationError(f"input {str(input_path)!r} is not a readable file")
    if input_path.resolve() == output_path.resolve():
        raise ConfigurationError("the output file must not be the input file")
    finished = done_ids(output_path)
    progress = Progress(progress_stream, total=count_lines(input_path), tty=tty)
    ids: dict[int, str | int] = {}
    seen: dict[str, int] = {}
    shown = 0

    def programs() -> Iterator[tuple[str, Mapping[str, Any] | None]]:
        nonlocal shown
        fed = 0
        for item in read_items(input_path):
            problem: str | None = None
            if isinstance(item, BadLine):
                problem = item.reason
            else:
                key = id_key(item.id)
                if key in seen:
                    problem = f"duplicate id {key[:80]} (first on line {seen[key]})"
                else:
                    seen[key] = item.line
                    if key in finished:
                        progress.skipped += 1
                        continue
            if problem is not None or isinstance(item, BadLine):
                progress.bad_line()
                if shown < MAX_BAD_LINES_SHOWN:
                    progress_stream.write(f"{input_path.name}:{item.line}: skipped: {problem}\n")
                    shown += 1
                continue
            ids[fed] = item.id
            fed += 1
            yield item.code, item.inputs

    audit = (
        AuditLog(audit_path, session_id=f"batch-{uuid.uuid4().hex[:12]}")
        if audit_path is not None
        else None
    )
    writer = ResultWriter(output_path)
    try:
        if ray_address is not None:
            from ai_sandbox.batch.ray_backend import run_on_ray

            results = run_on_ray(
                programs(),
                root=root,
                policy=policy,
                actors=workers,
                address=None if ray_address == "local" else ray_address,
                ordered=False,
                audit=audit,
            )
            for index, result in results:
                writer.write(ids.pop(index), result)
                progress.add(result.status)
        else:
            from ai_sandbox.sandbox import Sandbox

            with Sandbox(root, policy, audit=audit) as sandbox:
                for index, result in sandbox.map_indexed(programs(), jobs=workers, ordered=False):
                    writer.write(ids.pop(index), result)
                    progress.add(result.status)
    finally:
        writer.close()
        if audit is not None:
            audit.close()
        progress.finish()
        if progress.bad_lines > shown:
            progress_stream.write(f"... and {progress.bad_lines - shown} more bad lines\n")
    return BatchSummary(
        counts=dict(progress.counts),
        skipped=progress.skipped,
        bad_lines=progress.bad_lines,
        elapsed_s=progress.elapsed_s,
        text=progress.summary(),
    )
