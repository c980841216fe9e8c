"""Which layers this machine offers, found by trying them in a throw-away child process.

Setting a layer up is the only reliable test (containers and LSMs refuse calls the kernel
has), so a forked child applies the real thing — network namespace, privilege drop,
``no_new_privs``, a Landlock ruleset, the worker's seccomp filter — and reports as JSON over a
pipe. The caller is left untouched. The child does nothing else and exits with ``os._exit``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Final

from ai_sandbox.isolation import fsview, landlock, privileges, seccomp
from ai_sandbox.isolation._status import LAYER_NAMES, LayerStatus
from ai_sandbox.isolation._syscalls import prctl
from ai_sandbox.isolation.namespaces import enter_network_namespace
from ai_sandbox.isolation.protocol import wait_readable

__all__ = ["POSIX_LAYERS", "probe_layers"]

#: Layers every POSIX system offers (no probing needed).
POSIX_LAYERS: Final = ("clean_env", "close_fds", "new_session", "rlimits")
_TIMEOUT_S: Final = 10.0
_MAX_REPORT: Final = 64 * 1024
_PR_SET_PDEATHSIG: Final = 1


def probe_layers() -> dict[str, LayerStatus]:
    """Every layer of :data:`LAYER_NAMES` with whether this machine offers it (no side effects)."""
    found = {name: (True, "offered by every POSIX system") for name in POSIX_LAYERS}
    if sys.platform == "linux":
        found |= _probe_in_child()
    return {
        name: LayerStatus(name, *found.get(name, (False, "only available on Linux")))
        for name in LAYER_NAMES
    }


def _probe_in_child() -> dict[str, tuple[bool, str]]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        try:
            os.close(read_end)
            report = json.dumps(_try_layers()).encode()
            os.write(write_end, report)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        raw = _read_all(read_end)
    finally:
        os.close(read_end)
        _reap(pid)
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        return {name: (False, "the probe process died") for name in LAYER_NAMES}
    return {str(k): (bool(v[0]), str(v[1])) for k, v in decoded.items()}


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    deadline = time.monotonic() + _TIMEOUT_S
    size = 0
    while size < _MAX_REPORT:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not wait_readable(fd, remaining):
            break
        chunk = os.read(fd, _MAX_REPORT)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _reap(pid: int) -> None:
    done, _ = os.waitpid(pid, os.WNOHANG)
    if done == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _attempt(
    results: dict[str, tuple[bool, str]], name: str, action: Callable[[], object], ok: str
) -> bool:
    try:
        action()
    except OSError as exc:
        results[name] = (False, f"{exc.strerror or exc}")
        return False
    results[name] = (True, ok)
    return True


def _try_layers() -> dict[str, tuple[bool, str]]:
    """Apply each Linux layer in worker order; record what held."""
    results: dict[str, tuple[bool, str]] = {}
    _attempt(results, "pdeathsig", _pdeathsig, "PR_SET_PDEATHSIG")
    modes: list[str] = []
    _attempt(
        results,
        "network_namespace",
        lambda: modes.append(enter_network_namespace()),
        "a new empty network namespace",
    )
    if modes:
        results["network_namespace"] = (True, f"a new empty network namespace ({modes[0]})")
    _attempt(results, "fs_view", fsview.probe_view, "a mount namespace with a view of its own")
    if os.geteuid() == 0 and modes != ["user_namespace"]:
        uid, gid = privileges.unprivileged_ids()
        _attempt(
            results,
            "no_privileges",
            lambda: privileges.drop_to_user(uid, gid),
            f"no capabilities, uid {uid} gid {gid}",
        )
    else:
        _attempt(results, "no_privileges", privileges.drop_capabilities, "no capabilities, own uid")
    _attempt(results, "no_new_privs", privileges.set_no_new_privs, "PR_SET_NO_NEW_PRIVS")
    _try_landlock(results)
    if _attempt(results, "seccomp", _seccomp, "a syscall filter"):
        try:
            socket.socket()
        except PermissionError:
            pass
        else:
            results["seccomp"] = (False, "the filter installed but socket() still worked")
    return results


def _pdeathsig() -> None:
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _seccomp() -> None:
    seccomp.install_filter(seccomp.build_filter())


def _try_landlock(results: dict[str, tuple[bool, str]]) -> None:
    abi = landlock.abi_version()
    names = ("landlock_fs", "landlock_net", "landlock_scope")
    try:
        ruleset = landlock.create_ruleset(())
        landlock.restrict_self(ruleset)
    except OSError as exc:
        for name in names:
            results[name] = (False, f"Landlock is unavailable: {exc.strerror or exc}")
        return
    for name, since in zip(names, (1, 4, 6), strict=True):
        if name in ruleset.layers:
            results[name] = (True, f"Landlock ABI {abi}")
        else:
            results[name] = (False, f"needs Landlock ABI >= {since}, the kernel has {abi}")
