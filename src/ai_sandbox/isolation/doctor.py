"""``ai-sandbox doctor``: which layers this machine offers, and live proof that they hold.

It prints every layer (available on this kernel? active in a real worker?), then runs attacks
inside a real worker with RestrictedPython switched off, so only the OS layers stand in the
way: read and write outside the root, reach a loopback listener, start a process, read a
secret from the host's environment, exceed the memory limit, spin past the timeout. The exit
status is 0 only when the strict level is available and every check held.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ai_sandbox.exceptions import SandboxError
from ai_sandbox.isolation._syscalls import ARCH
from ai_sandbox.isolation.doctor_report import (
    identity_lines,
    path_layer_lines,
    worker_read_rules,
    write_read_rules,
)
from ai_sandbox.isolation.layers import LAYER_NAMES, probe_layers
from ai_sandbox.isolation.protocol import wait_readable
from ai_sandbox.isolation.read_rules import ReadRulePlan
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import ExecutionResult

__all__ = ["Check", "doctor_main", "live_checks", "view_checks"]

_ENV_CANARY = "AI_SANDBOX_DOCTOR_CANARY"
_TIMEOUT_S = 1.0
_MEMORY_MB = 128


@dataclass(frozen=True, slots=True)
class Check:
    """One containment attempt: ``code`` runs unguarded; ``held`` judges its result."""

    name: str
    code: str
    held: Callable[[ExecutionResult, float], bool]


@dataclass(frozen=True, slots=True)
class _Targets:
    """What the attacks aim at, all outside the sandbox root."""

    secret_file: Path
    write_target: Path
    listener: socket.socket
    canary: str


def _syscall_attempt(name: str, args: str) -> str:
    """Code making the raw system call ``name`` (numbered here; -1 where unknown: ENOSYS)."""
    nr = ARCH.numbers.get(name, -1) if ARCH is not None else -1
    return (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"if libc.syscall({nr}, {args}) < 0:\n    raise OSError(ctypes.get_errno(), {name!r})"
    )


def _refused(result: ExecutionResult, _elapsed: float) -> bool:
    return result.status != "ok"


def live_checks(targets: _Targets) -> tuple[Check, ...]:
    """The attacks, each with how to tell that the OS stopped it."""
    canary = targets.canary

    def no_canary(result: ExecutionResult, _elapsed: float) -> bool:
        return canary not in repr(result.result) + result.stdout

    def timed_out(result: ExecutionResult, elapsed: float) -> bool:
        return result.status == "timeout" and elapsed <= _TIMEOUT_S * 1.5 + 0.25

    def not_written(result: ExecutionResult, _elapsed: float) -> bool:
        return result.status != "ok" and not targets.write_target.exists()

    def not_connected(result: ExecutionResult, _elapsed: float) -> bool:
        targets.listener.setblocking(False)
        try:
            targets.listener.accept()[0].close()
        except BlockingIOError:
            return result.status != "ok"
        return False

    secret_mode = targets.secret_file.stat().st_mode

    def mode_unchanged() -> bool:
        return targets.secret_file.stat().st_mode == secret_mode

    def os_refused(result: ExecutionResult, _elapsed: float) -> bool:
        # Not just "no result": a successful exec would also end without one.
        return result.error is not None and result.error.type in ("PermissionError", "OSError")

    def not_found(result: ExecutionResult, _elapsed: float) -> bool:
        return result.error is not None and result.error.type == "FileNotFoundError"

    port = targets.listener.getsockname()[1]
    return (
        Check("read /etc/passwd", "result = open('/etc/passwd').read()", _refused),
        Check(
            "read a file outside the root",
            f"result = open({str(targets.secret_file)!r}).read()",
            lambda r, e: _refused(r, e) and no_canary(r, e),
        ),
        Check(
            "write outside the root",
            f"open({str(targets.write_target)!r}, 'w').write('owned')",
            not_written,
        ),
        Check(
            "connect to a loopback listener",
            "import socket\n"
            f"s = socket.socket(); s.settimeout(1); s.connect(('127.0.0.1', {port}))",
            not_connected,
        ),
        Check(
            "start a process (fork)",
            "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nresult = pid",
            _refused,
        ),
        Check("start a process (exec)", "import os\nos.execv('/bin/true', ['true'])", os_refused),
        Check(
            "change a file's mode outside the root",
            f"import os\nos.chmod({str(targets.secret_file)!r}, 0o777)",
            # seccomp refuses it (EPERM), or, in python mode, where chmod is allowed inside the
            # view, the view has no such file (ENOENT); either way the host's file is untouched.
            lambda r, e: (os_refused(r, e) or not_found(r, e)) and mode_unchanged(),
        ),
        Check(
            "watch files outside the root (inotify)",
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "if libc.inotify_init1(0) < 0:\n    raise OSError(ctypes.get_errno(), 'inotify_init1')",
            os_refused,
        ),
        Check(
            "clear its parent-death signal (prctl)",
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "if libc.prctl(1, 0, 0, 0, 0) != 0:\n    raise OSError(ctypes.get_errno(), 'prctl')",
            os_refused,
        ),
        Check(
            "use native AIO (a machine-wide budget)",
            _syscall_attempt("io_setup", "4096, ctypes.byref(ctypes.c_ulong())"),
            os_refused,
        ),
        Check(
            "read the host's environment",
            "import os\nresult = dict(os.environ)\n"
            "try:\n    result['proc'] = open('/proc/self/environ', 'rb').read().decode('latin-1')\n"
            "except OSError:\n    pass",
            no_canary,
        ),
        Check(
            f"allocate 4x the {_MEMORY_MB} MiB memory limit",
            f"result = len(bytearray({4 * _MEMORY_MB} * 1024 * 1024))",
            _refused,
        ),
        Check("spin past the timeout", "while True:\n    pass", timed_out),
    )


def _package_checks(rules: ReadRulePlan | str) -> tuple[Check, ...]:
    """Reading beside the ai_sandbox package must fail, unless that directory is itself granted
    (a wheel in site-packages)."""
    package = Path(__file__).resolve().parents[1]
    if isinstance(rules, str) or str(package.parent) in rules.paths("read"):
        return ()
    return (
        Check(
            "list the directory containing ai_sandbox",
            f"import os\nresult = os.listdir({str(package.parent)!r})",
            _refused_or_only_the_package,
        ),
    )


def _refused_or_only_the_package(result: ExecutionResult, elapsed: float) -> bool:
    """Held when the listing is refused, or (inside the filesystem view, where the directory is
    only the mount point's parent) shows nothing but the package itself."""
    return _refused(result, elapsed) or (result.ok and result.result == ["ai_sandbox"])


def view_checks(targets: _Targets) -> tuple[Check, ...]:
    """The filesystem view (``fs_view``): host paths outside the root do not even exist."""

    def not_found(result: ExecutionResult, _elapsed: float) -> bool:
        return result.error is not None and result.error.type == "FileNotFoundError"

    return (
        Check(
            "see /etc/passwd (stat)",
            "import os\nresult = os.stat('/etc/passwd').st_size",
            not_found,
        ),
        Check(
            "see a file outside the root (stat)",
            f"import os\nresult = os.stat({str(targets.secret_file)!r}).st_size",
            not_found,
        ),
    )


def doctor_main(root: Path | None = None, out: TextIO = sys.stdout) -> int:
    """Print the layer report and the live checks; 0 only when every required layer held."""
    root = (root or Path.cwd()).resolve()
    out.write(f"ai-sandbox doctor (root: {root})\n\n")
    probe = probe_layers()
    policy = SandboxPolicy(isolation="strict", timeout_s=_TIMEOUT_S, memory_limit_mb=_MEMORY_MB)
    failures = 0
    with _environment_canary() as canary, _attack_targets(root, canary) as targets:
        backend, note = _start(root, policy)
        if note:
            failures += 1
            out.write(f"strict isolation is NOT available: {note}\n\n")
        active = set(backend.layers) if backend is not None else set()
        out.write("Layers                available  active   detail\n")
        for name in LAYER_NAMES:
            status = probe.get(name)
            available = "yes" if status is not None and status.available else "no"
            detail = status.detail if status is not None else "not probed"
            is_active = "yes" if name in active else "no"
            out.write(f"  {name:<19} {available:<10} {is_active:<8} {detail}\n")
            if backend is not None and name in backend.required and name not in active:
                failures += 1
        lines = [*identity_lines(frozenset(active)), *path_layer_lines(root)]
        out.write("\n" + "\n".join(lines) + "\n")
        rules = worker_read_rules(root)
        write_read_rules(out, rules)
        if backend is None:
            out.write("\nNo worker could be started; nothing was checked live.\n")
            return 1
        out.write("\nLive checks in a real worker, RestrictedPython OFF (the OS alone):\n")
        try:
            checks = (*live_checks(targets), *_package_checks(rules))
            if "fs_view" in active:  # where the kernel offers no view, Landlock alone holds
                checks += view_checks(targets)
            for check in checks:
                held, summary = _attempt(backend, check)
                failures += 0 if held else 1
                _verdict(out, held, check.name, summary)
            if backend._zygote.info.locked:
                failures += _locked_zygote_report(backend, out)
            held, summary = _outlive_zygote(backend)  # last: it kills the zygote
            failures += 0 if held else 1
            _verdict(out, held, "die with its parent (the zygote)", summary)
        finally:
            backend.close()
        if not note:  # strict isolation is available: prove it for language="python" too
            from ai_sandbox.isolation.doctor_python import python_mode_report

            failures += python_mode_report(targets, out)
    if failures:
        out.write(f"\n{failures} problem(s): this machine does not contain AI code as required.\n")
        return 1
    out.write("\nEvery required layer is active and held.\n")
    return 0


def _locked_zygote_report(backend: WorkerBackend, out: TextIO) -> int:
    """The zygote locked itself down once (see :mod:`.zygote_lock`): prove its state, a
    worker's stacked filter, and that a worker reaches neither the zygote nor a sibling."""
    from ai_sandbox.isolation.doctor_zygote import worker_attacks, zygote_state_checks

    out.write(
        "\nThe zygote locked itself down once (workers inherit it, and add their own filter and"
        " Landlock domain):\n"
    )
    failures = 0
    for held, name, summary in (*zygote_state_checks(backend), *worker_attacks(backend)):
        failures += 0 if held else 1
        _verdict(out, held, name, summary)
    return failures


def _start(root: Path, policy: SandboxPolicy) -> tuple[WorkerBackend | None, str]:
    """A guard-off backend at strict level, or at process level (and why) if strict fails."""
    try:
        return WorkerBackend(root, policy, _language_guard=False), ""
    except SandboxError as exc:
        note = str(exc)
    try:
        weaker = policy.model_copy(update={"isolation": "process"})
        return WorkerBackend(root, weaker, _language_guard=False), note
    except SandboxError as exc:
        return None, f"{note}; process level failed too: {exc}"


def _attempt(backend: WorkerBackend, check: Check) -> tuple[bool, str]:
    start = time.monotonic()
    result = backend.execute(check.code)
    elapsed = time.monotonic() - start
    held = check.held(result, elapsed)
    if result.error is not None:
        summary = f"{result.status}: {result.error.type}: {result.error.message}"
    else:
        summary = f"{result.status}: {str(result.result)[:60]!r}"
    return held, f"({summary[:100]}, {elapsed:.2f} s)"


def _verdict(out: TextIO, held: bool, name: str, summary: str) -> None:
    out.write(f"  {'HELD  ' if held else 'FAILED'} {name:<40} {summary}\n")


def _outlive_zygote(backend: WorkerBackend) -> tuple[bool, str]:
    """Kill the zygote under a waiting worker: the worker must die with it (pdeathsig)."""
    worker = backend._pool.take()
    try:
        os.kill(backend._zygote.pid, signal.SIGKILL)
        gone = wait_readable(worker.pidfd, 1.0)
    finally:
        worker.close()
    return gone, "(the worker died with it)" if gone else "(the worker survived its parent)"


@contextmanager
def _environment_canary() -> Iterator[str]:
    """A secret in this process's environment while the checks run (the zygote must not see
    it: workers start with an empty environment)."""
    canary = f"doctor-canary-{secrets.token_hex(8)}"
    previous = os.environ.get(_ENV_CANARY)
    os.environ[_ENV_CANARY] = canary
    try:
        yield canary
    finally:
        if previous is None:
            os.environ.pop(_ENV_CANARY, None)
        else:
            os.environ[_ENV_CANARY] = previous


@contextmanager
def _attack_targets(root: Path, canary: str) -> Iterator[_Targets]:
    """A secret file and a write target outside ``root``, and a loopback listener."""
    with tempfile.TemporaryDirectory(prefix="ai-sandbox-doctor-") as outside:
        base = Path(outside)
        if base.resolve().is_relative_to(root):
            base = Path("/")  # root contains the temp dir: aim at the filesystem root
        secret = Path(outside) / "secret.txt"
        secret.write_text(canary, encoding="utf-8")
        listener = socket.create_server(("127.0.0.1", 0))
        try:
            yield _Targets(
                secret_file=secret,
                write_target=base / f"ai-sandbox-doctor-{secrets.token_hex(4)}",
                listener=listener,
                canary=canary,
            )
        finally:
            listener.close()
