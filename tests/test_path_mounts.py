"""Mounts beneath the root: pseudo file systems are refused always, other mounts by default.

Real mounts (procfs, sysfs, tmpfs, bind mounts) are made below a temporary root; every test runs
with openat2 and with the component walk. They need root and a kernel that lets us mount: without
either they skip, naming what is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess  # nosec B404 - mount(8)/umount(8) with fixed arguments
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import CANARY

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.audit import AuditLog
from ai_sandbox.exceptions import ConfigurationError, SecurityError
from ai_sandbox.pathlayer.mounts import (
    PSEUDO_FILESYSTEMS,
    MountGuard,
    fs_magic,
    mount_id,
    support,
)
from ai_sandbox.security import SafeFS, safe_path_access

CROSSING = SandboxPolicy(allow_mount_crossing=True, allow_writes=True)
WRITABLE = SandboxPolicy(allow_writes=True)
#: An environment variable only the host process has: it must never come back through a read.
SECRET_ENV = "AI_SANDBOX_TEST_HOST_SECRET"
SECRET = "sk-host-secret-9d1c"

Mount = Callable[..., Path]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)  # nosec B603


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Mount]:
    """``mount(target, "-t", "proc", "proc")``: mount below the test's root, unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root (CAP_SYS_ADMIN); these tests run as root in CI")
    done: list[Path] = []

    def make(target: Path, *args: str) -> Path:
        if not target.is_file():  # a file is a bind mount's target as it is
            target.mkdir(parents=True, exist_ok=True)
        proc = _run("mount", *args, str(target))
        if proc.returncode != 0:
            pytest.skip(f"mount {' '.join(args)} failed here: {proc.stderr.strip()}")
        done.append(target)
        return target

    yield make
    for target in reversed(done):
        _run("umount", "-l", str(target))


@pytest.fixture(params=["openat2", "walk"])
def use_openat2(request: pytest.FixtureRequest, tmp_path: Path) -> bool:
    if request.param == "openat2":
        try:
            SafeFS(tmp_path, SandboxPolicy(), _use_openat2=True).close()
        except ConfigurationError:
            pytest.skip("kernel lacks openat2 (or /proc/self/fd)")
    return bool(request.param == "openat2")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project root with one ordinary file; a canary directory beside it."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "plain.txt").write_text("plain", encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(CANARY, encoding="utf-8")
    return project


@pytest.fixture
def host_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The host process's environment holds a secret (as an agent's API key would be)."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET


#: Every operation of the path layer, as ``(name, call)`` on a SafeFS and a path.
OPERATIONS: list[tuple[str, Callable[[SafeFS, str], object]]] = [
    ("read", lambda fs, p: fs.read_bytes(p)),
    ("list", lambda fs, p: fs.list_dir(p.rsplit("/", 1)[0])),
    ("stat", lambda fs, p: fs.resolve(p)),
    ("write", lambda fs, p: fs.write_bytes(p.rsplit("/", 1)[0] + "/new.txt", b"x")),
]
OPERATION_IDS = [name for name, _ in OPERATIONS]


@pytest.mark.parametrize("operation", [op for _, op in OPERATIONS], ids=OPERATION_IDS)
def test_procfs_below_the_root_is_refused(
    mount: Mount,
    root: Path,
    use_openat2: bool,
    host_secret: str,
    operation: Callable[[SafeFS, str], object],
) -> None:
    """It refuses every operation on a procfs mounted below the root (the host's environ)."""
    mount(root / "chroot" / "proc", "-t", "proc", "proc")
    for policy in (WRITABLE, CROSSING):
        with (
            SafeFS(root, policy, _use_openat2=use_openat2) as fs,
            pytest.raises(SecurityError) as info,
        ):
            operation(fs, "chroot/proc/self/environ")
        assert info.value.rule == "pseudo_filesystem"
        assert "proc file system" in info.value.reason
        assert host_secret not in str(info.value)


@pytest.mark.parametrize("use_walk", [True, False], ids=["walk", "default"])
def test_safe_path_access_refuses_procfs(
    mount: Mount, root: Path, use_walk: bool, host_secret: str
) -> None:
    """It refuses safe_path_access into a procfs below the root, with either policy."""
    mount(root / "proc", "-t", "proc", "proc")
    for policy in (SandboxPolicy(), CROSSING):
        with pytest.raises(SecurityError) as info:
            safe_path_access("proc/self/environ", root, policy=policy)
        assert info.value.rule == "pseudo_filesystem"


