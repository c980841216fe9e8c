"""Run one attack in a forked child after it applied an OS layer; report the outcome as JSON.

Every layer test follows the same shape: the parent prepares what the attack needs (a file, a
listener, an environment variable), forks, the child applies the layer under test and tries
the attack with plain Python (no RestrictedPython anywhere), and the parent asserts on the
JSON the child sent back through a pipe.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ai_sandbox.isolation.protocol import wait_readable

__all__ = [
    "FIND_CHANNEL",
    "ChildReport",
    "dies_within",
    "orphan_dies_with_its_parent",
    "outcome",
    "run_in_child",
    "wait_for",
]

_TIMEOUT_S = 20.0

#: Worker-side code (the language guard off) that finds the worker's channel to the host, as
#: escaped code would: ``CHANNEL_FD`` is its descriptor.
FIND_CHANNEL = """
import os, stat
def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False
CHANNEL_FD = next(fd for fd in range(3, 64) if _is_socket(fd))
"""


@dataclass(frozen=True)
class ChildReport:
    """What the child reported (``value``), or how it died (``signal``)."""

    value: Any
    signal: int | None
    exit_code: int | None


def outcome(action: Callable[[], object]) -> str:
    """``"ok"`` if ``action`` succeeded, else the exception's type name and errno name."""
    try:
        action()
    except OSError as exc:
        name = type(exc).__name__
        return f"{name}:{_errno_name(exc.errno)}" if exc.errno is not None else name
    except BaseException as exc:
        return type(exc).__name__
    return "ok"


def _errno_name(number: int) -> str:
    import errno

    return errno.errorcode.get(number, str(number))


def run_in_child(
    body: Callable[..., Any], *, timeout_s: float = _TIMEOUT_S, pass_report_fd: bool = False
) -> ChildReport:
    """Fork; the child runs ``body`` and sends its JSON-able result; never returns in the child.

    An exception in ``body`` comes back as ``{"child_error": "..."}``. With
    ``pass_report_fd`` the body receives the report pipe's descriptor (to keep it open).
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        try:
            os.close(read_end)
            try:
                value = body(write_end) if pass_report_fd else body()
            except BaseException as exc:
                value = {"child_error": f"{type(exc).__name__}: {exc}"}
            os.write(write_end, json.dumps(value).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if not wait_readable(read_end, remaining):
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    if time.monotonic() >= deadline:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    raw = b"".join(chunks)
    return ChildReport(
        value=json.loads(raw) if raw else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    )


def dies_within(pid: int, timeout_s: float) -> bool:
    """Whether process ``pid`` (not our child) is gone or a zombie within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == b"Z":
            return True
        time.sleep(0.01)
    return False


def orphan_dies_with_its_parent(arm: Callable[[int], None]) -> bool:
    """Fork a "zygote" that forks a "worker"; the worker calls ``arm(ready_fd)``, reports its
    pid and sleeps; the zygote exits. True if the worker then dies within 5 s (pdeathsig)."""
    ready_read, ready_write = os.pipe()

    def zygote() -> None:
        if os.fork() == 0:
            arm(ready_write)
            os.write(ready_write, f"{os.getpid()}\n".encode())
            time.sleep(30)
            os._exit(0)
        wait_readable(ready_read, 5)  # the worker is armed; the zygote exits

    run_in_child(zygote)
    os.close(ready_write)
    try:
        pid = int(os.read(ready_read, 64).split()[0])
    finally:
        os.close(ready_read)
    return dies_within(pid, 5.0)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Whether ``predicate()`` became true within ``timeout_s`` (polled every 10 ms)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False
