"""safe_path_access: which file a path names beneath the root, or a SecurityError saying why not.

Every case runs against a real tree with real symlinks (``test_path_tree.build_tree``) and a
canary outside the root. Refusals carry a ``rule`` and a message that tells a model what to do.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import SupportsIndex

import pytest
from test_path_tree import CANARY, build_tree

import ai_sandbox.security as security
from ai_sandbox.exceptions import ConfigurationError, SecurityError
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import SafeFS, safe_path_access


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_tree(tmp_path)


ALLOWED = [
    pytest.param("data/numbers.csv", "data/numbers.csv", id="plain"),
    pytest.param("./data//numbers.csv/", "data/numbers.csv", id="dot-and-double-slash"),
    pytest.param("data/../data/numbers.csv", "data/numbers.csv", id="dotdot-staying-inside"),
    pytest.param(".", "", id="root-itself"),
    pytest.param("data/sub/..", "data", id="dotdot-last"),
    pytest.param("link_in", "data/numbers.csv", id="symlink-inside"),
    pytest.param("link_dir_in/numbers.csv", "data/numbers.csv", id="dir-symlink-inside"),
    pytest.param("link_chain", "data/numbers.csv", id="symlink-chain-inside"),
    pytest.param("link_abs_in", "data/numbers.csv", id="absolute-symlink-inside"),
    pytest.param("data/sub/link_abs_dir/numbers.csv", "data/numbers.csv", id="abs-dir-link-inside"),
    pytest.param("data/up/notes.md", "notes.md", id="dotdot-symlink-inside"),
    pytest.param("link_dir_in/../notes.md", "notes.md", id="dotdot-after-dir-link"),
    pytest.param("new/file.txt", "new/file.txt", id="not-yet-existing"),
    pytest.param("data/new/../x.txt", "data/x.txt", id="dotdot-below-missing-dir"),
    pytest.param("link_dangling_in", "data/new.txt", id="dangling-symlink-inside"),
    pytest.param("{root}/data/numbers.csv", "data/numbers.csv", id="absolute-inside-root"),
    pytest.param("{root}", "", id="absolute-root"),
    pytest.param("data/backup~", "data/backup~", id="tilde-not-leading"),
    pytest.param("data/café €.txt", "data/café €.txt", id="unicode-name"),
    pytest.param("data/a:b.txt", "data/a:b.txt", id="colon-valid-on-linux"),
    pytest.param("notes.environment", "notes.environment", id="env-pattern-needs-prefix"),
    pytest.param("data/...x", "data/...x", id="leading-dots-name"),
]


@pytest.mark.parametrize(("path", "expected"), ALLOWED)
def test_allowed_paths_resolve_inside_root(root: Path, path: str, expected: str) -> None:
    """It returns the absolute, fully resolved path inside the root."""
    got = safe_path_access(path.format(root=root), root)
    assert got == root.joinpath(expected) if expected else got == root
    assert got.is_absolute()
    assert os.path.realpath(got) == str(got)


REFUSED = [
    # leaving the root lexically
    pytest.param("../secret.txt", "outside_root", id="dotdot"),
    pytest.param("..", "outside_root", id="bare-dotdot"),
    pytest.param("data/../../secret.txt", "outside_root", id="dotdot-after-dir"),
    pytest.param("new/../../secret.txt", "outside_root", id="dotdot-after-missing-dir"),
    pytest.param("/etc/passwd", "outside_root", id="absolute-outside"),
    pytest.param("{base}/secret.txt", "outside_root", id="absolute-sibling"),
    pytest.param("{root}/../secret.txt", "outside_root", id="absolute-root-then-dotdot"),
    pytest.param("{root}x/secret.txt", "outside_root", id="absolute-root-prefix-trick"),
    pytest.param("~", "home_dir", id="tilde"),
    pytest.param("~/.ssh/id_rsa", "home_dir", id="tilde-slash"),
    pytest.param("~root/x", "home_dir", id="tilde-user"),
    # leaving the root through a symlink, at any component
    pytest.param("link_out", "symlink_escape", id="symlink-out"),
    pytest.param("link_abs_out", "symlink_escape", id="absolute-symlink-out"),
    pytest.param("link_dir_out/canary.txt", "symlink_escape", id="dir-symlink-out"),
    pytest.param("link_dotdot/secret.txt", "symlink_escape", id="symlink-to-parent"),
    pytest.param("link_chain_out", "symlink_escape", id="chain-out"),
    pytest.param("data/up2/secret.txt", "symlink_escape", id="nested-dotdot-link"),
    pytest.param("link_dangling_out", "symlink_escape", id="dangling-out"),
    pytest.param("link_dir_in/../../secret.txt", "symlink_escape", id="dotdot-via-dir-link"),
    pytest.param("link_dir_out/../project/notes.md", "symlink_escape", id="out-and-back-in"),
    pytest.param("link_loop", "symlink_loop", id="symlink-loop"),
    # names
    pytest.param("", "invalid_name", id="empty"),
    pytest.param("data/\x00x", "invalid_name", id="null-byte"),
    pytest.param("data/a\nb", "invalid_name", id="newline"),
    pytest.param("data/a\x1b[31mb", "invalid_name", id="ansi-escape"),
    pytest.param("data/evil\u202etxt.exe", "invalid_name", id="bidi-override"),
    pytest.param("data/\u2066x\u2069", "invalid_name", id="bidi-isolate"),
    pytest.param("data/a\u200bb", "invalid_name", id="zero-width-space"),
    pytest.param("data/\ufeffx", "invalid_name", id="byte-order-mark"),
    pytest.param("data/a\u2028b", "invalid_name", id="line-separator"),
    pytest.param("data/\ue000", "invalid_name", id="private-use"),
    pytest.param("data/\udcff", "invalid_name", id="lone-surrogate"),
    pytest.param("data\\numbers.csv", "invalid_name", id="backslash"),
    pytest.param("data/file.", "invalid_name", id="trailing-dot"),
    pytest.param("data/file ", "invalid_name", id="trailing-space"),
    pytest.param("data/ file", "invalid_name", id="leading-space"),
    pytest.param("data/x\u3000", "invalid_name", id="trailing-ideographic-space"),
    pytest.param(".env.", "invalid_name", id="trailing-dot-on-denied"),
    pytest.param("data/...", "invalid_name", id="three-dots"),
    # lengths
    pytest.param("x" * 256, "path_too_long", id="name-over-255-bytes"),
    pytest.param("é" * 128, "path_too_long", id="name-over-255-utf8-bytes"),
    pytest.param("a/" * 600, "path_too_long", id="path-over-limit"),
    # deny patterns (default: .git/ .env* *.pem *.key .ssh/)
    pytest.param(".git/config", "deny_pattern", id="git-dir"),
    pytest.param(".git", "deny_pattern", id="git-dir-itself"),
    pytest.param("vendor/lib/.git/HEAD", "deny_pattern", id="nested-git-dir"),
    pytest.param(".GIT/config", "deny_pattern", id="git-upper-case"),
    pytest.param(".env", "deny_pattern", id="env"),
    pytest.param(".env.local", "deny_pattern", id="env-suffix"),
    pytest.param("data/.ENV", "deny_pattern", id="env-upper-nested"),
    pytest.param("\uff0e\uff45\uff4e\uff56", "deny_pattern", id="env-full-width"),
    pytest.param("certs/server.pem", "deny_pattern", id="pem"),
    pytest.param("SERVER.PEM", "deny_pattern", id="pem-upper"),
    pytest.param("id.key", "deny_pattern", id="key"),
    pytest.param(".ssh/id_rsa", "deny_pattern", id="ssh-dir"),
    pytest.param("data/../.env", "deny_pattern", id="env-via-dotdot"),
    pytest.param("link_env", "deny_pattern", id="symlink-to-env"),
    # structure
    pytest.param("data/numbers.csv/x", "not_a_directory", id="file-as-directory"),
    # lone surrogates are refused before any OS call (the root-alias lookup of an absolute
    # path used to hand them to realpath, which raised UnicodeEncodeError)
    pytest.param("/\ud800/x", "invalid_name", id="lone-surrogate-absolute"),
    pytest.param("{root}/\udfff", "invalid_name", id="lone-surrogate-under-root"),
    pytest.param("/tmp/\ud800\udcff/..", "invalid_name", id="surrogate-pair-halves"),
]


@pytest.mark.parametrize(("path", "rule"), REFUSED)
def test_refused_paths_name_their_rule(root: Path, path: str, rule: str) -> None:
    """It refuses with a SecurityError whose rule names the reason."""
    raw = path.format(root=root, base=root.parent)
    with pytest.raises(SecurityError) as info:
        safe_path_access(raw, root)
    assert info.value.rule == rule
    assert CANARY not in str(info.value)


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        pytest.param("../secret.txt", "relative to the project root", id="outside"),
        pytest.param("/etc/passwd", "relative to the project root", id="absolute"),
        pytest.param("~/x", "relative to the project root", id="home"),
        pytest.param("link_out", "only links that stay inside the root", id="symlink"),
        pytest.param(".env", "choose another file", id="deny"),
        pytest.param("a\u202eb", "use a name without it", id="bidi"),
        pytest.param("a\\b", "use '/' to separate directories", id="backslash"),
    ],
)
def test_refusals_tell_the_model_what_to_do(root: Path, path: str, hint: str) -> None:
    """It says, in the message, what to do instead, and echoes the offending path."""
    with pytest.raises(SecurityError) as info:
        safe_path_access(path, root)
    assert hint in info.value.reason
    assert info.value.path == path


def test_error_shows_a_capped_path(root: Path) -> None:
    """It caps the offending path in the message, so a huge path cannot flood it."""
    with pytest.raises(SecurityError) as info:
        safe_path_access("a" * 100_000, root)
    assert len(str(info.value)) < 500


def test_root_defaults_to_current_directory(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It confines to the current directory when no root is given."""
    monkeypatch.chdir(root / "data")
    assert safe_path_access("numbers.csv") == root / "data" / "numbers.csv"
    with pytest.raises(SecurityError):
        safe_path_access("../notes.md")


