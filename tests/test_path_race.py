"""Races: a thread swaps symlinks between inside and outside targets while operations run.

The check and the use are one operation beneath the root's fd (openat2, or the O_NOFOLLOW
walk), so however the swaps interleave, the canary outside never comes back and nothing is
written outside. Each test runs a few hundred operations within a bounded time.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_path_tree import CANARY

from ai_sandbox.exceptions import ConfigurationError, SandboxError
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS, safe_open

ROUNDS = 400
TIME_LIMIT_S = 4.0


@pytest.fixture(params=["openat2", "walk"])
def use_openat2(request: pytest.FixtureRequest, tmp_path: Path) -> bool:
    if request.param == "openat2":
        try:
            SafeFS(tmp_path, SandboxPolicy(), _use_openat2=True).close()
        except ConfigurationError:
            pytest.skip("kernel lacks openat2 (or /proc/self/fd)")
    return bool(request.param == "openat2")


@pytest.fixture
def arena(tmp_path: Path) -> Path:
    """root/ with inside files, and outside/ with canaries of the same names."""
    root = tmp_path / "root"
    for base, content in ((root / "inside", "INSIDE"), (tmp_path / "outside", CANARY)):
        base.mkdir(parents=True)
        (base / "file.txt").write_text(content)
    (root / "file.txt").write_text("INSIDE")
    return root


def _flipping(link: Path, targets: list[str], stop: threading.Event) -> None:
    """Atomically repoint ``link`` at each target in turn (symlink + rename) until stopped."""
    spare = link.with_name(link.name + ".next")
    i = 0
    while not stop.is_set():
        os.symlink(targets[i % len(targets)], spare)
        os.replace(spare, link)
        i += 1


@pytest.fixture
def flip(arena: Path) -> Iterator[Callable[[str, list[str]], None]]:
    """Start a thread that keeps swapping a symlink in the arena; stopped after the test."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(name: str, targets: list[str]) -> None:
        link = arena / name
        os.symlink(targets[0], link)
        thread = threading.Thread(target=_flipping, args=(link, targets, stop), daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


def _hammer(operation: Callable[[], bytes | int]) -> Counter[str]:
    """Run ``operation`` ROUNDS times (or until the time limit); count the outcomes."""
    seen: Counter[str] = Counter()
    deadline = time.monotonic() + TIME_LIMIT_S
    for _ in range(ROUNDS):
        try:
            value = operation()
        except SandboxError as exc:
            seen[getattr(exc, "rule", type(exc).__name__)] += 1
        else:
            seen[value.decode() if isinstance(value, bytes) else "written"] += 1
        if time.monotonic() > deadline:
            break
    return seen


@pytest.mark.parametrize(
    "targets",
    [
        pytest.param(["file.txt", "../outside/file.txt"], id="relative-out"),
        pytest.param(["inside/file.txt", "{outside}/file.txt"], id="absolute-out"),
    ],
)
def test_file_symlink_swap_never_reads_outside(
    arena: Path,
    use_openat2: bool,
    flip: Callable[[str, list[str]], None],
    targets: list[str],
) -> None:
    """It never returns the canary while a file symlink flips between inside and outside."""
    outside = arena.parent / "outside"
    flip("flip", [t.format(outside=outside) for t in targets])
    with SafeFS(arena, SandboxPolicy(), _use_openat2=use_openat2) as fs:
        seen = _hammer(lambda: fs.read_bytes("flip"))
    assert CANARY not in seen
    assert set(seen) <= {"INSIDE", "symlink_escape", "not_found", "race"}, seen
    assert seen["INSIDE"] > 0


def test_directory_symlink_swap_never_reads_outside(
    arena: Path, use_openat2: bool, flip: Callable[[str, list[str]], None]
) -> None:
    """It never returns the canary while a directory symlink on the path flips."""
    flip("dir", ["inside", "../outside"])
    with SafeFS(arena, SandboxPolicy(), _use_openat2=use_openat2) as fs:
        seen = _hammer(lambda: fs.read_bytes("dir/file.txt"))
    assert CANARY not in seen
    assert seen["INSIDE"] > 0


def test_directory_symlink_swap_never_writes_outside(
    arena: Path, use_openat2: bool, flip: Callable[[str, list[str]], None]
) -> None:
    """It never creates or changes a file outside while the parent directory link flips."""
    outside = arena.parent / "outside"
    flip("dir", ["inside", "../outside", str(outside)])
    policy = SandboxPolicy(allow_writes=True)
    with SafeFS(arena, policy, _use_openat2=use_openat2) as fs:
        seen = _hammer(lambda: fs.write_bytes("dir/new.txt", b"PWNED"))
    assert sorted(os.listdir(outside)) == ["file.txt"]
    assert (outside / "file.txt").read_text() == CANARY
    assert seen["written"] > 0
    assert (arena / "inside" / "new.txt").read_bytes() == b"PWNED"


def _read_through_safe_open(arena: Path, path: str, use_openat2: bool) -> bytes:
    with safe_open(path, "rb", root=arena, _use_openat2=use_openat2) as f:
        data: bytes = f.read()
    return data


@pytest.mark.parametrize("path", ["flip", "dir/file.txt"], ids=["file-link", "dir-link"])
def test_safe_open_survives_the_symlink_swap(
    arena: Path, use_openat2: bool, flip: Callable[[str, list[str]], None], path: str
) -> None:
    """It never opens the canary with safe_open while a symlink on the path flips."""
    flip("flip", ["file.txt", "../outside/file.txt"])
    flip("dir", ["inside", "../outside"])
    seen = _hammer(lambda: _read_through_safe_open(arena, path, use_openat2))
    assert CANARY not in seen
    assert seen["INSIDE"] > 0


def _write_through_safe_open(arena: Path, use_openat2: bool) -> int:
    policy = SandboxPolicy(allow_writes=True)
    with safe_open("dir/new.txt", "wb", root=arena, policy=policy, _use_openat2=use_openat2) as f:
        return f.write(b"PWNED")


def test_safe_open_never_writes_outside_during_the_swap(
    arena: Path, use_openat2: bool, flip: Callable[[str, list[str]], None]
) -> None:
    """It never creates a file outside with safe_open while the parent directory link flips."""
    outside = arena.parent / "outside"
    flip("dir", ["inside", "../outside", str(outside)])
    seen = _hammer(lambda: _write_through_safe_open(arena, use_openat2))
    assert sorted(os.listdir(outside)) == ["file.txt"]
    assert (outside / "file.txt").read_text() == CANARY
    assert seen["written"] > 0
