"""The real file tree the path-layer tests attack, and a check that it is what they assume.

Other ``test_path_*`` files and ``test_file_operations`` import :func:`build_tree` from here.
Every file inside the root holds ``inside:<its path>``; everything outside holds the canary.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CANARY = "CANARY-7f3a-outside-the-root"

#: name -> link target; "{root}" and "{base}" are replaced by absolute paths.
LINKS: dict[str, str] = {
    "link_in": "data/numbers.csv",
    "link_dir_in": "data",
    "link_abs_in": "{root}/data/numbers.csv",
    "link_chain": "link_in",
    "link_dangling_in": "data/new.txt",
    "link_out": "../secret.txt",
    "link_abs_out": "{base}/secret.txt",
    "link_dir_out": "../outside",
    "link_dotdot": "..",
    "link_chain_out": "link_out",
    "link_dangling_out": "../nowhere.txt",
    "link_loop": "link_loop",
    "link_env": ".env",
    "data/up": "..",
    "data/up2": "../..",
    "data/sub/link_abs_dir": "{root}/data",
}

#: Regular files inside the root (content: inside:<path>).
FILES = ("data/numbers.csv", "data/sub/deep.txt", ".env", ".git/config", "notes.md")


def inside(rel: str) -> bytes:
    """The content of the file at ``rel`` inside the root."""
    return f"inside:{rel}".encode()


def build_tree(base: Path) -> Path:
    """Create ``base/project`` (the root) and canaries around it; return the root."""
    root = base / "project"
    for rel in FILES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(inside(rel))
    (base / "secret.txt").write_text(CANARY, encoding="utf-8")
    (base / "outside").mkdir()
    (base / "outside" / "canary.txt").write_text(CANARY, encoding="utf-8")
    (base / "outside" / "numbers.csv").write_text(CANARY, encoding="utf-8")
    for name, target in LINKS.items():
        os.symlink(target.format(root=root, base=base), root / name)
    return root


def snapshot(base: Path, root: Path) -> dict[str, bytes | str]:
    """Everything outside ``root`` under ``base``: path -> content (or link target)."""
    seen: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        here = Path(dirpath)
        if here == root:
            dirnames.clear()
            continue
        for name in filenames:
            path = here / name
            seen[str(path)] = os.readlink(path) if path.is_symlink() else path.read_bytes()
        dirnames[:] = [d for d in dirnames if here / d != root]
    return seen


@pytest.mark.parametrize(
    ("name", "leaves_root"),
    [
        pytest.param(name, "out" in name or "dotdot" in name or name == "data/up2", id=name)
        for name in LINKS
    ],
)
def test_tree_links_are_real_symlinks(tmp_path: Path, name: str, leaves_root: bool) -> None:
    """It builds real symlinks, some pointing inside the root and some outside."""
    root = build_tree(tmp_path)
    link = root / name
    assert link.is_symlink()
    if name not in ("link_loop", "link_dangling_in", "link_dangling_out"):
        target = Path(os.path.realpath(link))
        assert (target == root or root in target.parents) is not leaves_root