def test_absolute_path_through_another_spelling_of_root(root: Path) -> None:
    """It accepts an absolute path that reaches the root through a symlinked parent."""
    alias = root.parent / "alias"
    alias.symlink_to(root)
    assert safe_path_access(f"{alias}/data/numbers.csv", root) == root / "data/numbers.csv"


def test_accepts_pathlike(root: Path) -> None:
    """It accepts os.PathLike paths as well as strings."""
    assert safe_path_access(Path("data/numbers.csv"), root) == root / "data/numbers.csv"


@pytest.mark.parametrize(
    "path",
    [pytest.param(b"data/numbers.csv", id="bytes"), pytest.param(3, id="int")],
)
def test_refuses_non_text_paths(root: Path, path: object) -> None:
    """It refuses a path that is not text."""
    with pytest.raises(SecurityError) as info:
        safe_path_access(path, root)  # type: ignore[arg-type]
    assert info.value.rule == "invalid_name"


@pytest.mark.parametrize(
    "bad_root", [3, b"/tmp", ["/tmp"], 2.5], ids=["int", "bytes", "list", "float"]
)
def test_a_root_that_is_not_a_path_is_a_configuration_error(bad_root: object) -> None:
    """It says the root must be a path, instead of a TypeError from our internals."""
    with pytest.raises(ConfigurationError, match="must be a path"):
        safe_path_access("a.txt", bad_root)  # type: ignore[arg-type]


