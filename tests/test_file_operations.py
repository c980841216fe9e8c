"""SafeFS: reading, writing and listing beneath the root, through openat2 and the fallback walk.

Every test runs twice: once resolving with ``openat2(RESOLVE_BENEATH)`` and once with the
component-by-component walk (``SafeFS(..., _use_openat2=False)``). A canary outside the root
must never be read, and nothing outside the root may change.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from layers_support import run_in_child
from test_path_tree import CANARY, build_tree, inside, snapshot

from ai_sandbox.exceptions import (
    ConfigurationError,
    ResourceLimitExceeded,
    SecurityError,
    ToolInputError,
)
from ai_sandbox.pathlayer.openat2 import RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, openat2
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.security import MAX_DIR_ENTRIES, MAX_DIR_SCAN, FileAccess, SafeFS

WRITABLE = SandboxPolicy(allow_writes=True)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_tree(tmp_path)


def require_openat2(path: Path) -> None:
    """Skip where the kernel lacks openat2 (or /proc/self/fd to read back what it opened)."""
    try:
        SafeFS(path, SandboxPolicy(), _use_openat2=True).close()
    except ConfigurationError:
        pytest.skip("kernel lacks openat2 (or /proc/self/fd)")


@pytest.fixture(params=["openat2", "walk"])
def mode(request: pytest.FixtureRequest, tmp_path: Path) -> bool:
    """Which resolver SafeFS uses (True: openat2, False: the component walk)."""
    if request.param == "openat2":
        require_openat2(tmp_path)
    return bool(request.param == "openat2")


MakeFS = Callable[[SandboxPolicy], SafeFS]


@pytest.fixture
def make_fs(root: Path, mode: bool) -> Iterator[MakeFS]:
    """Build SafeFS instances on the tree with the resolver under test."""
    opened: list[SafeFS] = []

    def factory(policy: SandboxPolicy) -> SafeFS:
        fs = SafeFS(root, policy, _use_openat2=mode)
        assert fs.uses_openat2 is mode
        opened.append(fs)
        return fs

    yield factory
    for fs in opened:
        fs.close()


@pytest.fixture
def fs(make_fs: MakeFS) -> SafeFS:
    return make_fs(WRITABLE)


@pytest.fixture(autouse=True)
def _nothing_outside_changes(root: Path) -> Iterator[None]:
    """Every test in this file ends with everything outside the root exactly as it was."""
    before = snapshot(root.parent, root)
    yield
    assert snapshot(root.parent, root) == before


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".ai-sandbox-*")]


# -- reading -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("data/numbers.csv", "data/numbers.csv", id="plain"),
        pytest.param("link_in", "data/numbers.csv", id="symlink-inside"),
        pytest.param("link_dir_in/sub/deep.txt", "data/sub/deep.txt", id="dir-symlink-inside"),
        pytest.param("link_abs_in", "data/numbers.csv", id="absolute-symlink-inside"),
        pytest.param("data/up/notes.md", "notes.md", id="dotdot-symlink-inside"),
        pytest.param("data/sub/../../notes.md", "notes.md", id="dotdot-inside"),
    ],
)
def test_reads_files_beneath_root(fs: SafeFS, path: str, expected: str) -> None:
    """It reads regular files beneath the root, following links that stay inside."""
    assert fs.read_bytes(path) == inside(expected)
    assert fs.read_text(path) == inside(expected).decode()


READ_REFUSED = [
    pytest.param("../secret.txt", "outside_root", id="dotdot"),
    pytest.param("{base}/secret.txt", "outside_root", id="absolute-outside"),
    pytest.param("link_out", "symlink_escape", id="symlink-out"),
    pytest.param("link_abs_out", "symlink_escape", id="absolute-symlink-out"),
    pytest.param("link_dir_out/canary.txt", "symlink_escape", id="dir-symlink-out"),
    pytest.param("link_dotdot/secret.txt", "symlink_escape", id="symlink-to-parent"),
    pytest.param("link_chain_out", "symlink_escape", id="chain-out"),
    pytest.param("data/up2/secret.txt", "symlink_escape", id="nested-dotdot-link"),
    pytest.param("link_loop", "symlink_loop", id="loop"),
    pytest.param("link_env", "deny_pattern", id="symlink-to-denied"),
    pytest.param(".git/config", "deny_pattern", id="denied"),
    pytest.param("data", "is_directory", id="directory"),
    pytest.param("data/missing.txt", "not_found", id="missing"),
    pytest.param("link_dangling_in", "not_found", id="dangling-inside"),
    pytest.param("data/numbers.csv/x", "not_a_directory", id="file-as-directory"),
]


@pytest.mark.parametrize(("path", "rule"), READ_REFUSED)
def test_read_refusals(fs: SafeFS, root: Path, path: str, rule: str) -> None:
    """It refuses to read what the rules forbid, without ever returning the canary."""
    with pytest.raises(SecurityError) as info:
        fs.read_bytes(path.format(base=root.parent))
    assert info.value.rule == rule
    assert CANARY not in str(info.value)


def test_read_size_is_capped(make_fs: MakeFS, root: Path) -> None:
    """It refuses a file over policy.max_file_bytes with a file_size limit error."""
    (root / "big.txt").write_bytes(b"x" * 101)
    fs = make_fs(SandboxPolicy(max_file_bytes=100))
    (root / "ok.txt").write_bytes(b"x" * 100)
    assert len(fs.read_bytes("ok.txt")) == 100
    with pytest.raises(ResourceLimitExceeded) as info:
        fs.read_bytes("big.txt")
    assert info.value.limit == "file_size"


def test_read_text_refuses_binary(fs: SafeFS, root: Path) -> None:
    """It refuses to read a non-UTF-8 file as text, with a clear rule."""
    (root / "blob.bin").write_bytes(b"\xff\xfe\x00binary")
    assert fs.read_bytes("blob.bin") == b"\xff\xfe\x00binary"
    with pytest.raises(SecurityError) as info:
        fs.read_text("blob.bin")
    assert info.value.rule == "not_text"


# -- special files and hard links ---------------------------------------------------------------
def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    cwd = os.getcwd()
    os.chdir(path.parent)  # sun_path is limited to 108 bytes; bind by a short relative name
    try:
        sock.bind(path.name)
    finally:
        os.chdir(cwd)
        sock.close()


def _device(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # a copy of /dev/null
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD, which this kernel context lacks")


SPECIALS = [
    pytest.param(_fifo, id="fifo"),
    pytest.param(_socket, id="socket"),
    pytest.param(_device, id="char-device"),
]


def refusal_within(seconds: float, action: Callable[[], object]) -> SecurityError:
    """Run ``action`` in a thread and return its SecurityError; fail (not hang) if it blocks."""
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(action())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the operation blocked"
    assert isinstance(outcome[0], SecurityError), outcome
    return outcome[0]


@pytest.mark.parametrize("make", SPECIALS)
def test_special_files_are_refused(fs: SafeFS, root: Path, make: object) -> None:
    """It refuses devices, FIFOs and sockets, for reading and writing, without blocking."""
    make(root / "special")  # type: ignore[operator]
    for action in (lambda: fs.read_bytes("special"), lambda: fs.write_bytes("special", b"x")):
        assert refusal_within(10, action).rule == "special_file"
    assert not stat.S_ISREG(os.lstat(root / "special").st_mode)


def test_symlink_to_fifo_is_refused(fs: SafeFS, root: Path) -> None:
    """It refuses a FIFO reached through a symlink, without blocking."""
    os.mkfifo(root / "pipe")
    (root / "to_pipe").symlink_to("pipe")
    assert refusal_within(10, lambda: fs.read_bytes("to_pipe")).rule == "special_file"


def test_hardlink_to_outside_file_is_refused(fs: SafeFS, root: Path) -> None:
    """It refuses a file with a second hard link (it may live outside the root)."""
    os.link(root.parent / "secret.txt", root / "hl.txt")
    for action in (lambda: fs.read_bytes("hl.txt"), lambda: fs.write_bytes("hl.txt", b"x")):
        with pytest.raises(SecurityError) as info:
            action()
        assert info.value.rule == "hardlink"
    assert (root.parent / "secret.txt").read_text() == CANARY


def test_hardlinks_allowed_by_policy(make_fs: MakeFS, root: Path) -> None:
    """It reads multiply-linked files when policy.allow_hardlinks is set."""
    os.link(root / "notes.md", root / "notes-again.md")
    fs = make_fs(SandboxPolicy(allow_hardlinks=True))
    assert fs.read_bytes("notes-again.md") == inside("notes.md")


# -- writing -------------------------------------------------------------------------------------
def test_write_creates_file_and_parents(fs: SafeFS, root: Path) -> None:
    """It creates missing parent directories beneath the root and writes the file."""
    assert fs.write_text("out/report/summary.md", "# done\n") == 7
    assert (root / "out/report/summary.md").read_text() == "# done\n"
    assert temp_files(root) == []


def test_write_replaces_and_keeps_mode(fs: SafeFS, root: Path) -> None:
    """It replaces an existing file's content and keeps its permission bits."""
    target = root / "notes.md"
    target.chmod(0o640)
    fs.write_bytes("notes.md", b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_write_keeps_the_owner_of_another_users_file(fs: SafeFS, root: Path) -> None:
    """It gives the new content the replaced file's owner and group (the host runs as root
    here): a write must not hand another user's file to the host user."""
    target = root / "notes.md"
    os.chown(target, 65534, 65534)
    target.chmod(0o640)
    fs.write_bytes("notes.md", b"new")
    after = target.stat()
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (65534, 65534, 0o640)


def _write_as_another_user(root: Path, mode: bool, name: str) -> str:
    """In a child: open the root as root, become uid/gid 65534, try to replace ``name``."""
    fs = SafeFS(root, WRITABLE, _use_openat2=mode)
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)
    try:
        fs.write_bytes(name, b"replaced")
    except SecurityError as exc:
        return f"SecurityError:{exc.rule}"
    return "written"


