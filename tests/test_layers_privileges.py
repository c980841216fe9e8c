"""No privileges: a worker started as root ends as ``nobody`` with no capability at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from layers_support import outcome, run_in_child

from ai_sandbox.isolation import privileges

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the uid drop is the root path; this run is not root"
)


def _dropped(then: Any) -> Any:
    def body() -> Any:
        uid, gid = privileges.unprivileged_ids()
        privileges.drop_to_user(uid, gid)
        return then()

    return body


def test_it_ends_as_the_unprivileged_user() -> None:
    """It ends with every uid and gid set to nobody's (65534) and no supplementary groups."""
    ids = run_in_child(_dropped(lambda: [os.getresuid(), os.getresgid(), os.getgroups()])).value
    assert ids == [[65534] * 3, [65534] * 3, []]


@pytest.mark.parametrize("field", ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"])
def test_it_holds_no_capability(field: str) -> None:
    """It holds no capability in any set, as /proc/self/status reports them."""
    status = run_in_child(_dropped(privileges.capability_status)).value
    assert status[field] == 0


def test_it_cannot_chown_a_file(tmp_path: Path) -> None:
    """It cannot give itself a root-owned file it holds open (chown needs CAP_CHOWN)."""
    target = tmp_path / "file"
    target.write_text("x")
    fd = os.open(target, os.O_RDONLY)
    try:
        chown = run_in_child(_dropped(lambda: outcome(lambda: os.fchown(fd, 65534, 65534))))
    finally:
        os.close(fd)
    assert chown.value == "PermissionError:EPERM"
    assert target.stat().st_uid == 0


def test_it_cannot_signal_pid_1() -> None:
    """It cannot signal init (or any root process)."""
    assert run_in_child(_dropped(lambda: outcome(lambda: os.kill(1, 0)))).value == (
        "PermissionError:EPERM"
    )


def test_it_cannot_become_root_again() -> None:
    """It cannot switch back to uid 0."""
    assert run_in_child(_dropped(lambda: outcome(lambda: os.setuid(0)))).value == (
        "PermissionError:EPERM"
    )


def test_it_is_not_dumpable() -> None:
    """It is not dumpable, so other processes of uid nobody cannot ptrace it or read its /proc."""
    assert run_in_child(_dropped(lambda: outcome(lambda: os.stat("/proc/self/mem")))).value == "ok"
    assert run_in_child(_dropped(lambda: os.stat("/proc/self/mem").st_uid)).value == 0


def test_no_new_privs_is_set_and_sticks() -> None:
    """It sets no_new_privs, which nothing can clear again."""

    def body() -> list[bool]:
        privileges.set_no_new_privs()
        return [privileges.has_no_new_privs()]

    assert run_in_child(body).value == [True]
    assert not privileges.has_no_new_privs()  # the test process itself is untouched


def test_drop_capabilities_keeps_the_uid_but_empties_every_set() -> None:
    """It drops every capability while keeping the uid (the user-namespace path)."""

    def body() -> list[Any]:
        privileges.drop_capabilities()
        return [os.geteuid(), privileges.capability_status()]

    euid, status = run_in_child(body).value
    assert euid == 0
    assert all(value == 0 for value in status.values()), status