class _Lying(str):
    """A str whose own methods describe another path than its characters."""

    __slots__ = ()

    def split(self, sep: str | None = None, maxsplit: SupportsIndex = -1) -> list[str]:
        return ["notes.md"]

    def startswith(self, *args: object) -> bool:
        return False

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b""


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        pytest.param("../secret.txt", "outside_root", id="split-says-inside"),
        pytest.param("/etc/passwd", "outside_root", id="startswith-hides-absolute"),
        pytest.param("~/x", "home_dir", id="startswith-hides-tilde"),
        pytest.param("a/" * 600, "path_too_long", id="encode-hides-length"),
    ],
)
def test_a_str_subclass_is_judged_by_its_characters(root: Path, path: str, rule: str) -> None:
    """It reads a str subclass once, as plain text: its own methods cannot change the path."""
    with pytest.raises(SecurityError) as info:
        safe_path_access(_Lying(path), root)
    assert info.value.rule == rule


class _Flipping:
    """An os.PathLike that names a harmless file first and a secret afterwards."""

    def __init__(self) -> None:
        self.calls = 0

    def __fspath__(self) -> str:
        self.calls += 1
        return "notes.md" if self.calls == 1 else "../secret.txt"


def test_a_pathlike_is_read_once(root: Path) -> None:
    """It asks an os.PathLike for its path once per operation, and uses that answer."""
    flipping = _Flipping()
    with SafeFS(root, SandboxPolicy()) as fs:
        assert fs.read_text(flipping).startswith("inside:")
    assert flipping.calls == 1


