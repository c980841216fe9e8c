"""Writes in ``language="python"``: the kernel holds the code to a private overlay of the root,
and the host's path layer decides every file it wrote (see ``isolation/fsview_writes.py``).

Real workers, code that calls the OS directly (``os.open``, ``ctypes`` ``open(2)``), and the
disk checked from the host after each run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.results import ExecutionResult

WRITES = SandboxPolicy(language="python", allow_writes=True, timeout_s=10.0)

#: Code that creates ``NAME`` holding ``b"data"``, one way each.
CREATE = {
    "open": "open(NAME, 'w').write('data')",
    "os.open O_CREAT": (
        "import os\nfd = os.open(NAME, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)\n"
        "os.write(fd, b'data')\nos.close(fd)"
    ),
    "ctypes open(2)": (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "fd = libc.open(NAME.encode(), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)\n"
        "assert fd >= 0, os.strerror(ctypes.get_errno())\n"
        "assert libc.write(fd, b'data', 4) == 4\nlibc.close(fd)"
    ),
    "pathlib": "import pathlib\npathlib.Path(NAME).write_bytes(b'data')",
    "shutil.copyfile": (
        "import shutil, tempfile, os\np = os.path.join(tempfile.gettempdir(), 's')\n"
        "open(p, 'w').write('data')\nshutil.copyfile(p, NAME)"
    ),
}


def _code(kind: str, name: str) -> str:
    return f"NAME = {name!r}\n" + CREATE[kind] + "\nresult = 'done'"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with a file, a subdirectory, a secret; a file outside."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "notes.json").write_text('{"k": 1}', encoding="utf-8")
    (project / ".env").write_text("SECRET=1", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("outside", encoding="utf-8")
    return project


@pytest.fixture
def sandbox(root: Path) -> Iterator[Sandbox]:
    with Sandbox(root, WRITES) as sb:
        yield sb


def _tree(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def _written(result: ExecutionResult) -> list[str]:
    return [r.path for r in result.files if r.op == "write" and r.outcome == "ok"]


# -- with allow_writes: applied by the host -------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(CREATE))
def test_it_applies_writes_made_with_any_file_api(sandbox: Sandbox, root: Path, kind: str) -> None:
    """It writes a new file beneath the root, whatever API the code used, and records it."""
    result = sandbox.run(_code(kind, "data/out.bin"))
    assert result.status == "ok", result
    assert (root / "data" / "out.bin").read_bytes() == b"data"
    assert _written(result) == ["data/out.bin"]


def test_it_applies_new_directories_and_replacements(sandbox: Sandbox, root: Path) -> None:
    """It creates new directories' files and replaces an existing file through os.replace."""
    code = (
        "import os\nos.makedirs('a/b', exist_ok=True)\nopen('a/b/c.txt', 'w').write('c')\n"
        "open('tmp.json', 'w').write('{\"k\": 2}')\nos.replace('tmp.json', 'notes.json')\n"
        "result = sorted(os.listdir('.'))"
    )
    result = sandbox.run(code)
    assert result.status == "ok", result
    assert (root / "a" / "b" / "c.txt").read_text() == "c"
    assert (root / "notes.json").read_text() == '{"k": 2}'
    assert not (root / "tmp.json").exists()
    assert sorted(_written(result)) == ["a/b/c.txt", "notes.json"]


def test_it_applies_pandas_to_csv(sandbox: Sandbox, root: Path) -> None:
    """It writes what pandas' to_csv writes."""
    pytest.importorskip("pandas", reason="the data extra (pandas) is not installed")
    code = "import pandas as pd\npd.DataFrame({'a': [1, 2]}).to_csv('out.csv', index=False)"
    result = sandbox.run(code)
    assert result.status == "ok", result
    assert (root / "out.csv").read_text() == "a\n1\n2\n"


# -- without allow_writes: nothing -----------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(CREATE))
def test_it_refuses_writes_without_allow_writes(root: Path, kind: str) -> None:
    """It refuses every write API (EROFS/EACCES) when allow_writes is off; nothing changes."""
    before = _tree(root)
    with Sandbox(root, SandboxPolicy(language="python")) as sb:
        result = sb.run(_code(kind, "out.bin"))
    assert result.status == "error", result
    assert result.error is not None
    assert any(
        word in result.error.message for word in ("Read-only", "Permission denied", "EROFS")
    ), result.error
    assert _tree(root) == before


