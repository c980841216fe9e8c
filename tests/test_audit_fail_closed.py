"""Fail closed: when the record cannot be written, the action does not happen."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_sandbox import AuditError, Sandbox, SandboxPolicy
from ai_sandbox.audit import AuditLog, verify

POLICY = SandboxPolicy(isolation="none", allow_writes=True)


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (skips if this machine does not allow mounting)."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here (needs CAP_SYS_ADMIN)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(log: AuditLog) -> None:
    for _ in range(100):
        log.record("note")


WRITES = [
    pytest.param(
        lambda sb: sb.call("write_file", {"path": "canary.txt", "content": "x"}), id="call"
    ),
    pytest.param(lambda sb: sb.write_file("canary.txt", "x"), id="direct"),
]


@pytest.mark.parametrize("write", WRITES)
def test_a_log_whose_writes_fail_stops_the_action(project: Path, write: object) -> None:
    """It raises AuditError and does not write the file when the log device is full."""
    with AuditLog("/dev/full") as log, Sandbox(project, POLICY, audit=log) as sb:
        with pytest.raises(AuditError, match="could not write"):
            write(sb)  # type: ignore[operator]
        assert not (project / "canary.txt").exists()


def test_a_failed_log_also_stops_code_from_running(project: Path) -> None:
    """It raises AuditError from run before the code runs."""
    with AuditLog("/dev/full") as log, Sandbox(project, POLICY, audit=log) as sb:
        with pytest.raises(AuditError):
            sb.run("result = 1")
        with pytest.raises(AuditError):
            sb.session().run("result = 1")


def test_an_unopenable_log_is_refused_at_once(tmp_path: Path) -> None:
    """It raises AuditError when the log cannot be opened for appending."""
    with pytest.raises(AuditError, match="cannot open"):
        AuditLog(tmp_path / "missing-dir" / "audit.jsonl")


def test_a_log_on_a_read_only_file_system_is_refused(tmp_path: Path) -> None:
    """It raises AuditError when the log would live on a read-only file system."""
    with tmpfs(tmp_path / "ro", "1m") as mnt:
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        with pytest.raises(AuditError, match="cannot open"):
            AuditLog(mnt / "audit.jsonl")


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Make ``path`` immutable (even root cannot write it) for the block."""
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("this file system has no immutable attribute (chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_log_that_loses_write_permission_stops_the_action(project: Path, tmp_path: Path) -> None:
    """It raises AuditError when the open log stops accepting writes; the file is not written."""
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log, Sandbox(project, POLICY, audit=log) as sb:
        sb.call("list_directory", {})
        with immutable(path):
            with pytest.raises(AuditError):
                sb.call("write_file", {"path": "canary.txt", "content": "x"})
            assert not (project / "canary.txt").exists()
    assert verify(path).ok


def test_a_log_on_a_full_file_system_stops_the_action_and_stays_intact(
    project: Path, tmp_path: Path
) -> None:
    """It raises AuditError on a full disk, cuts back the partial record, and the chain holds."""
    with tmpfs(tmp_path / "full", "256k") as mnt:
        with AuditLog(mnt / "audit.jsonl") as log, Sandbox(project, POLICY, audit=log) as sb:
            sb.call("list_directory", {})
            filler = mnt / "filler"
            with contextlib.suppress(OSError), filler.open("wb", buffering=0) as f:
                while True:
                    f.write(b"\0" * 4096)
            with pytest.raises(AuditError):  # use up the room left in the log's last page
                _fill(log)
            with pytest.raises(AuditError):
                sb.call("write_file", {"path": "canary.txt", "content": "x"})
            assert not (project / "canary.txt").exists()
        assert verify(mnt / "audit.jsonl").ok