#: Pseudo file systems we can mount for a test: (fstype, a path inside it to try).
PSEUDO_MOUNTS = [
    ("proc", "self/status"),
    ("sysfs", "kernel"),
    ("cgroup2", "cgroup.controllers"),
    ("tracefs", "."),
    ("debugfs", "."),
    ("securityfs", "."),
    ("configfs", "."),
    ("bpf", "."),
    ("mqueue", "."),
    ("devpts", "."),
    ("pstore", "."),
    ("hugetlbfs", "."),
    ("binfmt_misc", "status"),
    ("fusectl", "."),
    ("efivarfs", "."),
    ("selinuxfs", "."),
]


@pytest.mark.parametrize(("fstype", "inner"), PSEUDO_MOUNTS, ids=[f for f, _ in PSEUDO_MOUNTS])
def test_every_pseudo_filesystem_is_refused_even_when_crossing_is_allowed(
    mount: Mount, root: Path, use_openat2: bool, fstype: str, inner: str
) -> None:
    """It refuses reading, listing and resolving on each pseudo file system, by its magic."""
    where = mount(root / "m", "-t", fstype, "none")
    target = f"m/{inner}" if inner != "." else "m"
    with SafeFS(root, CROSSING, _use_openat2=use_openat2) as fs:
        for call in (fs.resolve, fs.list_dir, fs.read_bytes):
            with pytest.raises(SecurityError) as info:
                call(target)
            assert info.value.rule in ("pseudo_filesystem", "is_directory", "not_a_directory")
            if call is not fs.read_bytes:
                assert info.value.rule == "pseudo_filesystem"
    fd = os.open(where, os.O_PATH)
    try:
        assert fs_magic(fd) in PSEUDO_FILESYSTEMS, f"{fstype} is missing from the deny list"
    finally:
        os.close(fd)


def test_a_pseudo_filesystem_root_is_a_configuration_error(mount: Mount, tmp_path: Path) -> None:
    """It refuses a root that lies on a pseudo file system outside /proc and /sys."""
    where = mount(tmp_path / "cg", "-t", "cgroup2", "none")
    with pytest.raises(ConfigurationError, match="cgroup2"):
        SafeFS(where, SandboxPolicy())


def _write_over(fs: SafeFS, path: str) -> int:
    return fs.write_bytes(path, b"x")


#: (kind of mount, operation): a bind-mounted *file* sits in an ordinary directory, which may be
#: listed; writing targets the mounted file itself.
CROSSINGS = [
    pytest.param(kind, op, id=f"{kind}-{name}")
    for kind in ("tmpfs", "bind-dir", "bind-file", "via-symlink")
    for name, op in (
        [*OPERATIONS[:1], OPERATIONS[2], ("write", _write_over)]
        if kind == "bind-file"
        else OPERATIONS
    )
]


@pytest.mark.parametrize(("kind", "operation"), CROSSINGS)
def test_other_mounts_are_not_crossed_by_default(
    mount: Mount,
    root: Path,
    tmp_path: Path,
    use_openat2: bool,
    kind: str,
    operation: Callable[[SafeFS, str], object],
) -> None:
    """It refuses crossing into a tmpfs or a bind mount (same device) below the root."""
    outside = tmp_path / "outside"
    if kind == "tmpfs":
        mount(root / "m", "-t", "tmpfs", "tmpfs")
        (root / "m" / "secret.txt").write_text(CANARY, encoding="utf-8")
        path = "m/secret.txt"
    elif kind == "bind-dir":
        mount(root / "m", "--bind", str(outside))
        path = "m/secret.txt"
    elif kind == "bind-file":
        (root / "m").mkdir()
        (root / "m" / "secret.txt").write_text("", encoding="utf-8")
        mount(root / "m" / "secret.txt", "--bind", str(outside / "secret.txt"))
        path = "m/secret.txt"
    else:
        mount(root / "m", "--bind", str(outside))
        (root / "link").symlink_to("m")
        path = "link/secret.txt"
    before = (outside / "secret.txt").read_text(encoding="utf-8")
    with (
        SafeFS(root, WRITABLE, _use_openat2=use_openat2) as fs,
        pytest.raises(SecurityError) as info,
    ):
        operation(fs, path)
    assert info.value.rule == "mount_crossing"
    assert CANARY not in str(info.value)
    assert (outside / "secret.txt").read_text(encoding="utf-8") == before
    assert not (outside / "new.txt").exists()