# -- the host's path layer decides ----------------------------------------------------------------
@pytest.mark.parametrize("name", [".env", ".env.local", "id_rsa", "keys/server.pem", ".git/config"])
@pytest.mark.parametrize("kind", ["open", "os.open O_CREAT", "ctypes open(2)"])
def test_it_never_writes_a_deny_pattern_name(
    sandbox: Sandbox, root: Path, name: str, kind: str
) -> None:
    """It refuses a deny-pattern name the code created or overwrote; it never reaches the disk."""
    before = _tree(root)
    prefix = f"import os\nos.makedirs(os.path.dirname({name!r}) or '.', exist_ok=True)\n"
    result = sandbox.run(prefix + _code(kind, name))
    assert result.status in ("rejected", "error"), result
    if result.status == "rejected":
        assert result.error is not None
        assert result.error.rule == "deny_pattern"
    assert _tree(root) == before
    assert (root / ".env").read_text() == "SECRET=1"


def test_it_never_writes_a_write_deny_pattern_name(root: Path) -> None:
    """It refuses a write_deny_patterns name (still readable) and leaves it as it was."""
    (root / "conftest.py").write_text("# original\n", encoding="utf-8")
    before = _tree(root)
    policy = WRITES.model_copy(update={"write_deny_patterns": ("conftest.py",)})
    with Sandbox(root, policy) as sb:
        result = sb.run(
            "text = open('conftest.py').read()\n"
            "open('new.py', 'w').write('x')\nopen('x.tmp', 'w').write('import os')\n"
            "__import__('os').replace('x.tmp', 'conftest.py')\nresult = text"
        )
    assert result.status == "rejected", result
    assert result.error is not None
    assert result.error.rule == "write_deny_pattern"
    assert (root / "conftest.py").read_text() == "# original\n"
    assert set(_tree(root)) - set(before) <= {"new.py"}


# -- limits ----------------------------------------------------------------------------------------
def test_it_stops_a_file_over_max_file_bytes(root: Path) -> None:
    """It fails a write past max_file_bytes with EFBIG and applies no part of that file."""
    policy = WRITES.model_copy(update={"max_file_bytes": 4096})
    before = _tree(root)
    with Sandbox(root, policy) as sb:
        result = sb.run(
            "import os\nfd = os.open('big.bin', os.O_CREAT | os.O_WRONLY, 0o644)\n"
            "try:\n    os.write(fd, b'x' * 8192)\n    os.write(fd, b'x' * 8192)\n"
            "except OSError as exc:\n    result = exc.errno\nelse:\n    result = 0\n"
        )
    assert result.status == "ok", result
    assert result.result == __import__("errno").EFBIG
    assert "big.bin" in result.stdout  # named as not applied
    assert _tree(root) == before


@pytest.mark.parametrize("caught", [True, False], ids=["caught", "uncaught"])
def test_it_applies_nothing_past_max_write_bytes_total(root: Path, caught: bool) -> None:
    """It fails the write that passes the run's quota (ENOSPC) and applies none of the run's
    files, whether or not the code caught the error."""
    policy = WRITES.model_copy(update={"max_write_bytes_total": 64 * 1024})
    before = _tree(root)
    body = "for i in range(4):\n    open(f'f{i}.bin', 'wb').write(b'x' * 30000)\n"
    if caught:
        body = (
            "try:\n"
            + "".join(f"    {line}\n" for line in body.splitlines())
            + ("except OSError as exc:\n    print(exc.errno)\n")
        )
    with Sandbox(root, policy) as sb:
        result = sb.run(body)
    assert result.status == "limit", result
    assert result.error is not None
    assert result.error.rule == "write_total"
    assert _tree(root) == before
    assert result.files == ()