@pytest.mark.parametrize(
    ("owner", "mode_bits"),
    [(65534, 0o444), (0, 0o644), (0, 0o600)],
    ids=["own-read-only-file", "another-users-file", "another-users-private-file"],
)
def test_write_refuses_a_file_the_user_could_not_open_for_writing(
    root: Path, mode: bool, owner: int, mode_bits: int
) -> None:
    """It refuses to replace a file the host user may not write, although the directory is
    writable (the atomic rename alone would replace it): as `open(path, "w")` would."""
    os.chown(root, 65534, 65534)  # the directory is writable for the user
    target = root / "notes.md"
    original = target.read_bytes()
    os.chown(target, owner, owner)
    target.chmod(mode_bits)
    report = run_in_child(lambda: _write_as_another_user(root, mode, "notes.md"))
    assert report.value == "SecurityError:permission_denied", report
    assert target.read_bytes() == original
    assert (target.stat().st_uid, stat.S_IMODE(target.stat().st_mode)) == (owner, mode_bits)


def test_write_through_directory_link_inside(fs: SafeFS, root: Path) -> None:
    """It writes through a directory symlink that stays inside the root."""
    fs.write_text("link_dir_in/sub/new.txt", "hello")
    assert (root / "data/sub/new.txt").read_text() == "hello"


