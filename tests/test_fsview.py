"""The filesystem view (``fs_view``): what exists for a worker, enforced by the kernel.

Restricted mode is tested through a real ``WorkerBackend`` with RestrictedPython OFF. Python
mode (``language="python"``) is tested before that language exists in the policy: a test-only
policy subclass carries ``language="python"``, and a zygote (``prepare_zygote``) and a worker
(``lockdown_worker``) run in forked children exactly as the zygote runs them, every layer
required. Every attack calls the OS directly (``os.open``, ``os.stat``, ``os.link``, ``ctypes``
``open(2)``), not only ``open``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import glob
import json
import os
import pathlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY
from layers_support import run_in_child

from ai_sandbox.exceptions import IsolationUnavailable
from ai_sandbox.isolation import fsview, fsview_walk
from ai_sandbox.isolation.layers import (
    LAYER_NAMES,
    lockdown_worker,
    prepare_zygote,
    probe_layers,
)
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.policy import SandboxPolicy

pytestmark = pytest.mark.skipif(
    not probe_layers()["fs_view"].available,
    reason="the kernel offers no mount namespace here (fs_view unavailable)",
)

SECRET = "SECRET-d41c-covered"


class PythonModePolicy(SandboxPolicy):
    """Test-only: a policy carrying ``language="python"`` (the python helper adds the field)."""

    language: str = "python"


# -- helpers ---------------------------------------------------------------------------------
def _try(action: Callable[[], object]) -> list[Any]:
    """``["ok", value]`` or ``[exception type, errno name]``, JSON-able."""
    try:
        value = action()
    except OSError as exc:
        name = errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno else ""
        return [type(exc).__name__, name]
    except BaseException as exc:
        return [type(exc).__name__, str(exc)[:80]]
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        value = repr(value)
    return ["ok", value]


def read(path: str) -> str:
    """``read(path)``."""
    with open(path) as handle:
        return handle.read()


def write(path: str, mode: str = "w") -> int:
    """``open(path, mode).write("x")``."""
    with open(path, mode) as handle:
        return handle.write("x")


def c_open(path: str, flags: int = os.O_RDONLY) -> str:
    """``open(2)`` through ctypes, past anything Python could wrap."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.open(os.fsencode(path), flags, 0o644)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "open(2)")
    data = os.read(fd, 4096).decode("latin-1") if not flags & os.O_WRONLY else ""
    os.close(fd)
    return data


def c_stat_exists(path: str) -> bool:
    """``faccessat(2)`` through ctypes: does the path exist for this process?"""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.faccessat(-100, os.fsencode(path), 0, 0x200) != 0:  # F_OK, AT_EACCESS
        raise OSError(ctypes.get_errno(), "faccessat(2)")
    return True


def _in_worker(
    root: Path,
    attacks: dict[str, Callable[[], object]],
    *,
    policy: SandboxPolicy | None = None,
    between: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """A zygote (cwd = root) prepares the plan; a worker locks down and runs ``attacks``.

    ``between`` runs in the zygote after its view is built and before the worker forks; it
    gets a descriptor of the host's real root directory (the view shows it read-only).
    """
    chosen = policy or PythonModePolicy()

    def zygote() -> Any:
        os.chdir(root)
        real_root = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
        plan = prepare_zygote(chosen, required=frozenset(LAYER_NAMES))
        if between is not None:
            between(real_root)

        def worker(report_fd: int) -> Any:
            active = lockdown_worker(plan, keep_fds=(report_fd,))
            return {"active": list(active), **{k: _try(v) for k, v in attacks.items()}}

        return run_in_child(worker, pass_report_fd=True).value

    report = run_in_child(zygote).value
    assert isinstance(report, dict), report
    assert "child_error" not in report, report
    return report


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A root with data, deny-pattern entries and links; a secret beside it (outside)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(CANARY, encoding="utf-8")
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "sales.csv").write_text("region,amount\nnorth,3\nsouth,4\n")
    (root / "notes.json").write_text(json.dumps({"k": 1}))
    (root / ".env").write_text(f"OPENAI_API_KEY={SECRET}\n")
    (root / "data" / ".env.local").write_text(SECRET)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f"[remote]\nurl = https://{SECRET}@example.com\n")
    (root / "server.pem").write_text(SECRET)
    os.link(outside / "secret.txt", root / "linked.txt")  # a hard link to an outside file
    (root / "to_outside").symlink_to(outside / "secret.txt")
    (root / "to_passwd").symlink_to("/etc/passwd")
    (root / "to_env").symlink_to(".env")
    (root / "to_data").symlink_to("data")
    # The worker runs as nobody when the host is root: the root must be world-readable.
    for path in (tmp_path, root, root / "data"):
        path.chmod(0o755)
    return root