def test_the_host_counts_the_runs_total(root: Path) -> None:
    """It refuses, in the host, a write that takes the run's total past max_write_bytes_total."""
    from ai_sandbox.isolation.broker import Broker
    from ai_sandbox.isolation.exchange import _Serving
    from ai_sandbox.security import SafeFS

    policy = WRITES.model_copy(update={"max_write_bytes_total": 10})
    fs = SafeFS(root, policy)
    broker = Broker(fs, policy)
    serving = _Serving(policy)
    first = {"type": "write", "path": "a.txt", "data": b"x" * 8}
    assert serving.over_write_total(first, broker) is None
    serving.note(broker.serve(first))
    second = {"type": "write", "path": "b.txt", "data": b"x" * 8}
    refused = serving.over_write_total(second, broker)
    assert refused is not None
    assert refused.reply["error"]["rule"] == "write_total"
    assert (root / "a.txt").exists()
    assert not (root / "b.txt").exists()
    fs.close()


# -- links, deletions, isolation between runs ------------------------------------------------------
def test_it_cannot_hard_link_an_outside_file(sandbox: Sandbox, root: Path) -> None:
    """It refuses a hard link to a file outside the root (another mount: EXDEV)."""
    before = _tree(root)
    result = sandbox.run(
        "import os\ntry:\n    os.link(os.__file__, 'linked.py')\n"
        "except OSError as exc:\n    result = exc.errno\nelse:\n    result = 0"
    )
    assert result.status == "ok", result
    assert result.result in (__import__("errno").EXDEV, __import__("errno").EACCES)
    assert _tree(root) == before


def test_a_hard_link_inside_becomes_a_copy(sandbox: Sandbox, root: Path) -> None:
    """It applies a hard link the code made between its own files as two plain files."""
    result = sandbox.run(
        "import os\nopen('mine.txt', 'w').write('m')\nos.link('mine.txt', 'again.txt')\n"
        "result = os.stat('mine.txt').st_nlink"
    )
    assert result.status == "ok", result
    assert result.result == 2
    assert (root / "again.txt").read_text() == "m" == (root / "mine.txt").read_text()
    assert os.stat(root / "mine.txt").st_nlink == os.stat(root / "again.txt").st_nlink == 1


def test_it_refuses_symlinks_and_reports_deletions(sandbox: Sandbox, root: Path) -> None:
    """It refuses creating a symbolic link, and names a deletion as not applied."""
    result = sandbox.run(
        "import os\ntry:\n    os.symlink('/etc/passwd', 'evil')\n"
        "except OSError as exc:\n    print('symlink', exc.errno)\n"
        "os.unlink('notes.json')\nresult = os.path.exists('notes.json')"
    )
    assert result.status == "ok", result
    assert result.result is False
    assert "symlink" in result.stdout
    assert "notes.json (deleted" in result.stdout
    assert not (root / "evil").exists()
    assert not (root / "evil").is_symlink()
    assert (root / "notes.json").read_text() == '{"k": 1}'


def test_runs_do_not_see_each_others_unapplied_writes(sandbox: Sandbox, root: Path) -> None:
    """It gives every run a fresh overlay: a refused file is gone at the next run."""
    first = sandbox.run("open('id_rsa', 'w').write('k')\nresult = 1")
    assert first.status == "rejected", first
    second = sandbox.run("import os\nresult = os.path.exists('id_rsa')")
    assert second.status == "ok", second
    assert second.result is False