WRITE_REFUSED = [
    pytest.param("../escape.txt", "outside_root", id="dotdot"),
    pytest.param("{base}/outside/new.txt", "outside_root", id="absolute-outside"),
    pytest.param("link_dir_out/new.txt", "symlink_escape", id="parent-symlink-out"),
    pytest.param("link_dotdot/new.txt", "symlink_escape", id="parent-symlink-to-parent"),
    pytest.param("link_out", "symlink_write", id="over-symlink-out"),
    pytest.param("link_abs_out", "symlink_write", id="over-absolute-symlink-out"),
    pytest.param("link_in", "symlink_write", id="over-symlink-inside"),
    pytest.param("link_dangling_out", "symlink_write", id="over-dangling-symlink"),
    pytest.param("data", "is_directory", id="over-directory"),
    pytest.param(".", "is_directory", id="root"),
    pytest.param("data/..", "is_directory", id="dotdot-last"),
    pytest.param(".env", "deny_pattern", id="denied"),
    pytest.param("newdir/.git/config", "deny_pattern", id="denied-below-new-dir"),
    pytest.param("data/numbers.csv/x", "not_a_directory", id="file-as-directory"),
    pytest.param("data/evil\u202etxt.sh", "invalid_name", id="bidi"),
]


@pytest.mark.parametrize(("path", "rule"), WRITE_REFUSED)
def test_write_refusals(fs: SafeFS, root: Path, path: str, rule: str) -> None:
    """It refuses writes the rules forbid and leaves every file as it was."""
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    links = {p: os.readlink(p) for p in root.rglob("*") if p.is_symlink()}
    with pytest.raises(SecurityError) as info:
        fs.write_bytes(path.format(base=root.parent), b"PWNED")
    assert info.value.rule == rule
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    assert after == before
    assert {p: os.readlink(p) for p in root.rglob("*") if p.is_symlink()} == links
    assert not (root / "newdir").exists()