# -- restricted mode (today's default), through a real backend -------------------------------
@pytest.fixture(scope="module")
def unguarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WorkerBackend, Path]]:
    """A strict backend, RestrictedPython off, and a secret file outside its root."""
    base = tmp_path_factory.mktemp("view")
    (base / "project").mkdir()
    (base / "project" / "inside.txt").write_text("inside")
    (base / "secret.txt").write_text(CANARY, encoding="utf-8")
    backend = WorkerBackend(
        base / "project", SandboxPolicy(timeout_s=5.0, pool_size=1), _language_guard=False
    )
    yield backend, base
    backend.close()


RESTRICTED_PROBES = {
    "os.stat": "os.stat({p!r})",
    "os.lstat": "os.lstat({p!r})",
    "os.open": "os.open({p!r}, os.O_PATH)",
    # Listing may be refused (Landlock) or succeed, but never shows the name.
    "os.listdir-parent": (
        "if os.path.basename({p!r}) in os.listdir(os.path.dirname({p!r})):\n"
        "    raise RuntimeError('listed')\n"
        "raise FileNotFoundError(2, 'not listed')"
    ),
    "ctypes-faccessat": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.faccessat(-100, {p!r}.encode(), 0, 0x200) != 0:\n"
        "    raise OSError(ctypes.get_errno(), 'faccessat')"
    ),
    "ctypes-open": (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.open({p!r}.encode(), 0x200000) < 0:\n"  # O_PATH
        "    raise OSError(ctypes.get_errno(), 'open')"
    ),
}


@pytest.mark.parametrize("probe", sorted(RESTRICTED_PROBES))
@pytest.mark.parametrize("target", ["/etc/passwd", "/etc/shadow", "secret", "root", "/proc/1"])
def test_restricted_worker_cannot_see_host_paths(
    unguarded: tuple[WorkerBackend, Path], probe: str, target: str
) -> None:
    """It answers ENOENT for host paths outside the interpreter's files, however they are
    looked up (stat, lstat, O_PATH, listing the parent, faccessat and open(2) via ctypes)."""
    backend, base = unguarded
    path = {"secret": str(base / "secret.txt"), "root": str(base / "project" / "inside.txt")}
    chosen = path.get(target, target)
    code = "import os\n" + RESTRICTED_PROBES[probe].format(p=chosen) + "\nresult = 'seen'"
    result = backend.execute(code)
    assert result.status == "error", result
    assert result.error is not None
    allowed = ("FileNotFoundError", "PermissionError") if "listdir" in probe else ()
    assert result.error.type in ("FileNotFoundError", *allowed), result.error


@pytest.mark.parametrize(
    "path", ["/proc", "/sys", "/home", "/run", "/boot", "/tmp", "/var", "/dev/shm"]
)
def test_restricted_worker_sees_no_system_directories(
    unguarded: tuple[WorkerBackend, Path], path: str
) -> None:
    """It holds none of the host's system directories (only the interpreter's trees)."""
    backend, _ = unguarded
    granted = fsview.plan_view(SandboxPolicy(), "/").read_paths
    if any(Path(p).is_relative_to(path) for p in granted):
        pytest.skip(f"the interpreter itself lives beneath {path} here (the view must show it)")
    result = backend.execute(f"import os\nresult = os.path.lexists({path!r})")
    assert result.status == "ok", result
    assert result.result is False


