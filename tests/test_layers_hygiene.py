"""A clean start: no environment (even in memory), no inherited files, own session, pdeathsig."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from layers_support import orphan_dies_with_its_parent, outcome, run_in_child

from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.isolation import hygiene

CANARY_VALUE = "sk-CANARY-5c1e-do-not-leak"


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """An API-key-like variable in the host's environment."""
    monkeypatch.setenv("AI_SANDBOX_CANARY_KEY", CANARY_VALUE)
    return "AI_SANDBOX_CANARY_KEY"


def test_clean_env_removes_a_host_variable(canary_env: str) -> None:
    """It leaves no host variable in os.environ or os.getenv."""

    def body() -> list[object]:
        hygiene.clean_environment()
        return [dict(os.environ), os.getenv(canary_env)]

    assert run_in_child(body).value == [{}, None]


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/environ is Linux-only")
def test_clean_env_wipes_the_original_environment_block(canary_env: str) -> None:
    """It wipes the environment the process started with from memory (/proc/self/environ)."""

    def body() -> bool:
        hygiene.clean_environment()
        with open("/proc/self/environ", "rb") as environ:
            return CANARY_VALUE.encode() in environ.read()

    assert run_in_child(body).value is False


def test_close_fds_closes_everything_but_the_channel(tmp_path: Path) -> None:
    """It closes every inherited descriptor except the ones to keep; stdio is /dev/null."""
    secret = os.open(tmp_path, os.O_RDONLY)
    keep_read, keep_write = os.pipe()
    try:

        def body(report_fd: int) -> dict[str, object]:
            hygiene.close_inherited_fds((keep_write, report_fd))
            return {
                "secret": outcome(lambda: os.fstat(secret)),
                "kept": outcome(lambda: os.fstat(keep_write)),
                "stdio": [os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)],
                "open": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
            }

        report = run_in_child(body, pass_report_fd=True).value
    finally:
        for fd in (secret, keep_read, keep_write):
            os.close(fd)
    assert report["secret"] == "OSError:EBADF"
    assert report["kept"] == "ok"
    assert report["stdio"] == ["/dev/null"] * 3
    # Left open: stdio, the kept descriptors, and the directory handle listdir itself used.
    assert len(set(report["open"]) - {0, 1, 2, keep_write}) == 2


def test_close_fds_refuses_to_keep_stdio() -> None:
    """It refuses to keep a standard descriptor (the caller would lose its channel)."""
    with pytest.raises(ValueError, match="above stdio"):
        hygiene.close_inherited_fds((1,))


def test_new_session_leads_its_own_session() -> None:
    """It makes the worker lead a new session and process group."""

    def body() -> list[bool]:
        hygiene.start_new_session()
        return [os.getsid(0) == os.getpid(), os.getpgrp() == os.getpid()]

    assert run_in_child(body).value == [True, True]


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_pdeathsig_kills_the_worker_when_its_parent_dies() -> None:
    """It kills the worker as soon as its parent (the zygote) exits."""
    assert orphan_dies_with_its_parent(lambda _ready_fd: hygiene.die_with_parent())


def test_lockdown_refuses_stdio_as_a_kept_descriptor() -> None:
    """It refuses keep_fds that include stdio with a configuration error."""
    from ai_sandbox.isolation.layers import ZygotePlan, lockdown_worker

    plan = ZygotePlan(
        layers=(),
        required=frozenset(),
        missing=(),
        limits=(),
        privilege_drop=None,
        uid=0,
        gid=0,
        last_capability=-1,
        environment_block=None,
        landlock=None,
        seccomp_program=None,
    )
    with pytest.raises(ConfigurationError, match="above stdio"):
        lockdown_worker(plan, keep_fds=(0,))