def test_writes_disabled_by_default(make_fs: MakeFS, root: Path) -> None:
    """It refuses every write unless policy.allow_writes is set."""
    fs = make_fs(SandboxPolicy())
    with pytest.raises(SecurityError) as info:
        fs.write_text("new.txt", "x")
    assert info.value.rule == "writes_disabled"
    assert not (root / "new.txt").exists()


def test_oversized_write_changes_nothing(make_fs: MakeFS, root: Path) -> None:
    """It refuses content over max_file_bytes and keeps the old content, with no temp file."""
    fs = make_fs(WRITABLE.model_copy(update={"max_file_bytes": 10}))
    with pytest.raises(ResourceLimitExceeded) as info:
        fs.write_bytes("notes.md", b"x" * 11)
    assert info.value.limit == "file_size"
    assert (root / "notes.md").read_bytes() == inside("notes.md")
    assert temp_files(root) == []


_FAILING_WRITE = """
import json, resource, sys
from pathlib import Path
from ai_sandbox.security import SafeFS
from ai_sandbox.policy import SandboxPolicy
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))  # the write fails mid-way (EFBIG)
fs = SafeFS(Path(sys.argv[1]), SandboxPolicy(allow_writes=True), _use_openat2=sys.argv[2] == "1")
try:
    fs.write_bytes("notes.md", b"y" * 5000)
except Exception as exc:
    print(json.dumps({"type": type(exc).__name__, "limit": getattr(exc, "limit", None)}))
"""


def test_failed_write_keeps_old_content(root: Path, mode: bool) -> None:
    """It leaves the old content and no temp file when the disk refuses mid-write."""
    done = subprocess.run(
        [sys.executable, "-c", _FAILING_WRITE, str(root), "1" if mode else "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == {"type": "ResourceLimitExceeded", "limit": "disk"}
    assert (root / "notes.md").read_bytes() == inside("notes.md")
    assert temp_files(root) == []


def test_write_bytes_refuses_non_bytes(fs: SafeFS, root: Path) -> None:
    """It refuses file content that is not bytes, before touching the file."""
    with pytest.raises(ToolInputError):
        fs.write_bytes("notes.md", "text")  # type: ignore[arg-type]
    assert (root / "notes.md").read_bytes() == inside("notes.md")


def test_write_text_refuses_unencodable_content(fs: SafeFS, root: Path) -> None:
    """It refuses text that is not valid Unicode (lone surrogates) before touching the file."""
    with pytest.raises(ToolInputError):
        fs.write_text("notes.md", "bad \udcff")
    assert (root / "notes.md").read_bytes() == inside("notes.md")


@pytest.mark.parametrize(
    ("path", "readable"),
    [
        pytest.param("d/" * 127 + "f.txt", True, id="128-levels"),
        pytest.param("d/" * 140 + "f.txt", False, id="141-levels"),
        pytest.param("deep/f.txt", False, id="short-link-to-141-levels"),
        pytest.param("d/" * 130 + "../" * 130 + "notes.md", False, id="down-and-up"),
    ],
)
def test_nesting_depth_is_capped(fs: SafeFS, root: Path, path: str, readable: bool) -> None:
    """It refuses paths more than 128 directories deep, given or resolved, in both resolvers."""
    for depth in (127, 140):
        nested = root.joinpath(*["d"] * depth)
        nested.mkdir(parents=True, exist_ok=True)
        (nested / "f.txt").write_text("x")
    (root / "deep").symlink_to("/".join(["d"] * 140))
    if readable:
        assert fs.read_bytes(path) == b"x"
    else:
        with pytest.raises(SecurityError) as info:
            fs.read_bytes(path)
        assert info.value.rule == "path_too_long"


# -- listing -------------------------------------------------------------------------------------
def test_list_dir_sorted_with_types(fs: SafeFS, root: Path) -> None:
    """It lists a directory sorted by name, with types, sizes and root-relative paths."""
    (root / "data" / "zz.txt").write_text("12345")
    entries = fs.list_dir("data")
    assert [e.name for e in entries] == ["numbers.csv", "sub", "up", "up2", "zz.txt"]
    by_name = {e.name: e for e in entries}
    assert by_name["zz.txt"].path == "data/zz.txt"
    assert (by_name["zz.txt"].type, by_name["zz.txt"].size) == ("file", 5)
    assert (by_name["sub"].type, by_name["sub"].size) == ("dir", None)
    assert by_name["up"].type == "symlink"


def test_list_dir_hides_refused_entries(fs: SafeFS, root: Path) -> None:
    """It leaves out entries the policy refuses: deny patterns and unsafe names."""
    (root / "evil\u202etxt.sh").write_text("x")
    (root / "key.PEM").write_text("x")
    names = [e.name for e in fs.list_dir(".")]
    assert ".git" not in names
    assert ".env" not in names
    assert "key.PEM" not in names
    assert "evil\u202etxt.sh" not in names
    assert "notes.md" in names


def test_non_utf8_names_are_hidden_but_reachable_by_link(fs: SafeFS, root: Path) -> None:
    """It hides names that are not UTF-8 from listings, yet follows an inside link to one."""
    os.close(os.open(os.fsencode(root) + b"/raw-\xff.txt", os.O_WRONLY | os.O_CREAT, 0o644))
    os.symlink(b"raw-\xff.txt", os.fsencode(root) + b"/to_raw")
    assert all(e.name.isprintable() for e in fs.list_dir("."))
    assert "to_raw" in {e.name for e in fs.list_dir(".")}
    assert fs.read_bytes("to_raw") == b""


def test_list_dir_through_link_uses_resolved_paths(fs: SafeFS) -> None:
    """It lists a linked directory with paths of where the entries really are."""
    assert {e.path for e in fs.list_dir("link_dir_in/sub")} == {
        "data/sub/deep.txt",
        "data/sub/link_abs_dir",
    }


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        pytest.param("..", "outside_root", id="dotdot"),
        pytest.param("link_dir_out", "symlink_escape", id="dir-symlink-out"),
        pytest.param("link_dotdot", "symlink_escape", id="symlink-to-parent"),
        pytest.param(".git", "deny_pattern", id="denied"),
        pytest.param("notes.md", "not_a_directory", id="file"),
        pytest.param("nowhere", "not_found", id="missing"),
    ],
)
def test_list_dir_refusals(fs: SafeFS, path: str, rule: str) -> None:
    """It refuses to list outside the root, denied directories, files and missing paths."""
    with pytest.raises(SecurityError) as info:
        fs.list_dir(path)
    assert info.value.rule == rule


