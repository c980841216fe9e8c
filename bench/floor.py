"""The floor under an isolated call: bare fork + exit + wait of a process the zygote's size.

Run by ``bench/run.py`` as ``python -I bench/floor.py <policy-json> <cycles> <out-file>
[<pad-to-kb>]``, never imported. It loads what the zygote loads before it forks its first
worker, the same way (``ai_sandbox`` registered without running its ``__init__``, then the
zygote's own ``_preload`` and ``warm_up`` for the given policy, then ``gc.collect()`` and
``gc.freeze()``), optionally pads its anonymous memory up to ``pad-to-kb`` (the real zygote's
``RssAnon``, with pages of its own, no huge pages), and times ``cycles`` rounds of fork, an
immediate ``os._exit(0)`` in the child and ``waitpid`` in the parent, with ``os.fork()`` (CPython's
before/after-fork hooks) and with libc's ``fork`` through ctypes (none of them). It writes JSON
to ``out-file``: per cycle wall ms and CPU ms (the parent's ``RUSAGE_SELF``, the children's
``RUSAGE_CHILDREN`` and their sum), the medians over a few alternating rounds, and the process's
``RssAnon`` before and after padding.
"""

from __future__ import annotations

import importlib.util
import sys

# Before anything imports ai_sandbox: the package without its __init__, as the zygote has it.
sys.modules["ai_sandbox"] = importlib.util.module_from_spec(
    importlib.util.find_spec("ai_sandbox")  # type: ignore[arg-type]
)

import contextlib  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import mmap  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

ROUNDS = 3  # alternating os.fork / libc fork rounds; medians are reported
PAGE = mmap.PAGESIZE


def _rss_anon_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def _load_like_the_zygote(policy_json: str) -> list[str]:
    """Import and warm up what the zygote does; the steps that failed (named, not fatal)."""
    missed: list[str] = []
    import ai_sandbox.executor.runtime
    import ai_sandbox.isolation.layers
    import ai_sandbox.isolation.worker
    from ai_sandbox.isolation import zygote
    from ai_sandbox.isolation.worker_policy import WorkerPolicy

    policy = WorkerPolicy.from_json(json.loads(policy_json))
    preload = getattr(zygote, "_preload", None)
    if callable(preload):
        preload(policy)  # what the zygote imports, whatever it imports today
    else:
        missed.append("zygote._preload (gone: the allowed imports and PRELOAD_MODULES instead)")
        _preload_by_hand(policy)
    try:
        ai_sandbox.isolation.worker.warm_up(policy, True)
    except Exception as exc:  # the floor only needs the memory it leaves behind
        missed.append(f"warm_up: {type(exc).__name__}: {exc}")
    gc.collect()
    gc.freeze()
    return missed


def _preload_by_hand(policy: Any) -> None:
    from ai_sandbox.executor.modules import PRELOAD_MODULES

    names = (*sorted(policy.allowed_imports), *PRELOAD_MODULES, *policy.preload)
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _pad(to_kb: int) -> mmap.mmap | None:
    """Private anonymous memory of our own (touched, no huge pages) up to ``to_kb`` RssAnon."""
    missing = to_kb - _rss_anon_kb()
    if missing <= 0:
        return None
    size = missing * 1024 // PAGE * PAGE
    pad = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        pad.madvise(mmap.MADV_NOHUGEPAGE)
    for offset in range(0, size, PAGE):
        pad[offset] = 1
    return pad


def _cycles(fork: Callable[[], int], cycles: int) -> tuple[float, float, float]:
    """Wall ms, the parent's CPU ms and the children's per fork + exit + wait."""
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for _ in range(cycles):
        pid = fork()
        if pid == 0:
            os._exit(0)
        if pid < 0:
            raise OSError(ctypes.get_errno(), "fork failed")
        os.waitpid(pid, 0)
    wall = time.perf_counter() - start
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    parent = self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime
    child = kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
    return wall / cycles * 1000, parent / cycles * 1000, child / cycles * 1000


def main(argv: list[str]) -> int:
    policy_json, cycles, out = argv[1], int(argv[2]), argv[3]
    pad_to_kb = int(argv[4]) if len(argv) > 4 else 0
    missed = _load_like_the_zygote(policy_json)
    loaded_kb = _rss_anon_kb()
    pad = _pad(pad_to_kb)
    libc_fork = ctypes.CDLL(None, use_errno=True).fork
    forks: dict[str, Callable[[], int]] = {"os.fork": os.fork, "libc fork": libc_fork}
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in forks}
    for fork in forks.values():
        _cycles(fork, max(1, cycles // 10))  # warm up: the first forks fault in more
    for _ in range(ROUNDS):
        for name, fork in forks.items():
            samples[name].append(_cycles(fork, cycles))
    report = {
        "loaded_rss_anon_kb": loaded_kb,
        "rss_anon_kb": _rss_anon_kb(),
        "padded": pad is not None,
        "missed": missed,
        "cycles": cycles * ROUNDS,
        "forks": {
            name: {
                "wall_ms": statistics.median(wall for wall, _, _ in rows),
                "cpu_ms": statistics.median(parent + child for _, parent, child in rows),
                "parent_cpu_ms": statistics.median(parent for _, parent, _ in rows),
                "child_cpu_ms": statistics.median(child for _, _, child in rows),
            }
            for name, rows in samples.items()
        },
    }
    with open(out, "w", encoding="utf-8") as out_file:
        json.dump(report, out_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
