"""Landlock alone: a worker reads only the interpreter's files, reaches no TCP port, signals no one.

Each test forks a child that applies the worker ruleset (``no_new_privs`` first, as a worker
does) and then attacks with plain Python. The tests run as root, so file permissions would
allow every attack: only Landlock stands in the way.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from layers_support import outcome, run_in_child

from ai_sandbox.isolation import landlock, privileges

ABI = landlock.abi_version()
pytestmark = pytest.mark.skipif(ABI < 1, reason="the kernel lacks Landlock (or it is disabled)")


def _restricted(attack: Callable[[], object]) -> Callable[[], str]:
    def body() -> str:
        privileges.set_no_new_privs()
        ruleset = landlock.create_ruleset(
            landlock.interpreter_read_paths(), library_paths=landlock.system_library_paths()
        )
        landlock.restrict_self(ruleset)
        return outcome(attack)

    return body


def _attempt(attack: Callable[[], object]) -> str:
    report = run_in_child(_restricted(attack))
    assert isinstance(report.value, str), report
    return str(report.value)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on loopback in the test process."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def _unimported(candidates: tuple[str, ...]) -> str:
    for name in candidates:
        if name not in sys.modules:
            return name
    raise AssertionError(f"every candidate module is already imported: {candidates}")


def test_it_refuses_to_read_etc_passwd() -> None:
    """It refuses to read /etc/passwd."""
    assert _attempt(lambda: Path("/etc/passwd").read_bytes()) == "PermissionError:EACCES"


def test_it_refuses_to_read_a_canary_outside_the_allowed_dirs(canary: Path) -> None:
    """It refuses to read a canary file outside the interpreter's directories."""
    assert _attempt(canary.read_text) == "PermissionError:EACCES"


@pytest.mark.parametrize(
    "directory",
    [pytest.param("tmp", id="test-tmp-dir"), pytest.param("/usr/lib", id="library-dir")],
)
def test_it_refuses_to_list_a_directory_outside_the_allowed_dirs(
    directory: str, tmp_path: Path
) -> None:
    """It refuses to list a directory outside the interpreter's (library dirs: read-only files)."""
    path = tmp_path if directory == "tmp" else Path(directory)
    assert _attempt(lambda: os.listdir(path)) == "PermissionError:EACCES"


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("tmp", id="test-tmp-dir"),
        pytest.param("/tmp", id="slash-tmp"),
        pytest.param("/dev/shm", id="dev-shm"),
        pytest.param(sysconfig.get_path("stdlib"), id="readable-stdlib-dir"),
    ],
)
def test_it_refuses_to_create_a_file_anywhere(where: str, tmp_path: Path) -> None:
    """It refuses to create a file anywhere, even beneath a readable directory."""
    directory = tmp_path if where == "tmp" else Path(where)
    if not directory.is_dir():
        pytest.skip(f"{directory} does not exist on this machine")
    target = directory / f"ai-sandbox-landlock-{os.getpid()}.txt"
    try:
        assert _attempt(lambda: target.write_text("x")) == "PermissionError:EACCES"
    finally:
        target.unlink(missing_ok=True)


def test_it_refuses_to_change_an_existing_file(canary: Path) -> None:
    """It refuses to open an existing file for writing."""
    assert _attempt(lambda: canary.open("a")) == "PermissionError:EACCES"
    assert canary.read_text().startswith("CANARY")


def test_it_refuses_to_execute_a_program() -> None:
    """It refuses to execute a program, even one beneath a readable directory."""
    assert _attempt(lambda: subprocess.run([sys.executable, "-c", "pass"], check=False)) in {
        "PermissionError:EACCES",
        "PermissionError:EPERM",
    }


@pytest.mark.parametrize(
    "candidates",
    [
        pytest.param(("colorsys", "wave", "tabnanny", "netrc", "graphlib"), id="pure-python"),
        pytest.param(("_bz2", "_lzma", "_csv", "_sqlite3", "_curses"), id="extension-module"),
    ],
)
def test_it_still_imports_a_stdlib_module_not_imported_before(candidates: tuple[str, ...]) -> None:
    """It still imports a standard-library module nobody imported before the restriction."""
    name = _unimported(candidates)
    assert _attempt(lambda: __import__(name)) == "ok"


@pytest.mark.skipif(ABI < 4, reason="the kernel's Landlock ABI < 4 has no TCP rules")
def test_it_refuses_to_connect_to_a_loopback_listener(listener: socket.socket) -> None:
    """It refuses a TCP connection to a listener the test runs on loopback."""
    address = listener.getsockname()
    result = _attempt(lambda: socket.create_connection(address, timeout=2).close())
    assert result == "PermissionError:EACCES"


@pytest.mark.skipif(ABI < 4, reason="the kernel's Landlock ABI < 4 has no TCP rules")
def test_it_refuses_to_bind_a_tcp_port() -> None:
    """It refuses to bind a TCP port (no server inside the sandbox)."""
    result = _attempt(lambda: socket.create_server(("127.0.0.1", 0)).close())
    assert result == "PermissionError:EACCES"


@pytest.mark.skipif(ABI < 6, reason="the kernel's Landlock ABI < 6 has no scoping")
def test_it_refuses_to_signal_the_parent() -> None:
    """It refuses to signal a process outside its domain (the test process)."""
    parent = os.getpid()
    assert _attempt(lambda: os.kill(parent, 0)) == "PermissionError:EPERM"


@pytest.mark.skipif(ABI < 6, reason="the kernel's Landlock ABI < 6 has no scoping")
def test_it_refuses_to_reach_an_abstract_unix_socket_outside() -> None:
    """It refuses to connect to an abstract unix socket the test process listens on."""
    address = f"\0ai-sandbox-landlock-{os.getpid()}"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(address)
        server.listen()

        def connect() -> None:
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(address)

        assert _attempt(connect) == "PermissionError:EPERM"


@pytest.mark.skipif(ABI < 6, reason="the kernel's Landlock ABI < 6 has no scoping")
def test_it_still_signals_itself() -> None:
    """It still lets the worker signal itself (its own domain)."""
    assert _attempt(lambda: os.kill(os.getpid(), 0)) == "ok"


def test_the_read_paths_leave_out_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It leaves the current directory and unrelated sys.path entries out of the read rules."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["", str(tmp_path), *sys.path])
    paths = landlock.interpreter_read_paths()
    assert str(tmp_path) not in paths
    assert sysconfig.get_path("stdlib") in paths
