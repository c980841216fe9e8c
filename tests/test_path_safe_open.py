"""safe_open (race-free opening beneath a root) and safe_path_access's file checks.

``safe_path_access`` now refuses what host code must not open (a file with other hard links, a
FIFO or device); ``safe_open`` makes the same checks on the very fd it returns, and writes
atomically on close.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import CANARY

import ai_sandbox
from ai_sandbox import safe_open, safe_path_access
from ai_sandbox.exceptions import ConfigurationError, ResourceLimitExceeded, SecurityError
from ai_sandbox.policy import HOST_EXECUTED_PATTERNS, SandboxPolicy

WRITABLE = SandboxPolicy(allow_writes=True)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project root with a text file, a binary file and a canary outside."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "a.txt").write_text("héllo\n", encoding="utf-8")
    (project / "data" / "b.bin").write_bytes(b"\x00\xff")
    (tmp_path / "secret.txt").write_text(CANARY, encoding="utf-8")
    return project


@pytest.fixture(params=[None, False], ids=["default", "walk"])
def use_openat2(request: pytest.FixtureRequest) -> bool | None:
    return request.param  # type: ignore[no-any-return]


# -- safe_path_access: what the host would open ------------------------------------------------
def test_safe_path_access_refuses_a_hard_linked_file(root: Path, tmp_path: Path) -> None:
    """It refuses a regular file with another hard link (its content may live outside)."""
    os.link(tmp_path / "secret.txt", root / "alias.txt")
    with pytest.raises(SecurityError) as info:
        safe_path_access("alias.txt", root)
    assert info.value.rule == "hardlink"
    allowed = SandboxPolicy(allow_hardlinks=True)
    assert safe_path_access("alias.txt", root, policy=allowed) == root / "alias.txt"


def test_safe_path_access_refuses_special_files(root: Path) -> None:
    """It refuses a FIFO (opening it would block the host), as SafeFS does."""
    os.mkfifo(root / "pipe")
    with pytest.raises(SecurityError) as info:
        safe_path_access("pipe", root)
    assert info.value.rule == "special_file"


def test_safe_path_access_still_returns_directories_and_new_files(root: Path) -> None:
    """It still answers for directories and for files that do not exist yet."""
    assert safe_path_access("data", root) == root / "data"
    assert safe_path_access("data/new.txt", root) == root / "data" / "new.txt"


# -- safe_open: reads -------------------------------------------------------------------------
def test_it_is_exported() -> None:
    """It is part of the public API, next to safe_path_access."""
    assert "safe_open" in ai_sandbox.__all__
    assert "race-free" in (safe_open.__doc__ or "")


def test_reads_text_and_bytes(root: Path, use_openat2: bool | None) -> None:
    """It reads text (UTF-8) and bytes of a file beneath the root."""
    with safe_open("data/a.txt", root=root, _use_openat2=use_openat2) as f:
        assert f.read() == "héllo\n"
    with safe_open("data/b.bin", "rb", root=root, _use_openat2=use_openat2) as f:
        assert f.read() == b"\x00\xff"


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        pytest.param("../secret.txt", "outside_root", id="dotdot"),
        pytest.param("link_out", "symlink_escape", id="symlink-out"),
        pytest.param(".env", "deny_pattern", id="deny"),
        pytest.param("hard.txt", "hardlink", id="hardlink"),
        pytest.param("pipe", "special_file", id="fifo"),
        pytest.param("data", "is_directory", id="directory"),
        pytest.param("nope.txt", "not_found", id="missing"),
    ],
)
def test_refuses_what_safefs_refuses(
    root: Path, tmp_path: Path, use_openat2: bool | None, path: str, rule: str
) -> None:
    """It refuses, with the same rule as SafeFS, paths it must not open."""
    (root / "link_out").symlink_to("../secret.txt")
    (root / ".env").write_text("KEY=1", encoding="utf-8")
    os.link(tmp_path / "secret.txt", root / "hard.txt")
    os.mkfifo(root / "pipe")
    with pytest.raises(SecurityError) as info:
        safe_open(path, root=root, _use_openat2=use_openat2)
    assert info.value.rule == rule
    assert CANARY not in str(info.value)


def test_refuses_a_file_over_the_size_cap(root: Path) -> None:
    """It refuses to open for reading a file over max_file_bytes."""
    (root / "big.txt").write_bytes(b"x" * 100)
    with pytest.raises(ResourceLimitExceeded):
        safe_open("big.txt", root=root, policy=SandboxPolicy(max_file_bytes=10))


@pytest.mark.parametrize("mode", ["r+", "x", "w+", "rw", "", "U", 3])
def test_refuses_unknown_modes(root: Path, mode: object) -> None:
    """It refuses modes other than r, rb, w, wb, a, ab (and their 't' spellings)."""
    with pytest.raises(ConfigurationError, match="mode"):
        safe_open("data/a.txt", mode, root=root)  # type: ignore[arg-type]


# -- safe_open: writes ------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["w", "wb", "a", "ab"])
def test_writes_need_allow_writes(root: Path, mode: str) -> None:
    """It refuses every write mode unless the policy allows writes, and touches nothing."""
    with pytest.raises(SecurityError) as info:
        safe_open("data/a.txt", mode, root=root)
    assert info.value.rule == "writes_disabled"
    assert (root / "data" / "a.txt").read_text(encoding="utf-8") == "héllo\n"


def test_writes_are_atomic_on_close(root: Path, use_openat2: bool | None) -> None:
    """It replaces the file only on close: until then the old content is what others see."""
    f = safe_open("data/a.txt", "w", root=root, policy=WRITABLE, _use_openat2=use_openat2)
    f.write("new")
    f.flush()
    assert (root / "data" / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    f.close()
    assert (root / "data" / "a.txt").read_text(encoding="utf-8") == "new"
    with safe_open("out/n.bin", "wb", root=root, policy=WRITABLE) as g:
        g.write(b"\x01")
    assert (root / "out" / "n.bin").read_bytes() == b"\x01"


def _write_then_fail(root: Path, mode: str) -> None:
    with safe_open("data/a.txt", mode, root=root, policy=WRITABLE) as f:
        f.write("half" if mode == "w" else b"half")
        raise RuntimeError("boom")


def test_an_exception_discards_the_write(root: Path) -> None:
    """It leaves the file untouched when the with block raises."""
    for mode in ("w", "wb"):
        with pytest.raises(RuntimeError):
            _write_then_fail(root, mode)
    assert (root / "data" / "a.txt").read_text(encoding="utf-8") == "héllo\n"


def test_append_starts_from_the_current_content(root: Path) -> None:
    """It appends to an existing file, and creates a missing one."""
    with safe_open("data/a.txt", "a", root=root, policy=WRITABLE) as f:
        f.write("more\n")
    assert (root / "data" / "a.txt").read_text(encoding="utf-8") == "héllo\nmore\n"
    with safe_open("data/c.bin", "ab", root=root, policy=WRITABLE) as g:
        g.write(b"c")
    assert (root / "data" / "c.bin").read_bytes() == b"c"


def test_writes_are_capped(root: Path) -> None:
    """It refuses writing more than max_file_bytes, and the file keeps its content."""
    policy = WRITABLE.model_copy(update={"max_file_bytes": 8})
    with safe_open("data/a.txt", "wb", root=root, policy=policy) as f:
        with pytest.raises(ResourceLimitExceeded):
            f.write(b"x" * 9)
        f.write(b"ok")
    assert (root / "data" / "a.txt").read_bytes() == b"ok"


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        pytest.param("../escape.txt", "outside_root", id="dotdot"),
        pytest.param("link_out", "symlink_write", id="final-symlink"),
        pytest.param("dirlink/x.txt", "symlink_escape", id="dir-symlink-out"),
        pytest.param(".env", "deny_pattern", id="deny"),
        pytest.param("conftest.py", "write_deny_pattern", id="host-executed"),
        pytest.param("hard.txt", "hardlink", id="hardlink"),
        pytest.param("data", "is_directory", id="directory"),
    ],
)
def test_write_refusals_come_at_open(
    root: Path, tmp_path: Path, use_openat2: bool | None, path: str, rule: str
) -> None:
    """It refuses a bad write target when opening, not only at close, and writes nothing."""
    (root / "link_out").symlink_to("../secret.txt")
    (root / "dirlink").symlink_to("..")
    os.link(tmp_path / "secret.txt", root / "hard.txt")
    before = sorted(p.name for p in tmp_path.iterdir())
    policy = WRITABLE.model_copy(update={"write_deny_patterns": HOST_EXECUTED_PATTERNS})
    with pytest.raises(SecurityError) as info:
        safe_open(path, "w", root=root, policy=policy, _use_openat2=use_openat2)
    assert info.value.rule == rule
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "secret.txt").read_text(encoding="utf-8") == CANARY