class _Exploding:
    def __fspath__(self) -> str:
        raise RuntimeError("boom")


def test_a_failing_fspath_is_a_refusal(root: Path) -> None:
    """It refuses an object whose __fspath__ raises, naming only its type."""
    with pytest.raises(SecurityError) as info:
        safe_path_access(_Exploding(), root)
    assert info.value.rule == "invalid_name"
    assert info.value.path == "<_Exploding>"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: Path("/"), id="slash"),
        pytest.param(lambda p: Path("/tmp/.."), id="dotdot-to-slash"),
        pytest.param(lambda p: _symlink(p / "to_slash", "/"), id="symlink-to-slash"),
    ],
)
def test_the_file_system_root_is_not_a_sandbox_root(root: Path, make: object) -> None:
    """It refuses '/' (however spelled) as a root: every host path would be inside it."""
    with pytest.raises(ConfigurationError, match="file system root"):
        SafeFS(make(root), SandboxPolicy())  # type: ignore[operator]


@pytest.mark.parametrize(
    "system_root",
    [
        pytest.param("/proc", id="proc"),
        pytest.param("/proc/self", id="proc-self"),
        pytest.param("/sys/kernel", id="sys"),
    ],
)
def test_system_views_are_not_sandbox_roots(system_root: str) -> None:
    """It refuses /proc and /sys as roots: their files are the host's live state."""
    with pytest.raises(ConfigurationError, match="view of the running system"):
        SafeFS(Path(system_root), SandboxPolicy())


def _symlink(link: Path, target: str) -> Path:
    link.symlink_to(target)
    return link


def test_path_limit_comes_from_policy(root: Path) -> None:
    """It applies policy.max_path_length."""
    policy = SandboxPolicy(max_path_length=16)
    assert safe_path_access("data/numbers.csv", root, policy=policy)
    with pytest.raises(SecurityError) as info:
        safe_path_access("data/sub/deep.txt", root, policy=policy)
    assert info.value.rule == "path_too_long"


def test_resolved_path_is_held_to_the_limit(root: Path) -> None:
    """It refuses a short path whose symlinks resolve to an over-long one."""
    deep = root / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    (root / "short").symlink_to(deep.relative_to(root))
    with pytest.raises(SecurityError) as info:
        safe_path_access("short/f", root, policy=SandboxPolicy(max_path_length=100))
    assert info.value.rule == "path_too_long"