@pytest.mark.parametrize(
    ("prefix", "count"),
    [
        pytest.param("f", MAX_DIR_ENTRIES + 1, id="visible-entries"),
        pytest.param(".env", MAX_DIR_SCAN + 1, id="entries-the-policy-hides"),
    ],
)
def test_list_dir_work_is_bounded(root: Path, prefix: str, count: int) -> None:
    """It refuses a huge directory, even one whose entries the policy hides from listings."""
    flood = root / "flood"
    flood.mkdir()
    for n in range(count):
        os.close(os.open(flood / f"{prefix}{n}", os.O_WRONLY | os.O_CREAT, 0o644))
    with SafeFS(root, SandboxPolicy()) as fs, pytest.raises(ResourceLimitExceeded) as info:
        fs.list_dir("flood")
    assert info.value.limit == "dir_entries"


# -- the mechanism ------------------------------------------------------------------------------
def test_safefs_is_a_file_access(fs: SafeFS) -> None:
    """It satisfies the FileAccess protocol the executor's open() uses."""
    assert isinstance(fs, FileAccess)


@pytest.mark.parametrize(
    ("path", "opens"),
    [
        pytest.param("data/numbers.csv", True, id="inside"),
        pytest.param("link_in", True, id="symlink-inside"),
        pytest.param("../secret.txt", False, id="dotdot"),
        pytest.param("link_out", False, id="symlink-out"),
        pytest.param("link_abs_in", False, id="absolute-symlink"),
        pytest.param("link_dir_out/canary.txt", False, id="dir-symlink-out"),
    ],
)
def test_openat2_keeps_resolution_beneath_root(root: Path, path: str, opens: bool) -> None:
    """The kernel itself refuses (EXDEV) every resolution that would leave the root."""
    require_openat2(root)
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        flags = os.O_RDONLY | os.O_CLOEXEC
        if opens:
            fd = openat2(root_fd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
            try:
                assert os.read(fd, 100) == inside("data/numbers.csv")
            finally:
                os.close(fd)
        else:
            with pytest.raises(OSError, match="Invalid cross-device link") as info:
                openat2(root_fd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
            assert info.value.errno == errno.EXDEV
    finally:
        os.close(root_fd)