def test_restricted_worker_view_is_read_only(unguarded: tuple[WorkerBackend, Path]) -> None:
    """It refuses creating anything in the view, so workers share no writable file."""
    backend, _ = unguarded
    code = "import os\nos.mkdir('/shared')\nresult = 'made'"
    result = backend.execute(code)
    assert result.status == "error", result
    assert result.error is not None
    assert result.error.type in ("PermissionError", "OSError")


def test_restricted_worker_still_imports_and_runs(unguarded: tuple[WorkerBackend, Path]) -> None:
    """It leaves the interpreter's own files readable: imports work inside the view."""
    backend, _ = unguarded
    result = backend.execute("import json, os\nresult = len(open(os.__file__).read()) > 0")
    assert result.status == "ok", result
    assert result.result is True


def test_restricted_sandbox_reports_the_view_layer(tmp_path: Path) -> None:
    """It lists fs_view among the active layers of a default strict backend."""
    backend = WorkerBackend(tmp_path, SandboxPolicy(pool_size=0))
    try:
        assert "fs_view" in backend.layers
        assert "fs_view" in backend.required
    finally:
        backend.close()


# -- python mode: reads beneath the root ------------------------------------------------------
def test_python_mode_reads_the_root_with_ordinary_file_apis(project: Path) -> None:
    """It lets open, pathlib, os.listdir/scandir/stat, glob, json and shutil.copyfile read
    beneath the root, with relative paths resolving against the root."""
    report = _in_worker(
        project,
        {
            "cwd": os.getcwd,
            "open": lambda: read("data/sales.csv"),
            "pathlib": lambda: pathlib.Path("notes.json").read_text(),
            "absolute": lambda: read(str(project / "notes.json")),
            "listdir": lambda: sorted(os.listdir("data")),
            "scandir": lambda: sorted(e.name for e in os.scandir(".") if e.is_file()),
            "stat": lambda: os.stat("data/sales.csv").st_size,
            "glob": lambda: sorted(glob.glob("data/*.csv")),
            "json": lambda: json.loads(pathlib.Path("notes.json").read_bytes()),
            # copyfile: shutil.copy also copies the mode, which seccomp refuses (chmod).
            "copy-to-tmp": lambda: read(
                shutil.copyfile("data/sales.csv", os.path.join(tempfile.gettempdir(), "c.csv"))
            ),
            "inner-symlink": lambda: read("to_data/sales.csv"),
            "os.open": lambda: os.read(os.open("notes.json", os.O_RDONLY), 100).decode(),
            "ctypes-open": lambda: c_open("notes.json"),
            "localtime": lambda: len(pathlib.Path("/etc/localtime").read_bytes()) > 0,
        },
    )
    csv = "region,amount\nnorth,3\nsouth,4\n"
    assert report["active"] == list(LAYER_NAMES)
    assert report["cwd"] == ["ok", str(project)]
    assert report["open"] == ["ok", csv]
    assert report["pathlib"] == report["absolute"] == ["ok", '{"k": 1}']
    assert report["listdir"] == ["ok", [".env.local", "sales.csv"]]
    assert report["stat"] == ["ok", len(csv)]
    assert report["glob"] == ["ok", ["data/sales.csv"]]
    assert report["json"] == ["ok", {"k": 1}]
    assert report["copy-to-tmp"] == report["inner-symlink"] == ["ok", csv]
    assert report["os.open"] == report["ctypes-open"] == ["ok", '{"k": 1}']
    assert report["localtime"] == ["ok", os.path.exists("/etc/localtime")]


DENIED = {
    "open(.env)": lambda: read(".env"),
    "os.open(.env)": lambda: os.read(os.open(".env", os.O_RDONLY), 100),
    "ctypes-open(.env)": lambda: c_open(".env"),
    "nested .env.local": lambda: read("data/.env.local"),
    "*.pem": lambda: c_open("server.pem"),
    ".git/config": lambda: read(".git/config"),
    "ctypes-open(.git/config)": lambda: c_open(".git/config"),
    "listdir(.git)": lambda: os.listdir(".git"),
    "symlink to .env": lambda: read("to_env"),
    "hard link to outside": lambda: read("linked.txt"),
    "ctypes hard link": lambda: c_open("linked.txt"),
}


