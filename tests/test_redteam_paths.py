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
from ai_sandbox.isolation.worker_backend import WorkerBackend
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


#: A link target that adds many components and leads back where it started (``a/../`` x 400).
_DETOUR = "a/../" * 400


def _detour_chain(root: Path, links: int, final: str) -> str:
    """``l0 -> detour/l1 -> ... -> detour/final``: each link adds 800 components; returns l0."""
    (root / "a").mkdir(exist_ok=True)
    for i in range(links):
        nxt = f"l{i + 1}" if i + 1 < links else final
        (root / f"l{i}").symlink_to(_DETOUR + nxt)
    return "l0"


@pytest.mark.parametrize("final", ["a", "notes.txt", "../outside"])
def test_the_walk_bounds_the_components_links_add(tmp_path: Path, final: str) -> None:
    """It refuses a path whose links add more components than any natural one (bounded work)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "notes.txt").write_text("x", encoding="utf-8")
    start = _detour_chain(root, 3, final)
    with SafeFS(root, SandboxPolicy(), _use_openat2=False) as fs:
        for call in (fs.read_bytes, fs.list_dir):
            with pytest.raises(SecurityError) as info:
                call(start)
            assert info.value.rule == "symlink_loop"


def test_a_listing_resolves_a_bounded_number_of_links(tmp_path: Path) -> None:
    """It says where at most MAX_LINKS_RESOLVED links lead per listing; the rest are listed."""
    from ai_sandbox.pathlayer.safefs import MAX_LINKS_RESOLVED

    (tmp_path / "data.txt").write_text("x", encoding="utf-8")
    count = MAX_LINKS_RESOLVED + 20
    for i in range(count):
        (tmp_path / f"e{i:04d}").symlink_to("data.txt")
    with SafeFS(tmp_path, SandboxPolicy()) as fs:
        entries, truncated = fs.list_tree(".", depth=0, max_entries=10_000)
    links = [e for e in entries if e.type == "symlink"]
    assert not truncated
    assert len(links) == count
    assert all(e.target == "data.txt" for e in links[:MAX_LINKS_RESOLVED])
    assert all(e.target is None for e in links[MAX_LINKS_RESOLVED:])


@pytest.mark.parametrize("use_openat2", [True, False])
def test_a_crafted_link_flood_is_listed_with_outside_links_marked(
    tmp_path: Path, use_openat2: bool
) -> None:
    """It still lists a flood of crafted link chains, marking none as readable outside."""
    root = tmp_path / "project"
    root.mkdir()
    _detour_chain(root, 5, "../outside")
    for i in range(20):
        (root / f"e{i:02d}").symlink_to("l0")
    policy = SandboxPolicy()
    with SafeFS(root, policy, _use_openat2=use_openat2 or None) as fs:
        entries, _ = fs.list_tree(".", depth=0, max_entries=1000)
    for entry in entries:
        if entry.type == "symlink":
            assert entry.target is None
            assert entry.outside_root or entry.target_type == "refused"


def test_an_unresolved_link_is_shown_as_a_link_to_look_up(tmp_path: Path) -> None:
    """It shows a link past the resolved ones as a link to look up, not as off limits."""
    from ai_sandbox.pathlayer.safefs import MAX_LINKS_RESOLVED

    (tmp_path / "data.txt").write_text("x", encoding="utf-8")
    for i in range(MAX_LINKS_RESOLVED + 1):
        (tmp_path / f"e{i:04d}").symlink_to("data.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sandbox = Sandbox(tmp_path, policy=SandboxPolicy(isolation="none", list_max_entries=10_000))
    text = str(sandbox.call("list_directory", {"path": "."}).content)
    last = f"e{MAX_LINKS_RESOLVED:04d}"
    line = next(row for row in text.splitlines() if row.startswith(last))
    assert "off limits" not in line
    assert "list or read it by its path" in line