@pytest.mark.parametrize("kind", ["tmpfs", "bind-dir"])
def test_allow_mount_crossing_reads_and_writes_other_mounts(
    mount: Mount, root: Path, tmp_path: Path, use_openat2: bool, kind: str
) -> None:
    """It reads, lists and writes across a mount when the policy allows mount crossing."""
    if kind == "tmpfs":
        mount(root / "m", "-t", "tmpfs", "tmpfs")
        (root / "m" / "secret.txt").write_text("mounted", encoding="utf-8")
    else:
        (tmp_path / "outside" / "secret.txt").write_text("mounted", encoding="utf-8")
        mount(root / "m", "--bind", str(tmp_path / "outside"))
    with SafeFS(root, CROSSING, _use_openat2=use_openat2) as fs:
        assert fs.read_text("m/secret.txt") == "mounted"
        assert [e.name for e in fs.list_dir("m")] == ["secret.txt"]
        assert fs.write_text("m/new.txt", "x") == 1
        assert fs.relative("m/new.txt") == "m/new.txt"
    assert (root / "m" / "new.txt").read_text(encoding="utf-8") == "x"


def test_files_on_the_roots_own_mount_are_unaffected(
    mount: Mount, root: Path, use_openat2: bool
) -> None:
    """It still reads, lists and writes the root's own files when a mount sits beside them."""
    mount(root / "proc", "-t", "proc", "proc")
    with SafeFS(root, WRITABLE, _use_openat2=use_openat2) as fs:
        assert fs.read_text("plain.txt") == "plain"
        assert "proc" in [e.name for e in fs.list_dir(".")]
        fs.write_text("sub/out.txt", "y")
        assert fs.read_text("sub/out.txt") == "y"


def test_a_root_that_is_itself_a_mount_point_works(mount: Mount, tmp_path: Path) -> None:
    """It serves a root that is a mount point of its own (a volume), mount crossing off."""
    where = mount(tmp_path / "vol", "-t", "tmpfs", "tmpfs")
    (where / "a.txt").write_text("a", encoding="utf-8")
    with SafeFS(where, WRITABLE) as fs:
        assert fs.read_text("a.txt") == "a"
        fs.write_text("d/b.txt", "b")
        assert [e.name for e in fs.list_dir("d")] == ["b.txt"]


def test_mount_ids_tell_bind_mounts_apart(mount: Mount, root: Path, tmp_path: Path) -> None:
    """It sees a bind mount of the same device as another mount (st_dev alone would not)."""
    where = mount(root / "m", "--bind", str(tmp_path / "outside"))
    fds = [os.open(p, os.O_PATH) for p in (root, where)]
    try:
        if mount_id(fds[0]) is None:
            pytest.skip("kernel or libc has no statx(STATX_MNT_ID) (Linux 5.8, glibc 2.28)")
        assert os.fstat(fds[0]).st_dev == os.fstat(fds[1]).st_dev
        assert mount_id(fds[0]) != mount_id(fds[1])
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.parametrize("isolation", ["none", "strict"])
def test_read_file_and_open_do_not_leak_the_hosts_environ(
    mount: Mount, root: Path, host_secret: str, isolation: str
) -> None:
    """It refuses read_file and the AI's open() on a procfs below the root (host's environ)."""
    mount(root / "proc", "-t", "proc", "proc")
    for policy in (
        SandboxPolicy(isolation=isolation),
        CROSSING.model_copy(update={"isolation": isolation}),
    ):
        with contextlib.ExitStack() as stack:
            if isolation == "none":
                stack.enter_context(pytest.warns(UserWarning, match='isolation="none"'))
            box = stack.enter_context(Sandbox(root, policy.model_copy(update={"pool_size": 1})))
            tool = box.call("read_file", {"path": "proc/self/environ"})
            run = box.run("result = open('proc/self/environ').read()")
        assert not tool.ok
        assert tool.error is not None
        assert tool.error.rule == "pseudo_filesystem"
        assert host_secret not in tool.content
        assert run.status != "ok"
        assert host_secret not in run.model_dump_json()


def _overlay(mount: Mount, base: Path, target: Path) -> Path:
    """An overlay of ``base/lower`` (holding lower.txt) and ``base/upper`` at ``target``."""
    for name in ("lower", "upper", "work"):
        (base / name).mkdir(parents=True)
    (base / "lower" / "lower.txt").write_text("from lower", encoding="utf-8")
    (base / "upper" / "upper.txt").write_text("from upper", encoding="utf-8")
    options = f"lowerdir={base / 'lower'},upperdir={base / 'upper'},workdir={base / 'work'}"
    return mount(target, "-t", "overlay", "overlay", "-o", options)


def test_an_overlay_below_the_root_is_another_mount(
    mount: Mount, root: Path, tmp_path: Path, use_openat2: bool
) -> None:
    """It refuses an overlay mounted below the root by default, and reads it when allowed."""
    _overlay(mount, tmp_path / "layers", root / "ov")
    with SafeFS(root, SandboxPolicy(), _use_openat2=use_openat2) as fs:
        with pytest.raises(SecurityError) as info:
            fs.read_text("ov/lower.txt")
        assert info.value.rule == "mount_crossing"
    with SafeFS(root, CROSSING, _use_openat2=use_openat2) as fs:
        assert fs.read_text("ov/lower.txt") == "from lower"
        assert fs.read_text("ov/upper.txt") == "from upper"