@pytest.mark.parametrize("attack", sorted(DENIED))
def test_python_mode_refuses_deny_pattern_entries_and_outside_hard_links(
    project: Path, attack: str
) -> None:
    """It covers deny-pattern entries and hard-linked files: nothing of them is readable."""
    report = _in_worker(
        project, {"attack": DENIED[attack], "size": lambda: os.stat(".env").st_size}
    )
    assert report["attack"][0] in ("PermissionError", "FileNotFoundError"), report
    assert SECRET not in json.dumps(report)
    assert CANARY not in json.dumps(report)
    assert report["size"] == ["ok", 0]


def test_python_mode_allows_hard_links_when_the_policy_does(project: Path) -> None:
    """It leaves a hard-linked file readable when allow_hardlinks is set."""
    policy = PythonModePolicy(allow_hardlinks=True)
    report = _in_worker(project, {"read": lambda: read("linked.txt")}, policy=policy)
    assert report["read"] == ["ok", CANARY]


def test_python_mode_covers_entries_created_after_the_zygote_started(project: Path) -> None:
    """It re-reads changed directories per worker: entries made after the zygote's first walk
    (a .env, a key, a new hard link) are covered too."""

    def later(real_root: int) -> None:
        for name in (".env.production", "data/id.key"):
            fd = os.open(name, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=real_root)
            os.write(fd, SECRET.encode())
            os.close(fd)
        os.link("notes.json", "data/notes-again.json", src_dir_fd=real_root, dst_dir_fd=real_root)

    report = _in_worker(
        project,
        {
            "new .env": lambda: read(".env.production"),
            "new key": lambda: c_open("data/id.key"),
            "new hard link": lambda: c_open("data/notes-again.json"),
            "unchanged": lambda: read("data/sales.csv"),
        },
        between=later,
    )
    assert report["new .env"][0] == "PermissionError"
    assert report["new key"][0] == "PermissionError"
    assert report["new hard link"][0] == "PermissionError"
    assert report["unchanged"][0] == "ok"


OUTSIDE = {
    "symlink to an outside file": lambda: read("to_outside"),
    "symlink to /etc/passwd": lambda: read("to_passwd"),
    "ctypes /etc/shadow": lambda: c_open("/etc/shadow"),
    "stat /etc/passwd": lambda: os.stat("/etc/passwd"),
    "faccessat /etc": lambda: c_stat_exists("/etc/hostname"),
    "stat the parent's secret": lambda: os.stat("../outside/secret.txt"),
    "open the parent's secret": lambda: c_open("../outside/secret.txt"),
    "/proc": lambda: os.listdir("/proc"),
    "/home": lambda: os.stat("/home"),
}


@pytest.mark.parametrize("attack", sorted(OUTSIDE))
def test_python_mode_sees_nothing_outside_the_root(project: Path, attack: str) -> None:
    """It answers ENOENT for host paths outside the root, directly or through symlinks."""
    report = _in_worker(project, {"attack": OUTSIDE[attack]})
    assert report["attack"] == ["FileNotFoundError", "ENOENT"], report


# -- python mode: writes ----------------------------------------------------------------------
WRITES = {
    "open(w) new file": lambda: write("new.txt"),
    "os.open O_CREAT": lambda: os.open("new.txt", os.O_CREAT | os.O_WRONLY, 0o644),
    "ctypes open O_CREAT": lambda: c_open("new.txt", os.O_CREAT | os.O_WRONLY),
    "truncate existing": lambda: write("notes.json"),
    "append existing": lambda: os.open("notes.json", os.O_WRONLY | os.O_APPEND),
    "unlink": lambda: os.unlink("notes.json"),
    "rename": lambda: os.rename("notes.json", "moved.json"),
    "mkdir": lambda: os.mkdir("newdir"),
    "symlink": lambda: os.symlink("/etc/passwd", "evil"),
    "hard link": lambda: os.link("notes.json", "again.json"),
    "write into a cover": lambda: write(".env"),
    "outside: /": lambda: os.mkdir("/owned"),
    "outside: interpreter": lambda: write(os.path.join(os.path.dirname(os.__file__), "x")),
}