@pytest.mark.parametrize(
    "ending",
    ["import time\ntime.sleep(30)", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"],
    ids=["timeout", "killed"],
)
def test_a_run_that_does_not_finish_applies_nothing(root: Path, ending: str) -> None:
    """It applies nothing of a run that timed out or was killed (the overlay dies with it)."""
    before = _tree(root)
    policy = WRITES.model_copy(update={"timeout_s": 2.0})
    with Sandbox(root, policy) as sb:
        result = sb.run("open('partial.txt', 'w').write('x')\n" + ending)
    assert result.status in ("timeout", "error", "limit"), result
    assert _tree(root) == before


def test_a_session_applies_each_runs_writes_once(sandbox: Sandbox, root: Path) -> None:
    """It applies a session's writes after each run and does not send unchanged files again."""
    with sandbox.session() as session:
        first = session.run("open('s.txt', 'w').write('1')\nresult = 1")
        second = session.run("open('t.txt', 'w').write('2')\nresult = 2")
    assert first.status == "ok", first
    assert second.status == "ok", second
    assert _written(first) == ["s.txt"]
    assert _written(second) == ["t.txt"]
    assert (root / "s.txt").read_text() == "1"
    assert (root / "t.txt").read_text() == "2"


def test_a_session_offers_a_refused_file_once(sandbox: Sandbox, root: Path) -> None:
    """It rejects the session's run that wrote a denied name, not every later run."""
    with sandbox.session() as session:
        first = session.run("open('id_rsa', 'w').write('k')\nresult = 1")
        second = session.run("open('u.txt', 'w').write('u')\nresult = 2")
    assert first.status == "rejected", first
    assert second.status == "ok", second
    assert (root / "u.txt").read_text() == "u"
    assert not (root / "id_rsa").exists()


def test_it_overwrites_a_file_in_place(sandbox: Sandbox, root: Path) -> None:
    """It lets the code rewrite an existing file in place, also when the host runs as root and
    the worker as nobody (an idmapped lower layer), and applies the new content."""
    result = sandbox.run("open('notes.json', 'w').write('{}')\nresult = 1")
    assert result.status == "ok", result
    assert (root / "notes.json").read_text() == "{}"
    again = sandbox.run("open('notes.json', 'a').write(' ')\nresult = 2")
    assert again.status == "ok", again
    assert (root / "notes.json").read_text() == "{} "


def test_the_lower_layer_is_out_of_reach(sandbox: Sandbox, root: Path) -> None:
    """It leaves no uncovered copy of the root reachable beside the overlay (the deny-pattern
    file stays unreadable)."""
    result = sandbox.run(
        "import os\nfound = []\n"
        "for top, dirs, files in os.walk('/.ai-sandbox-view'):\n"
        "    found += [os.path.join(top, f) for f in files if f == '.env']\n"
        "try:\n    open('.env').read()\nexcept OSError as exc:\n    found.append(exc.errno)\n"
        "result = found"
    )
    assert result.status == "ok", result
    assert all(isinstance(item, int) for item in result.result), result.result


# -- modes and times: allowed inside the view, where nothing of the host's is writable ------------
def test_shutil_copy_and_copy2_work(sandbox: Sandbox, root: Path) -> None:
    """It runs ``shutil.copy``/``copy2`` (they copy a file's mode and times with chmod/utime),
    and the host applies the copies' content."""
    code = (
        "import shutil\nshutil.copy('notes.json', 'copy.json')\n"
        "shutil.copy2('notes.json', 'data/copy2.json')\nresult = 'done'"
    )
    res = sandbox.run(code)
    assert res.status == "ok", res.error
    assert (root / "copy.json").read_text(encoding="utf-8") == '{"k": 1}'
    assert (root / "data" / "copy2.json").read_text(encoding="utf-8") == '{"k": 1}'


@pytest.mark.parametrize("writes", [False, True], ids=["read-only", "allow_writes"])
def test_changing_a_files_mode_never_reaches_the_host(root: Path, writes: bool) -> None:
    """It lets code chmod/utime a file only in its private view: the host's file keeps its mode
    and times (read-only root: refused; with writes: the overlay's copy changes, not the disk),
    and changing an owner stays refused by seccomp."""
    target = root / "notes.json"
    target.chmod(0o644)
    before = target.stat()
    code = (
        "import os, errno\nout = {}\n"
        "for name, call in [('chmod', lambda: os.chmod('notes.json', 0o777)),\n"
        "                   ('utime', lambda: os.utime('notes.json', (0, 0))),\n"
        "                   ('chown', lambda: os.chown('notes.json', 0, 0))]:\n"
        "    try:\n        call()\n        out[name] = 'ok'\n"
        "    except OSError as exc:\n        out[name] = errno.errorcode[exc.errno]\n"
        "result = out"
    )
    with Sandbox(
        root, WRITES if writes else WRITES.model_copy(update={"allow_writes": False})
    ) as sb:
        res = sb.run(code)
    assert res.status == "ok", res.error
    assert res.result["chown"] == "EPERM"
    if not writes:
        assert res.result["chmod"] in {"EROFS", "EACCES", "EPERM"}
    after = target.stat()
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)
    assert target.read_text(encoding="utf-8") == '{"k": 1}'
    if writes:
        # The copied-up file is written back whole by the host (same content, a fresh mtime):
        # the code's utime((0, 0)) never reaches the disk.
        assert after.st_mtime_ns != 0
    else:
        assert after.st_mtime_ns == before.st_mtime_ns
