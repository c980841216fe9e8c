"""Red-team findings on the path layer, through the public tools and a real worker.

A write-enabled agent must not be able to *plant* a git repository in the project: git finds a
repository by its layout (a ``HEAD`` file with ``objects/`` and ``refs/``, or a ``commondir``
file naming where they are), and its ``config`` holds commands git runs on the host
(``core.pager``, ``core.fsmonitor``, ``core.sshCommand``, aliases). The path layer refused a
bare repository's ``config`` only once the layout existed, so writing ``config`` *first* and the
layout after planted a repository with the agent's commands in it.
"""

from __future__ import annotations

import subprocess  # nosec B404 - git with fixed arguments
import warnings
from pathlib import Path

import pytest

from ai_sandbox import Sandbox
from ai_sandbox.exceptions import SecurityError
from ai_sandbox.isolation.backend import WorkerBackend
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS

WRITABLE = SandboxPolicy(isolation="none", allow_writes=True)
EVIL_CONFIG = "[core]\n\tpager = touch PWNED\n\tfsmonitor = touch PWNED\n"

#: Orders in which an agent can lay out a repository by file writes alone (config first).
PLANTS = {
    "bare": ["evil/config", "evil/objects/info/x", "evil/refs/heads/x", "evil/HEAD"],
    "bare_head_first": ["evil/HEAD", "evil/config", "evil/objects/x", "evil/refs/x"],
    "lowercase_head": ["evil/config", "evil/objects/x", "evil/refs/x", "evil/head"],
    "commondir": [
        "store/config",
        "store/objects/x",
        "store/refs/x",
        "evil/commondir",
        "evil/HEAD",
    ],
}

CONTENT = {
    "config": EVIL_CONFIG,
    "HEAD": "ref: refs/heads/main\n",
    "head": "ref: refs/heads/main\n",
    "commondir": "../store\n",
}


def _write_all(call: object, paths: list[str]) -> list[bool]:
    oks = []
    for rel in paths:
        name = rel.rsplit("/", 1)[-1]
        oks.append(call(rel, CONTENT.get(name, "")))  # type: ignore[operator]
    return oks


def _git_sees_repository(directory: Path) -> bool:
    if not directory.is_dir():
        return False
    found = subprocess.run(  # nosec B603 B607 - fixed arguments
        ["git", "-c", "safe.directory=*", "rev-parse", "--git-dir"],
        cwd=directory,
        capture_output=True,
        text=True,
        env={"GIT_CEILING_DIRECTORIES": str(directory.parent), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    return found.returncode == 0 and found.stdout.strip() == "."


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_write_file_cannot_plant_a_git_repository(tmp_path: Path, plant: str) -> None:
    """It refuses the writes that would lay out a git repository in the project, in any order."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sandbox = Sandbox(tmp_path, policy=WRITABLE)

    def call(rel: str, content: str) -> bool:
        return sandbox.call("write_file", {"path": rel, "content": content}).ok

    _write_all(call, PLANTS[plant])
    assert not _git_sees_repository(tmp_path / "evil")


@pytest.mark.parametrize("name", ["HEAD", "head", "commondir", "COMMONDIR"])
def test_the_git_layout_names_are_refused_for_writing(tmp_path: Path, name: str) -> None:
    """It refuses writing a file git reads to recognise a repository (HEAD, commondir)."""
    with SafeFS(tmp_path, WRITABLE) as fs, pytest.raises(SecurityError) as info:
        fs.write_text(f"sub/{name}", "ref: refs/heads/main\n")
    assert info.value.rule == "deny_pattern"
    assert not (tmp_path / "sub" / name).exists()


def test_a_worker_cannot_plant_a_git_repository(tmp_path: Path) -> None:
    """It refuses the planting writes a worker's code sends (brokered by the host's SafeFS)."""
    policy = SandboxPolicy(isolation="strict", allow_writes=True, timeout_s=20)
    writes = [(rel, CONTENT.get(rel.rsplit("/", 1)[-1], "")) for rel in PLANTS["bare"]]
    code = (
        "results = []\n"
        f"for rel, data in {writes!r}:\n"
        "    try:\n"
        "        with open(rel, 'w') as f:\n"
        "            f.write(data)\n"
        "        results.append(True)\n"
        "    except Exception:\n"
        "        results.append(False)\n"
        "result = results\n"
    )
    backend = WorkerBackend(tmp_path, policy)
    try:
        backend.execute(code)
    finally:
        backend.close()
    assert not _git_sees_repository(tmp_path / "evil")