#: Writes that succeed with allow_writes, in the worker's private overlay (never on the disk).
OVERLAY_WRITES = frozenset(
    {
        "open(w) new file",
        "os.open O_CREAT",
        "ctypes open O_CREAT",
        "mkdir",
        "rename",
        "unlink",
        "truncate existing",
        "append existing",
        "hard link",
    }
)


@pytest.mark.parametrize("allow_writes", [False, True], ids=["read-only", "allow_writes"])
@pytest.mark.parametrize("attack", sorted(WRITES))
def test_python_mode_refuses_writes_beneath_the_root_and_outside(
    project: Path, attack: str, allow_writes: bool
) -> None:
    """It refuses every kind of write to the root (a read-only mount) and outside it; with
    allow_writes, changes to ordinary entries of the root land in the worker's private overlay
    only (the host applies them after a run: tests/test_python_writes.py), while symbolic
    links, covers and everything outside stay refused."""
    before = sorted(p.name for p in project.iterdir())
    policy = PythonModePolicy(allow_writes=allow_writes)
    report = _in_worker(project, {"attack": WRITES[attack]}, policy=policy)
    if not (allow_writes and attack in OVERLAY_WRITES):
        assert report["attack"][0] in ("OSError", "PermissionError"), report
        assert report["attack"][1] in ("EROFS", "EACCES", "EPERM"), report
    assert sorted(p.name for p in project.iterdir()) == before
    assert (project / "notes.json").read_text() == '{"k": 1}'