def test_a_root_on_an_overlay_reads_every_layer(
    mount: Mount, tmp_path: Path, use_openat2: bool
) -> None:
    """It serves a root on an overlay (a container's /) whose files report other devices."""
    where = _overlay(mount, tmp_path / "layers", tmp_path / "ov")
    policy = SandboxPolicy(allow_writes=True)
    with SafeFS(where, policy, _use_openat2=use_openat2) as fs:
        assert fs.read_text("lower.txt") == "from lower"
        assert fs.read_text("upper.txt") == "from upper"
        fs.write_text("new/x.txt", "x")
        assert fs.read_text("new/x.txt") == "x"
        assert safe_path_access("lower.txt", where) == where / "lower.txt"


@pytest.mark.parametrize("name", ["null", "zero", "random", "tty"])
def test_device_nodes_through_a_bind_mount_stay_refused(
    mount: Mount, root: Path, use_openat2: bool, name: str
) -> None:
    """It refuses /dev nodes bind-mounted below the root, even with mount crossing allowed."""
    mount(root / "dev", "--bind", "/dev")
    for policy, rule in ((SandboxPolicy(), "mount_crossing"), (CROSSING, "special_file")):
        with SafeFS(root, policy, _use_openat2=use_openat2) as fs:
            with pytest.raises(SecurityError) as info:
                fs.read_bytes(f"dev/{name}")
            assert info.value.rule == rule


def test_the_audit_records_the_refused_mount(
    mount: Mount, root: Path, tmp_path: Path, host_secret: str
) -> None:
    """It audits a refused pseudo-file-system read with its rule and the path asked for."""
    mount(root / "proc", "-t", "proc", "proc")
    log_path = tmp_path / "audit.jsonl"
    policy = SandboxPolicy(isolation="none")
    with (
        pytest.warns(UserWarning, match='isolation="none"'),
        AuditLog(log_path, fsync="never") as log,
        Sandbox(root, policy, audit=log) as box,
    ):
        box.call("read_file", {"path": "proc/self/environ"})
    text = log_path.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()]
    refused = [r for r in records if r.get("rule") == "pseudo_filesystem"]
    assert refused, records
    assert "proc/self/environ" in json.dumps(refused[-1])
    assert host_secret not in text


def test_the_machine_support_is_reported() -> None:
    """It reports whether fstatfs and mount ids work here (this kernel has both)."""
    found = support()
    assert found.fstatfs is True
    assert found.mount_ids is True


@pytest.mark.parametrize("policy", [WRITABLE, CROSSING], ids=["default", "crossing"])
def test_a_recursive_listing_never_enters_a_pseudo_filesystem(
    mount: Mount, root: Path, use_openat2: bool, policy: SandboxPolicy
) -> None:
    """It lists a procfs mount point below the root as a directory but never descends into it
    (no pids, no ``self``), whatever ``allow_mount_crossing`` says; a tmpfs below the root is
    entered only when crossing mounts is allowed."""
    mount(root / "chroot" / "proc", "-t", "proc", "proc")
    tmp = mount(root / "scratch", "-t", "tmpfs", "tmpfs")
    (tmp / "inside.txt").write_text("x", encoding="utf-8")
    with SafeFS(root, policy, _use_openat2=use_openat2) as fs:
        entries, _ = fs.list_tree(".", depth=4, max_entries=1000)
    paths = {e.path for e in entries}
    assert "chroot/proc" in paths
    assert not any(p.startswith("chroot/proc/") for p in paths)
    assert ("scratch/inside.txt" in paths) is policy.allow_mount_crossing


@pytest.mark.parametrize("use_mount_ids", [True, False], ids=["mount-ids", "devices-only"])
def test_the_mount_guard_refuses_another_device_with_or_without_mount_ids(
    mount: Mount, root: Path, use_mount_ids: bool
) -> None:
    """It refuses a tmpfs below the root by mount id, and by st_dev where there are no ids."""
    mount(root / "m", "-t", "tmpfs", "tmpfs")
    (root / "sub").mkdir()
    root_fd = os.open(root, os.O_PATH)
    fds = {name: os.open(root / name, os.O_PATH) for name in ("m", "sub")}
    try:
        guard = MountGuard(root_fd, use_mount_ids=use_mount_ids)
        guard.check(fds["sub"], os.fstat(fds["sub"]), "sub")
        with pytest.raises(SecurityError) as info:
            guard.check(fds["m"], os.fstat(fds["m"]), "m")
        assert info.value.rule == "mount_crossing"
    finally:
        for fd in (root_fd, *fds.values()):
            os.close(fd)
