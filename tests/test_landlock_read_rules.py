"""What a worker may read: the package itself and the interpreter's real paths, nothing wider.

The end-to-end test installs ai_sandbox the way a flat-layout or vendored application does (the
package directory beside the application's own files, a ``.env`` among them), starts a real host
process on that install, and attacks from a guard-off worker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CANARY

import ai_sandbox
from ai_sandbox.isolation import landlock
from ai_sandbox.isolation.read_rules import plan_read_rules, too_wide

PACKAGE = Path(ai_sandbox.__file__).resolve().parent
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Landlock is Linux-only")


def test_it_grants_the_package_not_the_directory_containing_it() -> None:
    """It grants the ai_sandbox package directory, never its parent (the app's own tree)."""
    paths = landlock.interpreter_read_paths()
    assert str(PACKAGE) in paths
    assert str(PACKAGE.parent) not in paths


def test_it_grants_the_standard_library_and_the_executable() -> None:
    """It grants the stdlib and lib-dynload (read and list) and the executable (read only)."""
    plan = plan_read_rules()
    stdlib = str(Path(sysconfig.get_path("stdlib")).resolve())
    assert stdlib in plan.paths("read")
    assert os.path.realpath(sys.executable) in plan.paths("read-files")
    assert os.path.realpath(sys.executable) not in plan.paths("read")


def test_every_rule_is_a_resolved_path() -> None:
    """It lists each rule by its real path (Landlock binds rules to the real directory)."""
    for rule in plan_read_rules().rules:
        assert rule.path == os.path.realpath(rule.path), rule


@pytest.mark.parametrize(
    ("target", "why"),
    [
        pytest.param("/", "the filesystem root", id="root"),
        pytest.param("/usr", "a top-level directory", id="top-level"),
        pytest.param(str(Path.home()), "a home directory", id="home"),
        pytest.param(str(Path.home().parent), "", id="contains-a-home"),
    ],
)
def test_it_refuses_a_site_packages_entry_that_is_a_whole_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, why: str
) -> None:
    """It refuses a sys.path site-packages that resolves to /, a top-level or home directory."""
    if not Path(target).is_dir():
        pytest.skip(f"{target} does not exist on this machine")
    link = tmp_path / "site-packages"
    link.symlink_to(target)
    monkeypatch.setattr(sys, "path", [*sys.path, str(link)])
    plan = plan_read_rules()
    resolved = str(Path(target).resolve())
    assert resolved not in plan.paths("read") + plan.paths("read-files")
    refused = {entry.path: entry.why for entry in plan.refused}
    assert resolved in refused
    assert why in refused[resolved]


@pytest.mark.parametrize(
    ("path", "narrow"),
    [("/", False), ("/usr", False), (str(Path.home()), False), (str(PACKAGE), True)],
)
def test_too_wide_judges_any_path(path: str, narrow: bool) -> None:
    """It offers the same width rule to other code that adds read rules."""
    assert (too_wide(path) is None) == narrow


def test_it_leaves_out_unrelated_sys_path_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It grants no sys.path entry outside the prefixes' lib directories and site-packages."""
    app = tmp_path / "app"
    app.mkdir()
    monkeypatch.setattr(sys, "path", [str(app), *sys.path])
    plan = plan_read_rules()
    assert str(app) not in plan.paths("read")
    assert all(not Path(p).is_relative_to(app) for p in plan.paths("read"))


# -- a real flat-layout install ----------------------------------------------------------------

