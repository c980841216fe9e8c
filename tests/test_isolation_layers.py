"""The OS layers alone contain the code: every test here switches RestrictedPython OFF.

The worker runs plain Python with the real builtins (``_language_guard=False``, a test-only
switch no policy can reach), so whatever is stopped here is stopped by the kernel: Landlock,
seccomp, the network namespace, rlimits, the uid drop and the clean start.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import CANARY

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.exceptions import IsolationUnavailable
from ai_sandbox.isolation.layers import LAYER_NAMES
from ai_sandbox.isolation.protocol import wait_readable
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.isolation.zygote_client import ZygoteInfo, _unavailable

POLICY = SandboxPolicy(timeout_s=2.0, pool_size=1)


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory beside the root, holding a canary secret."""
    base = tmp_path_factory.mktemp("layers")
    (base / "project").mkdir()
    (base / "secret.txt").write_text(CANARY, encoding="utf-8")
    return base


@pytest.fixture(scope="module", params=["restricted-unguarded", "python"])
def unguarded(outside: Path, request: pytest.FixtureRequest) -> Iterator[WorkerBackend]:
    """A strict backend whose workers run plain Python: RestrictedPython switched off, or
    language="python" (arbitrary code by design); either way only the OS layers hold it."""
    if request.param == "python":
        backend = WorkerBackend(
            outside / "project", POLICY.model_copy(update={"language": "python"})
        )
    else:
        backend = WorkerBackend(outside / "project", POLICY, _language_guard=False)
    yield backend
    backend.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on loopback in the host's network namespace."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


def _no_connection_arrived(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return True
    return False


def test_default_sandbox_reports_every_layer_active(tmp_path: Path) -> None:
    """It reports every kernel layer active for the default Sandbox on this machine."""
    with Sandbox(tmp_path) as sandbox:
        result = sandbox.run("result = 1")
        layers = sandbox.layers
    expected = (*LAYER_NAMES, "wall_clock_kill", "restricted_python")
    assert layers == expected
    assert result.layers == expected
    assert result.isolation == "strict"


def test_the_guard_switch_is_reported(unguarded: WorkerBackend) -> None:
    """It leaves restricted_python out of the layers when the language guard is off."""
    assert "restricted_python" not in unguarded.layers
    assert unguarded.execute("result = 1").layers == unguarded.layers


ESCAPES = [
    ("read-etc-passwd", "result = open('/etc/passwd').read()"),
    ("read-proc-environ", "result = open('/proc/1/environ', 'rb').read().decode()"),
    ("list-root-fs", "import os\nresult = os.listdir('/')"),
    ("fork", "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nresult = pid"),
    ("exec", "import os\nos.execv('/bin/sh', ['sh', '-c', 'true'])"),
    ("subprocess", "import subprocess\nresult = subprocess.run(['true']).returncode"),
    ("thread", "import _thread\nresult = _thread.start_new_thread(print, ())"),
    ("raw-socket", "import socket\nresult = socket.socket().fileno()"),
    ("unix-socketpair", "import socket\nresult = len(socket.socketpair())"),
    ("unshare", "import os\nos.unshare(os.CLONE_NEWUSER)" if hasattr(os, "unshare") else "1/0"),
    ("setuid-root", "import os\nos.setuid(0)\nresult = os.getuid()"),
    ("chdir-and-read", "import os\nos.chdir('/etc')\nresult = open('hostname').read()"),
]


@pytest.mark.parametrize("code", [code for _, code in ESCAPES], ids=[i for i, _ in ESCAPES])
def test_the_os_refuses(unguarded: WorkerBackend, code: str) -> None:
    """It stops each escape with an OS-level refusal, RestrictedPython being off."""
    result = unguarded.execute(code)
    assert result.status != "ok", result


def test_cannot_read_a_canary_outside_the_root(unguarded: WorkerBackend, outside: Path) -> None:
    """It keeps a file beside the root unreadable, by absolute and by relative path."""
    for path in (str(outside / "secret.txt"), "../secret.txt"):
        result = unguarded.execute(f"result = open({path!r}).read()")
        assert result.status == "error"
        assert CANARY not in repr(result)


def test_cannot_write_outside_the_root(unguarded: WorkerBackend, outside: Path) -> None:
    """It refuses to create a file beside the root or in /tmp."""
    for target in (outside / "owned.txt", Path("/tmp") / f"owned-{os.getpid()}.txt"):
        result = unguarded.execute(f"open({str(target)!r}, 'w').write('owned')")
        assert result.status == "error"
        assert not target.exists()


def test_cannot_write_inside_the_root_directly(unguarded: WorkerBackend, outside: Path) -> None:
    """It refuses direct writes beneath the root too: only the host's broker writes files."""
    result = unguarded.execute("open('planted.txt', 'w').write('x')")
    assert result.status == "error"
    assert not (outside / "project" / "planted.txt").exists()


@pytest.fixture
def owned_by_the_sandbox_uid() -> Iterator[Path]:
    """A file outside any root that the worker's uid owns, in a directory it can traverse.

    Landlock does not govern modes, owners, times or xattrs: only the seccomp filter stands
    between such a file (on a non-root host: every file of the user) and the worker."""
    base = Path(tempfile.mkdtemp(prefix="ai-sandbox-owned-"))
    try:
        base.chmod(0o755)
        target = base / "owned.txt"
        target.write_text("x")
        os.chown(target, 65534, 65534)
        target.chmod(0o600)
        yield target
    finally:
        shutil.rmtree(base)


@pytest.mark.parametrize(
    "change",
    [
        "os.chmod(PATH, 0o666)",
        "os.chown(PATH, -1, -1)",
        "os.utime(PATH, (0, 0))",
        "os.setxattr(PATH, 'user.planted', b'x')",
    ],
    ids=["chmod", "chown", "utime", "setxattr"],
)
def test_cannot_change_the_metadata_of_its_own_files_outside_the_root(
    unguarded: WorkerBackend, owned_by_the_sandbox_uid: Path, change: str
) -> None:
    """It refuses mode, owner, time and xattr changes to a file its uid owns outside the root:
    seccomp refuses them (EPERM); in python mode, whose view lets chmod and utime through to
    its own private files, the view has no such file at all (ENOENT)."""
    target = owned_by_the_sandbox_uid
    before = os.stat(target)
    result = unguarded.execute(f"import os\nPATH = {str(target)!r}\n{change}\nresult = 'changed'")
    assert result.status == "error", result
    assert result.error is not None
    python_mode = unguarded._policy.language == "python"
    allowed_by_seccomp = python_mode and change.startswith(("os.chmod", "os.utime"))
    expected = "FileNotFoundError" if allowed_by_seccomp else "PermissionError"
    assert result.error.type == expected
    after = os.stat(target)
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)
    assert os.listxattr(target) == []


