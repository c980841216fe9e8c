"""rlimits alone: memory, file size, open files, CPU and process creation are capped."""

from __future__ import annotations

import os
import resource
import signal
from pathlib import Path
from typing import Any

import pytest
from layers_support import outcome, run_in_child

from ai_sandbox.isolation import privileges
from ai_sandbox.isolation.rlimits import apply_limits, worker_limits
from ai_sandbox.policy import SandboxPolicy


def _limited(policy: SandboxPolicy, then: Any) -> Any:
    def body() -> Any:
        apply_limits(worker_limits(policy))
        return then()

    return body


def test_a_128_mib_limit_stops_a_512_mib_allocation() -> None:
    """It turns a 512 MiB allocation under a 128 MiB limit into MemoryError; the host is fine."""
    policy = SandboxPolicy(memory_limit_mb=128)
    result = run_in_child(_limited(policy, lambda: outcome(lambda: bytearray(512 << 20)))).value
    assert result == "MemoryError"
    assert len(bytearray(1 << 20)) == 1 << 20


def test_the_file_size_limit_shows_as_efbig(tmp_path: Path) -> None:
    """It refuses a write past max_file_bytes with EFBIG (CPython ignores SIGXFSZ)."""
    policy = SandboxPolicy(max_file_bytes=1024)
    target = tmp_path / "big"

    def write() -> None:
        with target.open("wb", buffering=0) as file:
            file.write(b"x" * 1024)
            file.write(b"x")

    assert run_in_child(_limited(policy, lambda: outcome(write))).value == "OSError:EFBIG"
    assert target.stat().st_size == 1024


def test_the_open_file_limit_stops_a_descriptor_flood() -> None:
    """It stops opening files at max_open_files (EMFILE)."""
    policy = SandboxPolicy(max_open_files=16)

    def flood() -> None:
        for _ in range(64):
            os.open(os.devnull, os.O_RDONLY)

    assert run_in_child(_limited(policy, lambda: outcome(flood))).value == "OSError:EMFILE"


def test_a_busy_loop_is_killed_by_the_cpu_limit() -> None:
    """It kills a CPU-bound loop at the CPU limit (ceil(timeout) + 1 s) even if nobody else does."""
    policy = SandboxPolicy(timeout_s=0.5)

    def spin() -> None:
        while True:
            pass

    report = run_in_child(_limited(policy, spin), timeout_s=15)
    assert report.signal in {signal.SIGXCPU, signal.SIGKILL}


def test_it_allows_no_core_dump() -> None:
    """It sets the core-dump size to zero."""
    core = run_in_child(_limited(SandboxPolicy(), lambda: resource.getrlimit(resource.RLIMIT_CORE)))
    assert core.value == [0, 0]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another uid")
def test_after_the_uid_drop_no_process_can_be_started() -> None:
    """It stops fork with EAGAIN once privileges are dropped (RLIMIT_NPROC is 0)."""

    def fork_after_drop() -> str:
        apply_limits(worker_limits(SandboxPolicy()))
        privileges.drop_to_user(*privileges.unprivileged_ids())
        return outcome(os.fork)

    assert run_in_child(fork_after_drop).value == "BlockingIOError:EAGAIN"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another uid")
def test_after_the_uid_drop_the_limits_cannot_be_raised() -> None:
    """It keeps the worker from raising its own memory limit again."""

    def raise_limit() -> str:
        apply_limits(worker_limits(SandboxPolicy()))
        privileges.drop_to_user(*privileges.unprivileged_ids())
        infinity = resource.RLIM_INFINITY
        return outcome(lambda: resource.setrlimit(resource.RLIMIT_AS, (infinity, infinity)))

    assert run_in_child(raise_limit).value in {"ValueError", "PermissionError:EPERM"}


def test_the_limits_follow_the_policy() -> None:
    """It derives each limit from the policy, with units converted."""
    policy = SandboxPolicy(timeout_s=2.5, memory_limit_mb=64, max_file_bytes=10, max_open_files=20)
    limits = {limit.name: (limit.soft, limit.hard) for limit in worker_limits(policy)}
    assert limits["RLIMIT_CPU"] == (4, 5)
    assert limits["RLIMIT_AS"] == limits["RLIMIT_DATA"] == (64 << 20, 64 << 20)
    assert limits["RLIMIT_FSIZE"] == (10, 10)
    assert limits["RLIMIT_NOFILE"] == (20, 20)
    assert limits["RLIMIT_NPROC"] == limits["RLIMIT_CORE"] == (0, 0)
