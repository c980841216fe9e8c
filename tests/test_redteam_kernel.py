"""Red-team findings on the worker's kernel surface, each layer on its own.

Signals: a worker could signal its zygote, its siblings and (on an unprivileged host, where
workers keep the host's uid) every process of the user, when Landlock's signal scope (ABI 6)
was missing: the seccomp layer refused only ``kill`` of a process group. The worker's seccomp
layer alone must now keep its signals to itself.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import struct
import subprocess  # nosec B404 - a sleeping sibling with fixed arguments
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from layers_support import outcome, run_in_child

from ai_sandbox.isolation import _syscalls, privileges, seccomp
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.policy import SandboxPolicy

pytestmark = pytest.mark.skipif(
    _syscalls.ARCH is None, reason="seccomp filters are built for Linux x86_64/aarch64 only"
)


def _queue_signal(call: str, pid: int) -> None:
    """``rt_sigqueueinfo``/``rt_tgsigqueueinfo`` of signal 0 (a permission check only)."""
    info = ctypes.create_string_buffer(128)
    ctypes.c_int.from_buffer(info, 8).value = -1  # si_code SI_QUEUE, as sigqueue(3) sends
    if call == "rt_sigqueueinfo":
        _syscalls.syscall(call, pid, 0, ctypes.addressof(info))
    else:
        _syscalls.syscall(call, pid, pid, 0, ctypes.addressof(info))


#: Ways to signal process ``pid`` (signal 0: the permission check without a signal).
SENDERS: dict[str, Callable[[int], object]] = {
    "kill": lambda pid: os.kill(pid, 0),
    "tkill": lambda pid: _syscalls.syscall("tkill", pid, 0),
    "tgkill": lambda pid: _syscalls.syscall("tgkill", pid, pid, 0),
    "rt_sigqueueinfo": lambda pid: _queue_signal("rt_sigqueueinfo", pid),
    "rt_tgsigqueueinfo": lambda pid: _queue_signal("rt_tgsigqueueinfo", pid),
}


def _worker_seccomp() -> None:
    """The worker's seccomp layer, as ``layers`` installs it."""
    privileges.set_no_new_privs()
    program = seccomp.build_filter(pid=seccomp.PID_PLACEHOLDER)
    seccomp.install_filter(seccomp.with_pid(program, os.getpid()))


@pytest.mark.parametrize("sender", sorted(SENDERS))
@pytest.mark.parametrize("whom", ["parent", "sibling"])
def test_the_seccomp_layer_alone_keeps_signals_to_the_worker(sender: str, whom: str) -> None:
    """It refuses a signal to the parent (the zygote) or a sibling, by every signal call."""
    sibling = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # nosec
    try:
        host = os.getpid()

        def body() -> str:
            _worker_seccomp()
            return outcome(lambda: SENDERS[sender](host if whom == "parent" else sibling.pid))

        report = run_in_child(body)
    finally:
        sibling.kill()
        sibling.wait()
    assert report.value == "PermissionError:EPERM", report


def test_the_seccomp_layer_still_lets_the_worker_signal_itself() -> None:
    """It still allows signals to the worker itself, its own group and its own threads."""

    def body() -> list[str]:
        _worker_seccomp()
        own = os.getpid()
        ident = threading.main_thread().ident or 0
        return [
            outcome(lambda: os.kill(own, 0)),
            outcome(lambda: os.kill(0, 0)),
            outcome(lambda: signal.pthread_kill(ident, 0)),
            *(outcome(functools.partial(send, own)) for send in SENDERS.values()),
        ]

    report = run_in_child(body)
    assert report.value == ["ok"] * (3 + len(SENDERS)), report


def test_a_real_worker_cannot_signal_its_zygote(tmp_path: Path) -> None:
    """It refuses, in a real worker with every layer, a signal to its parent (the zygote)."""
    backend = WorkerBackend(tmp_path, SandboxPolicy(isolation="strict"), _language_guard=False)
    try:
        result = backend.execute(
            "import os\n"
            "try:\n"
            "    os.kill(os.getppid(), 0)\n"
            "    result = 'signalled'\n"
            "except PermissionError:\n"
            "    result = 'refused'\n"
        )
    finally:
        backend.close()
    assert result.result == "refused", result


def test_the_pid_is_put_in_every_signal_rule_and_nowhere_else() -> None:
    """It replaces the placeholder in each signal rule only: the rest of the filter is as built."""
    arch = _syscalls.ARCH
    assert arch is not None
    template = seccomp.build_filter(arch, pid=seccomp.PID_PLACEHOLDER)
    patched = seccomp.with_pid(template, 4242)
    assert patched == seccomp.build_filter(arch, pid=4242)
    assert struct.pack("=I", seccomp.PID_PLACEHOLDER) not in patched
    changed = [i for i in range(0, len(template), 8) if template[i : i + 8] != patched[i : i + 8]]
    assert len(changed) == len(seccomp.SIGNAL_CALLS)