def test_cannot_watch_files_outside_the_root(unguarded: WorkerBackend) -> None:
    """It refuses an inotify watch, which would show the host's file activity in /tmp."""
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "result = [libc.inotify_init1(0), ctypes.get_errno()]"
    )
    result = unguarded.execute(code)
    assert result.status == "ok", result
    assert result.result == [-1, errno.EPERM]


def test_cannot_hoard_memory_in_a_memfd(unguarded: WorkerBackend) -> None:
    """It refuses memfd_create: shared memory that the address-space limit does not count."""
    result = unguarded.execute("import os\nresult = os.memfd_create('hoard')")
    assert result.status == "error", result
    assert result.error is not None
    assert result.error.type == "PermissionError"


def test_cannot_reach_a_loopback_listener(
    unguarded: WorkerBackend, listener: socket.socket
) -> None:
    """It keeps socket.create_connection from reaching a listener on the host's loopback."""
    port = listener.getsockname()[1]
    result = unguarded.execute(
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)"
    )
    assert result.status == "error"
    assert _no_connection_arrived(listener)


def test_cannot_read_the_hosts_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """It starts workers with an empty environment: a host secret is nowhere to be found."""
    monkeypatch.setenv("AI_SANDBOX_TEST_CANARY", CANARY)
    backend = WorkerBackend(tmp_path, POLICY, _language_guard=False)
    try:
        result = backend.execute("import os\nresult = dict(os.environ)")
        proc = backend.execute("result = open('/proc/self/environ', 'rb').read().decode()")
    finally:
        backend.close()
    assert result.status == "ok"
    assert result.result == {}
    assert CANARY not in repr(proc)


def test_cannot_signal_the_host(unguarded: WorkerBackend) -> None:
    """It stops a worker from signalling the host process (Landlock scope, uid drop)."""
    result = unguarded.execute(
        "import os, signal\nos.kill(host, signal.SIGTERM)", {"host": os.getpid()}
    )
    assert result.status == "error"


def test_runs_as_an_unprivileged_user(unguarded: WorkerBackend) -> None:
    """It runs the code as an unprivileged uid, even though the host is root."""
    result = unguarded.execute("import os\nresult = [os.getuid(), os.geteuid(), os.getgid()]")
    assert result.status == "ok"
    assert 0 not in result.result


def test_sees_only_its_channel(unguarded: WorkerBackend) -> None:
    """It leaves the worker no inherited descriptor beyond its channel."""
    code = (
        "import os\nresult = []\n"
        "for fd in range(64):\n"
        "    try:\n        os.fstat(fd)\n    except OSError:\n        continue\n"
        "    result.append(fd)\n"
    )
    result = unguarded.execute(code)
    assert result.status == "ok"
    assert len([fd for fd in result.result if fd > 2]) == 1


def test_a_fork_bomb_goes_nowhere(unguarded: WorkerBackend) -> None:
    """It stops a fork bomb at the first fork, leaving no stray processes."""
    result = unguarded.execute("import os\nwhile True:\n    os.fork()")
    assert result.status != "ok"
    strays = _stray_sandbox_processes()
    assert strays == [], [_describe(pid) for pid in strays]


