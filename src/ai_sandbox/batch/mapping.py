"""``Sandbox.map``: many programs, each in its own fresh worker, a bounded number at a time.

The work is spread over ``jobs`` threads that each call :meth:`Sandbox.run`, so every program
gets exactly the isolation a single run gets (a fresh, locked-down worker from the pool). At
most ``window`` programs are read from the input and not yet handed back at any moment, so the
memory used does not grow with the length of the input, which may be an endless generator.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeAlias

from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.results import ExecutionResult

__all__ = ["Program", "default_jobs", "iter_results", "normalise_program"]

#: A program as ``map`` takes it: source text, or ``(source, inputs)``.
Program: TypeAlias = "str | tuple[str, Mapping[str, Any] | None]"
#: Runs one program: ``(code, inputs) -> result``; never raises for the program's mistakes.
RunOne: TypeAlias = Callable[[str, "Mapping[str, Any] | None"], ExecutionResult]
#: How many programs may be taken from the input ahead of the one handed back, per job.
_WINDOW_PER_JOB = 2
_MAX_JOBS = 256


def default_jobs() -> int:
    """The number of CPUs this process may run on (its affinity mask, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def normalise_program(
    index: int, program: object, default_inputs: Mapping[str, Any] | None
) -> tuple[str, Mapping[str, Any] | None]:
    """``(code, inputs)`` for the ``index``-th program, or a ``TypeError`` naming it.

    A bad *item* is the developer's mistake (the pipeline built the list), so it raises; a bad
    *program* (code that does not compile, fails or is refused) comes back as a result.
    """
    if isinstance(program, str):
        return program, default_inputs
    if isinstance(program, tuple) and len(program) == 2:
        code, inputs = program
        if isinstance(code, str) and (inputs is None or isinstance(inputs, Mapping)):
            return code, inputs
    raise TypeError(
        f"program {index}: expected source text or a (code, inputs) pair with a mapping or "
        f"None as inputs, got {type(program).__name__}"
    )


def check_jobs(jobs: int | None) -> int:
    """``jobs`` as a usable thread count (default: the CPUs this process may use)."""
    if jobs is None:
        return default_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= _MAX_JOBS:
        raise ConfigurationError(f"jobs must be a whole number from 1 to {_MAX_JOBS}")
    return jobs


def iter_results(
    run_one: RunOne,
    programs: Iterable[object],
    *,
    inputs: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    ordered: bool = True,
) -> Iterator[tuple[int, ExecutionResult]]:
    """``(index, result)`` for each program, in input order when ``ordered``.

    Closing the iterator early (``break`` in a ``for`` loop) cancels the programs not yet
    started and waits for the few already running.
    """
    workers = check_jobs(jobs)
    window = workers * _WINDOW_PER_JOB
    source = enumerate(programs)
    pending: dict[Future[ExecutionResult], int] = {}
    done: dict[int, ExecutionResult] = {}
    next_out = 0
    exhausted = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ai-sandbox-map") as pool:
        try:
            while True:
                # Keep the window full: programs taken but not yet handed back, at most `window`.
                while not exhausted and len(pending) + len(done) < window:
                    try:
                        index, item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    code, program_inputs = normalise_program(index, item, inputs)
                    pending[pool.submit(run_one, code, program_inputs)] = index
                if ordered:
                    while next_out in done:
                        yield next_out, done.pop(next_out)
                        next_out += 1
                if not pending:
                    if exhausted and not done:
                        return
                    continue
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    result = future.result()  # our own failure (closed sandbox, audit): raise
                    if ordered:
                        done[index] = result
                    else:
                        yield index, result
        finally:
            for future in pending:
                future.cancel()