def test_python_mode_has_a_private_size_capped_tmp(project: Path) -> None:
    """It gives each worker its own /tmp: writable, capped in size, unseen by the next one."""

    def fill() -> int:
        written = 0
        with open(os.path.join(tempfile.gettempdir(), "big"), "wb") as handle:
            for _ in range(fsview.TMP_BYTES // (1 << 20) + 2):
                handle.write(b"x" * (1 << 20))
                written += 1 << 20
        return written

    policy = PythonModePolicy(max_file_bytes=1024 * 1024 * 1024)
    first = _in_worker(
        project,
        {
            "write": lambda: pathlib.Path(tempfile.gettempdir(), "note").write_text("left behind"),
            "fill": fill,
        },
        policy=policy,
    )
    assert first["write"] == ["ok", len("left behind")]
    assert first["fill"] == ["OSError", "ENOSPC"]
    second = _in_worker(
        project, {"read": lambda: pathlib.Path(tempfile.gettempdir(), "note").read_text()}
    )
    assert second["read"] == ["FileNotFoundError", "ENOENT"]


def test_python_mode_holds_a_tmp_file_to_max_file_bytes(project: Path) -> None:
    """It stops a single file at max_file_bytes (RLIMIT_FSIZE) even in the private /tmp."""
    policy = PythonModePolicy(max_file_bytes=1000)
    report = _in_worker(
        project,
        {"big": lambda: pathlib.Path(tempfile.gettempdir(), "f").write_bytes(b"x" * 5000)},
        policy=policy,
    )
    assert report["big"] == ["OSError", "EFBIG"]


# -- the walk's bounds and failing closed -----------------------------------------------------
def test_python_mode_refuses_a_root_past_the_walk_bound(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It refuses to start python mode when the root has more entries than the walk may visit
    (fail closed, naming fs_view)."""
    monkeypatch.setattr(fsview_walk, "MAX_VIEW_ENTRIES", 5)

    def zygote() -> Any:
        os.chdir(project)
        try:
            plan = prepare_zygote(PythonModePolicy(), required=frozenset(LAYER_NAMES))
        except IsolationUnavailable as exc:  # the zygote's first walk, at start
            return {"refused": exc.layer, "message": str(exc)}

        def worker(report_fd: int) -> Any:
            try:
                lockdown_worker(plan, keep_fds=(report_fd,))
            except IsolationUnavailable as exc:
                return {"refused": exc.layer, "message": str(exc)}
            return {"refused": None}

        return run_in_child(worker, pass_report_fd=True).value

    report = run_in_child(zygote).value
    assert report["refused"] == "fs_view", report
    assert "more than 5 entries" in report["message"]


def _prepare_with_a_second_thread(policy: SandboxPolicy) -> Any:
    def zygote() -> Any:
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
        try:
            plan = prepare_zygote(policy, required=frozenset())
        except IsolationUnavailable as exc:
            return {"refused": exc.layer}
        finally:
            stop.set()
        return {"layers": list(plan.layers)}

    return run_in_child(zygote).value


def test_python_mode_cannot_go_without_the_view() -> None:
    """It refuses python mode when the view cannot be built, whatever layers are required."""
    assert _prepare_with_a_second_thread(PythonModePolicy()) == {"refused": "fs_view"}


def test_restricted_mode_may_go_without_the_view_when_not_required() -> None:
    """It leaves fs_view out (and says so) in restricted mode when it is not required."""
    report = _prepare_with_a_second_thread(SandboxPolicy())
    assert "fs_view" not in report["layers"]


# -- planning ---------------------------------------------------------------------------------
def test_view_mode_reads_the_language_and_defaults_to_restricted() -> None:
    """It picks the python view only for language='python'; anything else gets the empty one."""
    assert fsview.view_mode(SandboxPolicy()) == "restricted"
    assert fsview.view_mode(PythonModePolicy()) == "python"
    assert fsview.view_mode(PythonModePolicy(language="perl")) == "restricted"


def test_the_view_binds_what_landlock_grants(tmp_path: Path) -> None:
    """It binds the same interpreter paths Landlock grants, and python's data paths only in
    python mode."""
    from ai_sandbox.isolation import landlock

    restricted = fsview.plan_view(SandboxPolicy(), tmp_path)
    python = fsview.plan_view(PythonModePolicy(), tmp_path)
    granted = {*landlock.interpreter_read_paths(), *landlock.system_library_paths()}
    assert set(restricted.read_paths) == granted
    assert set(python.read_paths) == granted | set(fsview.python_read_paths())
    assert python.tmp_dir == "/var/tmp" if str(tmp_path).startswith("/tmp/") else "/tmp"


def test_an_editable_flat_layout_grants_its_packages_not_the_project(tmp_path: Path) -> None:
    """It grants a flat-layout editable install's packages and modules, never the project
    directory holding them (its .env stays out of the view)."""
    project = tmp_path / "flat"
    (project / "mypkg").mkdir(parents=True)
    (project / "mypkg" / "__init__.py").write_text("")
    (project / "tool.py").write_text("")
    (project / ".env").write_text(SECRET)
    (project / "data").mkdir()
    (project / "data" / "big.csv").write_text("a\n")
    granted = fsview._importable_entries(str(project))
    assert granted == [str(project / "mypkg"), str(project / "tool.py")]


def test_the_walk_skips_the_interpreters_trees_inside_the_root(tmp_path: Path) -> None:
    """It does not walk (or cover) an interpreter tree inside the root, such as a project's
    .venv site-packages: those files are readable as a whole, like outside the root."""
    site = tmp_path / ".venv" / "lib" / "site-packages"
    (site / "certifi").mkdir(parents=True)
    (site / "certifi" / "cacert.pem").write_text("certificates")
    (tmp_path / "id.key").write_text(SECRET)
    plan = fsview.plan_view(PythonModePolicy(), tmp_path)
    plan = dataclasses.replace(plan, read_paths=(*plan.read_paths, str(site.resolve())))
    assert fsview.covered_entries(plan) == [("id.key", False)]
