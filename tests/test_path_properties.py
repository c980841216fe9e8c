"""Properties over hostile path strings and a real symlink tree (hypothesis).

Whatever ``safe_path_access`` returns is inside the root; whatever ``SafeFS`` reads is a file
beneath the root; the openat2 resolver and the fallback walk agree on every path; and writes
never change anything outside the root.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_path_tree import CANARY, LINKS, build_tree, snapshot

from ai_sandbox.exceptions import ConfigurationError, SandboxError, SecurityError
from ai_sandbox.pathlayer.names import compile_deny_patterns, denied_by
from ai_sandbox.policy import DEFAULT_DENY_PATTERNS, HOST_EXECUTED_PATTERNS, SandboxPolicy
from ai_sandbox.security import SafeFS, safe_open, safe_path_access

SETTINGS = settings(max_examples=200, deadline=None)

#: Names from the tree (the links among them), so that many paths really resolve.
TREE_NAMES = [
    "..", ".", "data", "sub", "numbers.csv", "deep.txt", "notes.md", "new", "up", "up2",
    *(name.split("/")[-1] for name in LINKS),
]  # fmt: skip
#: Hostile building blocks: names outside the root, odd characters, long names, deny bait.
ODD_NAMES = [
    "", "~", "~root", "secret.txt", "outside", "canary.txt", "project", ".git", ".GIT", ".env",
    "config", "\x00", "\u202e", "\u200b", "\udcff", "\ud800", "a\\b", "x.", " x", "\n", "ü",
    "\uff0eenv", "x" * 255, "x" * 256,
]  # fmt: skip
#: Mostly tree names (six branches in eight), so that hostile paths often get far.
COMPONENT = st.one_of(
    *[st.sampled_from(TREE_NAMES)] * 6, st.sampled_from(ODD_NAMES), st.text(max_size=4)
)
LEAD = st.sampled_from(
    ["", "", "", "", "./", "/", "//", "{root}/", "{base}/", "{root}/../", "~/", "{base}/project/"]
)


@st.composite
def hostile_paths(draw: st.DrawFn) -> str:
    """A path string assembled from hostile components, maybe with an absolute lead."""
    lead = draw(LEAD)
    return lead + "/".join(draw(st.lists(COMPONENT, max_size=6)))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tree(tmp_path_factory.mktemp("props"))


@pytest.fixture(scope="module")
def resolvers(tree: Path) -> Iterator[list[SafeFS]]:
    """SafeFS with each resolver available here: openat2 (if the kernel has it) and the walk."""
    built = [SafeFS(tree, SandboxPolicy(), _use_openat2=False)]
    with contextlib.suppress(ConfigurationError):  # no openat2 here: the walk alone is tested
        built.append(SafeFS(tree, SandboxPolicy(), _use_openat2=True))
    yield built
    for fs in built:
        fs.close()


def _fill(path: str, root: Path) -> str:
    return path.replace("{root}", str(root)).replace("{base}", str(root.parent))


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


@SETTINGS
@given(raw=hostile_paths())
def test_safe_path_access_result_is_inside_root(tree: Path, raw: str) -> None:
    """It returns only absolute, fully resolved paths inside the root, or a SecurityError."""
    path = _fill(raw, tree)
    try:
        got = safe_path_access(path, tree)
    except SecurityError:
        return
    assert got.is_absolute()
    assert _within(got, tree)
    assert os.path.realpath(got) == str(got)


def _read_outcome(fs: SafeFS, path: str) -> tuple[str, bytes | str]:
    try:
        return "ok", fs.read_bytes(path)
    except SecurityError as exc:
        return "refused", exc.rule
    except SandboxError as exc:
        return "error", type(exc).__name__


@SETTINGS
@given(raw=hostile_paths())
def test_reads_return_only_files_beneath_root(
    tree: Path, resolvers: list[SafeFS], raw: str
) -> None:
    """It reads only files beneath the root, and openat2 and the walk agree on every path."""
    path = _fill(raw, tree)
    outcomes = [_read_outcome(fs, path) for fs in resolvers]
    for kind, value in outcomes:
        if kind == "ok":
            assert isinstance(value, bytes)
            assert value.startswith(b"inside:")
            assert CANARY.encode() not in value
    assert len(set(outcomes)) == 1, outcomes


@SETTINGS
@given(raw=hostile_paths())
def test_listings_stay_beneath_root(tree: Path, resolvers: list[SafeFS], raw: str) -> None:
    """It lists only directories beneath the root, naming entries by root-relative paths."""
    path = _fill(raw, tree)
    results = []
    for fs in resolvers:
        try:
            entries = fs.list_dir(path)
        except SandboxError as exc:
            results.append(getattr(exc, "rule", type(exc).__name__))
            continue
        for entry in entries:
            assert not entry.path.startswith("/")
            assert ".." not in entry.path.split("/")
            assert _within(tree.joinpath(entry.path).parent.resolve(), tree)
        results.append(repr(entries))
    assert len(set(results)) == 1, results


@pytest.fixture(scope="module")
def writable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tree(tmp_path_factory.mktemp("writes"))


@SETTINGS
@given(raw=hostile_paths(), use_openat2=st.booleans())
def test_writes_never_change_anything_outside(writable: Path, raw: str, use_openat2: bool) -> None:
    """It writes only where the path resolves beneath the root; nothing outside ever changes."""
    path = _fill(raw, writable)
    before = snapshot(writable.parent, writable)
    try:
        fs = SafeFS(writable, SandboxPolicy(allow_writes=True), _use_openat2=use_openat2)
    except ConfigurationError:
        fs = SafeFS(writable, SandboxPolicy(allow_writes=True), _use_openat2=False)
    with fs:
        try:
            target: Path | None = fs.resolve(path)
        except SandboxError:
            target = None
        try:
            fs.write_bytes(path, b"written")
        except SandboxError:
            pass
        else:  # it wrote exactly where safe_path_access said the path leads
            assert target is not None
            assert _within(target, writable)
            assert target.read_bytes() == b"written"
    assert snapshot(writable.parent, writable) == before


def _reference_match(names: list[str], globs: list[str]) -> bool:
    """The obvious backtracking definition of an anchored pattern match (for small inputs)."""
    if not globs:
        return True
    if globs[0] == "**":
        return any(_reference_match(names[i:], globs[1:]) for i in range(len(names) + 1))
    return (
        bool(names) and fnmatchcase(names[0], globs[0]) and _reference_match(names[1:], globs[1:])
    )


@SETTINGS
@given(
    names=st.lists(st.sampled_from(["a", "b", "ab", ".env"]), max_size=7),
    globs=st.lists(st.sampled_from(["**", "a", "b", "*", "a*", ".env"]), min_size=1, max_size=5),
)
def test_anchored_deny_match_agrees_with_its_definition(names: list[str], globs: list[str]) -> None:
    """It decides anchored deny patterns exactly as the backtracking definition does."""
    [pattern] = compile_deny_patterns(["/" + "/".join(globs)])
    expected = _reference_match(names, list(pattern.parts))
    assert (denied_by(names, [pattern]) is not None) == expected


def _safe_open_outcome(tree: Path, path: str, use_openat2: bool | None) -> tuple[str, object]:
    try:
        with safe_open(path, "rb", root=tree, _use_openat2=use_openat2) as f:
            return "ok", f.read()
    except SecurityError as exc:
        return "refused", exc.rule
    except SandboxError as exc:
        return "error", type(exc).__name__


@SETTINGS
@given(raw=hostile_paths())
def test_safe_open_reads_what_safefs_reads(tree: Path, resolvers: list[SafeFS], raw: str) -> None:
    """It opens only files beneath the root, with the outcome SafeFS.read_bytes gives."""
    path = _fill(raw, tree)
    expected = _read_outcome(resolvers[0], path)
    for use_openat2 in (None, False):
        got = _safe_open_outcome(tree, path, use_openat2)
        assert got == expected
        if got[0] == "ok":
            assert isinstance(got[1], bytes)
            assert CANARY.encode() not in got[1]


@SETTINGS
@given(raw=hostile_paths())
def test_safe_path_access_names_only_single_link_regular_files(tree: Path, raw: str) -> None:
    """It returns an existing non-directory only if it is a regular file with one link."""
    path = _fill(raw, tree)
    try:
        got = safe_path_access(path, tree)
    except SecurityError:
        return
    if got.exists() and not got.is_dir():
        st_ = got.stat()
        assert stat.S_ISREG(st_.st_mode)
        assert st_.st_nlink == 1


@SETTINGS
@given(raw=hostile_paths(), use_openat2=st.sampled_from([None, False]))
def test_safe_open_writes_never_change_anything_outside(
    writable: Path, raw: str, use_openat2: bool | None
) -> None:
    """It writes with safe_open only beneath the root; nothing outside ever changes."""
    path = _fill(raw, writable)
    before = snapshot(writable.parent, writable)
    with contextlib.suppress(SandboxError):
        policy = SandboxPolicy(allow_writes=True)
        with safe_open(path, "wb", root=writable, policy=policy, _use_openat2=use_openat2) as f:
            f.write(b"written")
    assert snapshot(writable.parent, writable) == before


DENY_POOL = [*DEFAULT_DENY_PATTERNS, *HOST_EXECUTED_PATTERNS, "/build", "a/**/b", "/**", "**/x*"]
NAME_POOL = [
    "config", ".docker", "config.json", ".aws", "x1", "a", "b", "build", "Makefile", ".GIT",
    "id_rsa", "id_rsa.pub", "data", "..", "\uff0eenv", "gcloud", ".config",
]  # fmt: skip


@SETTINGS
@given(
    patterns=st.lists(st.sampled_from(DENY_POOL), max_size=12),
    names=st.lists(st.sampled_from(NAME_POOL), max_size=6),
)
def test_the_deny_fast_path_agrees_with_the_pattern_loop(
    patterns: list[str], names: list[str]
) -> None:
    """It gives the same first matching pattern with the combined regexes as pattern by pattern."""
    compiled = compile_deny_patterns(patterns)
    assert denied_by(names, compiled) == denied_by(names, list(compiled))