HOST_SCRIPT = """
import json, sys
from pathlib import Path
import ai_sandbox
from ai_sandbox import SandboxPolicy
from ai_sandbox.isolation.worker_backend import WorkerBackend

app, root = Path(sys.argv[1]), Path(sys.argv[2])
code = '''
def attempt(path):
    try:
        return open(path).read()[:60]
    except OSError as exc:
        return type(exc).__name__
result = {"env": attempt(ENV), "package": attempt(PACKAGE_INIT)[:10]}
'''
code = code.replace("ENV", repr(str(app / ".env")))
code = code.replace("PACKAGE_INIT", repr(str(app / "ai_sandbox" / "__init__.py")))
backend = WorkerBackend(root, SandboxPolicy(timeout_s=5.0, pool_size=1), _language_guard=False)
try:
    result = backend.execute(code)
finally:
    backend.close()

# Landlock on its own (no filesystem view, no uid drop) in a child of this interpreter: the
# rules this flat install yields, applied as a worker applies them.
import os
from ai_sandbox.isolation import landlock, privileges
read_end, write_end = os.pipe()
if os.fork() == 0:
    privileges.set_no_new_privs()
    landlock.restrict_self(landlock.create_ruleset(
        landlock.interpreter_read_paths(), library_paths=landlock.system_library_paths()))
    exec(compile(code, "<alone>", "exec"))
    os.write(write_end, json.dumps(result).encode())
    os._exit(0)
os.close(write_end)
alone = json.loads(os.read(read_end, 65536))
os.wait()
print(json.dumps({"imported_from": ai_sandbox.__file__, "status": result.status,
                  "result": result.result, "layers": list(result.layers), "alone": alone}))
"""


@pytest.fixture(scope="module")
def flat_venv() -> Iterator[Path]:
    """A world-readable temp dir holding a venv whose only site-packages entry points at the
    project's dependencies; the flat install itself is added per test."""
    base = Path(tempfile.mkdtemp(prefix="ai-sandbox-flat-"))
    try:
        base.chmod(0o755)
        python = getattr(sys, "_base_executable", sys.executable)
        subprocess.run(
            [python, "-m", "venv", "--without-pip", str(base / "venv")], check=True, timeout=120
        )
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    assert found, f"no site-packages in {venv}"
    return found[0]


@pytest.mark.parametrize("install", ["copy", "symlink"])
def test_a_flat_layout_install_keeps_the_apps_env_unreadable(flat_venv: Path, install: str) -> None:
    """It keeps the .env beside a flat-layout ai_sandbox unreadable by a guard-off worker."""
    app = flat_venv / f"app-{install}"
    root = app / "workspace"
    root.mkdir(parents=True)
    for directory in (app, root):
        directory.chmod(0o755)
    env = app / ".env"
    env.write_text(f"OPENAI_API_KEY={CANARY}\n", encoding="utf-8")
    env.chmod(0o644)  # DAC alone would let the worker's uid read it: only Landlock stands
    if install == "copy":
        shutil.copytree(PACKAGE, app / "ai_sandbox", ignore=shutil.ignore_patterns("__pycache__"))
        for path in (app / "ai_sandbox").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (app / "ai_sandbox").chmod(0o755)
    else:
        (app / "ai_sandbox").symlink_to(PACKAGE)
    deps = sysconfig.get_path("purelib")  # the project's dependencies (pydantic, ...)
    (_site_packages(flat_venv / "venv") / "flat_app.pth").write_text(f"{app}\n{deps}\n")
    completed = subprocess.run(
        [str(flat_venv / "venv" / "bin" / "python"), "-c", HOST_SCRIPT, str(app), str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=app,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert Path(report["imported_from"]).parent == app / "ai_sandbox"
    assert report["status"] == "ok", report
    assert "landlock_fs" in report["layers"]
    assert CANARY not in json.dumps(report)
    # In a worker: refused by Landlock, or not even there when the filesystem view is active.
    assert report["result"]["env"] in {"PermissionError", "FileNotFoundError"}
    # Landlock alone, as root (file permissions would allow it): refused.
    assert report["alone"]["env"] == "PermissionError"
    if install == "copy":  # the package itself stays readable (lazy imports need it)
        assert report["alone"]["package"].startswith('"""')
        assert report["result"]["package"].startswith('"""')