def test_worker_dies_with_its_zygote(tmp_path: Path) -> None:
    """It kills waiting workers when their parent (the zygote) dies (pdeathsig)."""
    backend = WorkerBackend(tmp_path, POLICY, _language_guard=False)
    try:
        worker = backend._pool.take()
        os.kill(backend._zygote.pid, signal.SIGKILL)
        died = wait_readable(worker.pidfd, 2.0)
        worker.close()
    finally:
        backend.close()
    assert died, "a worker outlived its zygote: PR_SET_PDEATHSIG is not in force"


def _stray_sandbox_processes() -> list[int]:
    """Processes running as the sandbox uid that no zygote started: a worker's own children.

    Pool workers are children of a zygote (a python-mode zygote runs as the host's uid; a
    restricted-mode one locks itself down to the sandbox uid, as its workers); anything running
    as the sandbox uid whose parent is a sandbox process other than a zygote (or that was
    orphaned to pid 1) escaped the worker. Other tests' processes do not count, so this stays
    exact when the machine is busy.
    """
    time.sleep(0.2)  # let exits settle
    # As root, workers drop to nobody; any other host user's workers keep its uid, and so does
    # the zygote: then a stray is told apart by its ancestry (a worker, a zygote's child, above).
    sandbox_uid = 65534 if os.geteuid() == 0 else os.geteuid()

    def status(pid: str) -> tuple[int, int] | None:
        try:
            fields = dict(
                line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            )
        except (OSError, ValueError):
            return None
        if fields["State"].strip().startswith(("Z", "X")):
            # Dead and waiting to be reaped (a worker of a zygote another test killed, reparented
            # to a pid 1 that reaps late): it runs nothing and holds nothing but its pid.
            return None
        return int(fields["Uid"].split()[0]), int(fields["PPid"])

    strays = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        info = status(name)
        if info is None or info[0] != sandbox_uid:
            continue
        parent = status(str(info[1]))
        root_stray = (
            os.geteuid() == 0
            and parent is not None
            and parent[0] == sandbox_uid
            and not _is_a_zygote(info[1], status)
        )
        orphan = info[1] == 1 and (os.geteuid() == 0 or _forked_from_a_zygote(name))
        if orphan or root_stray or _below_a_worker(info[1], status):
            strays.append(int(name))
    return strays


def _describe(pid: int) -> str:
    """A stray's pid, parent, uid and command line, for the failure message."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
    except OSError:
        return f"{pid}: gone"
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return f"{pid}: ppid {fields['PPid'].strip()} uid {fields['Uid'].split()[0]} {command!r}"


def _forked_from_a_zygote(pid: str) -> bool:
    """Whether ``pid`` runs the zygote's command line (a zygote, a worker or a worker's fork)."""
    try:
        return b"ai_sandbox.isolation.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _is_a_zygote(pid: int, status: Callable[[str], tuple[int, int] | None]) -> bool:
    """Whether ``pid`` is a zygote: it runs the zygote's command line and its parent does not
    (a worker, or a worker's fork, has a parent that does)."""
    info = status(str(pid))
    return (
        info is not None
        and _forked_from_a_zygote(str(pid))
        and not _forked_from_a_zygote(str(info[1]))
    )


def _below_a_worker(pid: int, status: Callable[[str], tuple[int, int] | None]) -> bool:
    """Whether ``pid`` or one of its ancestors is a worker (a child of a zygote)."""
    seen = 0
    while pid > 1 and pid != os.getpid() and seen < 64:
        info = status(str(pid))
        if info is None:
            return False
        if _forked_from_a_zygote(str(info[1])):
            return True
        pid, seen = info[1], seen + 1
    return False


def test_a_worker_missing_a_required_layer_is_refused(tmp_path: Path) -> None:
    """It refuses (fails closed) a worker that does not hold every required layer."""
    backend = WorkerBackend(tmp_path, POLICY)
    try:
        info = backend._zygote.info
        backend._zygote.info = ZygoteInfo(info.required | {"imaginary_layer"}, info.probe)
        with pytest.raises(IsolationUnavailable, match="imaginary_layer") as caught:
            backend._zygote.spawn()
    finally:
        backend.close()
    assert caught.value.layer == "imaginary_layer"
    assert 'isolation="process"' in str(caught.value)


def test_an_unavailable_layer_keeps_its_detail() -> None:
    """It rebuilds the zygote's IsolationUnavailable in the host with the same layer and detail."""
    original = IsolationUnavailable("seccomp", "the kernel lacks seccomp")
    rebuilt = _unavailable("seccomp", str(original))
    assert rebuilt.layer == "seccomp"
    assert str(rebuilt) == str(original)


def test_python_mode_cannot_read_the_hosts_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It starts python-mode workers without the host's environment: only the thread caps the
    worker sets for native libraries are there, no host secret."""
    from ai_sandbox.executor.python_mode import THREAD_ENVIRONMENT

    monkeypatch.setenv("AI_SANDBOX_TEST_CANARY", CANARY)
    backend = WorkerBackend(tmp_path, POLICY.model_copy(update={"language": "python"}))
    try:
        result = backend.execute("import os\nresult = dict(os.environ)")
        proc = backend.execute("result = open('/proc/self/environ', 'rb').read().decode()")
    finally:
        backend.close()
    assert result.status == "ok"
    assert result.result == THREAD_ENVIRONMENT
    assert CANARY not in repr(proc)
