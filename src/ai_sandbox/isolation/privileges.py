"""No privileges: no capabilities, an unprivileged uid, and ``no_new_privs``.

Two ways to drop, chosen once per Sandbox:

- ``"setuid"`` (the process is root in its user namespace, e.g. CI or a container): empty the
  capability bounding set and the ambient set, clear supplementary groups, then
  ``setresgid``/``setresuid`` to the unprivileged ids (``nobody``, 65534). Changing every uid
  away from 0 clears the permitted and effective capabilities.
- ``"capabilities"`` (any other user, possibly inside our own user namespace, where it holds
  every capability of that namespace): keep the uid, empty the bounding set when allowed, clear
  the ambient set and ``capset`` everything to zero.

Either way the process is then made non-dumpable, so processes of the same uid (other workers)
cannot ``ptrace`` it or open its ``/proc`` files.
"""

from __future__ import annotations

import errno
import os
import pwd
from typing import Final, Literal

from ai_sandbox.isolation._syscalls import CapabilitySets, capget, capset, prctl

__all__ = [
    "PrivilegeDrop",
    "bounding_set",
    "capability_status",
    "drop_capabilities",
    "drop_to_user",
    "empty_bounding_set",
    "has_no_new_privs",
    "last_capability",
    "privilege_drop_for_current_process",
    "set_no_new_privs",
    "unprivileged_ids",
]

PrivilegeDrop = Literal["setuid", "capabilities"]

_PR_SET_DUMPABLE: Final = 4
_PR_CAPBSET_READ: Final = 23
_PR_CAPBSET_DROP: Final = 24
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_GET_NO_NEW_PRIVS: Final = 39
_PR_CAP_AMBIENT: Final = 47
_PR_CAP_AMBIENT_CLEAR_ALL: Final = 4
_CAP_SETPCAP: Final = 8
_MAX_CAPABILITY: Final = 63
_NOBODY: Final = 65534


def unprivileged_ids() -> tuple[int, int]:
    """The uid and gid of ``nobody`` (65534 where the user database lacks it)."""
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return _NOBODY, _NOBODY
    return entry.pw_uid, entry.pw_gid


def privilege_drop_for_current_process() -> PrivilegeDrop:
    """``"setuid"`` for root, ``"capabilities"`` for any other user."""
    return "setuid" if os.geteuid() == 0 else "capabilities"


def _last_capability() -> int:
    """The highest capability number this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as file:
            return int(file.read())
    except (OSError, ValueError):
        pass
    for cap in range(_MAX_CAPABILITY + 1):  # PR_CAPBSET_READ fails past the last one
        try:
            prctl(_PR_CAPBSET_READ, cap)
        except OSError:
            return cap - 1
    return _MAX_CAPABILITY


def capability_status() -> dict[str, int]:
    """``CapInh``, ``CapPrm``, ``CapEff``, ``CapBnd`` and ``CapAmb`` from ``/proc/self/status``."""
    sets: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii", errors="replace") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key.startswith("Cap"):
                sets[key] = int(value.strip(), 16)
    return sets


def bounding_set() -> int:
    """The capability bounding set as a mask."""
    return capability_status().get("CapBnd", 0)


def last_capability() -> int:
    """The highest capability number this kernel knows (read it once, pass it to the drops)."""
    return _last_capability()


def _drop_bounding_set(last_cap: int | None) -> None:
    for cap in range((_last_capability() if last_cap is None else last_cap) + 1):
        prctl(_PR_CAPBSET_DROP, cap)


def empty_bounding_set(*, last_cap: int | None = None) -> bool:
    """Empty the bounding set and the ambient set, if ``CAP_SETPCAP`` allows; whether it did.

    The zygote calls it once: forked workers inherit both sets, so they need not repeat the
    ~40 ``prctl`` calls each (the zygote never execs, so it loses nothing by it).
    """
    if not capget().effective & (1 << _CAP_SETPCAP):
        return False
    _drop_bounding_set(last_cap)
    prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    return bounding_set() == 0


def _verify_no_capabilities() -> None:
    # The bounding set is empty because every PR_CAPBSET_DROP succeeded, the ambient set
    # because PR_CAP_AMBIENT_CLEAR_ALL did; one capget checks the rest without touching /proc.
    sets = capget()
    if sets != CapabilitySets(0, 0, 0):
        raise OSError(errno.EPERM, f"capabilities remain after the drop: {sets}")


def drop_to_user(
    uid: int, gid: int, *, last_cap: int | None = None, bounding_set_empty: bool = False
) -> None:
    """As root: empty the bounding/ambient sets, then become ``uid``/``gid`` with no groups.

    ``last_cap`` is :func:`last_capability` (read from ``/proc`` when not given);
    ``bounding_set_empty`` says the parent already emptied it (:func:`empty_bounding_set`).
    Raises ``OSError`` if any step fails or a capability survives.
    """
    if not bounding_set_empty:
        _drop_bounding_set(last_cap)
    prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if capget() != CapabilitySets(0, 0, 0):  # e.g. SECBIT_KEEP_CAPS was set by someone
        capset(CapabilitySets(0, 0, 0))
    prctl(_PR_SET_DUMPABLE, 0)
    _verify_no_capabilities()
    if 0 in os.getresuid() or 0 in os.getresgid():
        raise OSError(errno.EPERM, "still root after setresuid/setresgid")


def drop_capabilities(*, last_cap: int | None = None, bounding_set_empty: bool = False) -> None:
    """Keep the uid, lose every capability (the bounding set too, when ``CAP_SETPCAP`` allows).

    Raises ``OSError`` if a capability survives in the effective, permitted or inheritable set.
    """
    if not bounding_set_empty and capget().effective & (1 << _CAP_SETPCAP):
        _drop_bounding_set(last_cap)
    prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    capset(CapabilitySets(0, 0, 0))
    prctl(_PR_SET_DUMPABLE, 0)
    _verify_no_capabilities()


def set_no_new_privs() -> None:
    """``PR_SET_NO_NEW_PRIVS``: no exec can ever grant privileges again (irreversible)."""
    prctl(_PR_SET_NO_NEW_PRIVS, 1)


def has_no_new_privs() -> bool:
    """Whether ``no_new_privs`` is set on the calling thread."""
    return bool(prctl(_PR_GET_NO_NEW_PRIVS))