DENY_TABLE = [
    pytest.param(("/build",), "build/x", True, id="anchored-dir"),
    pytest.param(("/build",), "src/build/x", False, id="anchored-not-nested"),
    pytest.param(("config/secrets.*",), "config/secrets.yaml", True, id="anchored-glob"),
    pytest.param(("config/secrets.*",), "other/config/secrets.yaml", False, id="anchored-root"),
    pytest.param(("**/cache/",), "a/b/cache/x", True, id="double-star"),
    pytest.param(("*.sqlite",), "db/app.SQLite", True, id="glob-any-depth-case"),
    pytest.param(("private/",), "link_private/x", True, id="resolved-through-link"),
    pytest.param((), ".env", False, id="empty-list-allows"),
    pytest.param(("# comment", ""), "x", False, id="comments-ignored"),
    pytest.param(("a/**/b/**/c",), "a/x/b/y/z/c/f", True, id="several-double-stars"),
    pytest.param(("a/**/b/**/c",), "a/x/b/y/z/d/f", False, id="several-double-stars-miss"),
    pytest.param(("/**/**/x",), "x", True, id="double-stars-match-nothing"),
    pytest.param(("a/**",), "a", True, id="trailing-double-star"),
]


def test_double_star_patterns_take_linear_time(root: Path) -> None:
    """It matches patterns with several '**' without backtracking over a deep path (a
    backtracking match took seconds at depth 40 and days at the depth limit of 128)."""
    policy = SandboxPolicy(deny_patterns=("/**/**/**/**/**/x",))
    start = time.perf_counter()
    assert safe_path_access("a/" * 40 + "q", root, policy=policy)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(("patterns", "path", "denied"), DENY_TABLE)
def test_custom_deny_patterns(
    root: Path, patterns: tuple[str, ...], path: str, denied: bool
) -> None:
    """It applies the policy's gitignore-style deny patterns to the given and resolved path."""
    (root / "private").mkdir()
    (root / "link_private").symlink_to("private")
    policy = SandboxPolicy(deny_patterns=patterns)
    if denied:
        with pytest.raises(SecurityError) as info:
            safe_path_access(path, root, policy=policy)
        assert info.value.rule == "deny_pattern"
    else:
        assert safe_path_access(path, root, policy=policy)


@pytest.mark.parametrize(
    "pattern", [pytest.param("!keep.pem", id="negation"), pytest.param("/", id="names-nothing")]
)
def test_unsupported_deny_pattern_is_a_configuration_error(root: Path, pattern: str) -> None:
    """It refuses a deny pattern it cannot honour instead of silently ignoring it."""
    with pytest.raises(ConfigurationError):
        safe_path_access("x", root, policy=SandboxPolicy(deny_patterns=(pattern,)))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p / "missing", id="missing"),
        pytest.param(lambda p: p / "notes.md", id="file"),
    ],
)
def test_bad_root_is_a_configuration_error(root: Path, make: object) -> None:
    """It reports a root that is not an existing directory as the developer's mistake."""
    with pytest.raises(ConfigurationError):
        safe_path_access("x", make(root))  # type: ignore[operator]


def test_safefs_resolve_and_relative(root: Path) -> None:
    """SafeFS.resolve applies the same checks; relative() gives a '/'-separated root path."""
    with SafeFS(root, SandboxPolicy()) as fs:
        assert fs.resolve("link_dir_in/sub/deep.txt") == root / "data/sub/deep.txt"
        assert fs.relative("link_dir_in/sub/deep.txt") == "data/sub/deep.txt"
        assert fs.relative(".") == "."
        with pytest.raises(SecurityError):
            fs.relative("link_out")


def test_closed_safefs_refuses(root: Path) -> None:
    """It refuses to work after close()."""
    fs = SafeFS(root, SandboxPolicy())
    fs.close()
    fs.close()
    with pytest.raises(ConfigurationError):
        fs.resolve("notes.md")


def test_public_names_are_pinned() -> None:
    """It exports exactly its public API, sorted."""
    assert security.__all__ == [
        "FileAccess",
        "SafeFS",
        "SecurityError",
        "safe_open",
        "safe_path_access",
    ]
    assert security.SecurityError is SecurityError


def test_every_path_rule_is_a_known_rule() -> None:
    """It lists each of the path layer's rule names among the rules the host accepts."""
    from ai_sandbox.pathlayer.errors import RULES
    from ai_sandbox.rules import PATH_RULES

    assert set(RULES) <= PATH_RULES
    assert {"pseudo_filesystem", "mount_crossing", "write_deny_pattern"} <= set(RULES)
