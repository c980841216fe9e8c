"""The layers contract: probe, required layers per level, and a whole worker lockdown."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from layers_support import orphan_dies_with_its_parent, outcome, run_in_child

from ai_sandbox.exceptions import ConfigurationError, IsolationUnavailable
from ai_sandbox.isolation.layers import (
    LAYER_NAMES,
    LayerStatus,
    lockdown_worker,
    prepare_zygote,
    probe_layers,
    required_layers,
)
from ai_sandbox.policy import SandboxPolicy

EXPECTED_ORDER = (
    "clean_env",
    "close_fds",
    "new_session",
    "pdeathsig",
    "rlimits",
    "network_namespace",
    "fs_view",
    "no_privileges",
    "no_new_privs",
    "landlock_fs",
    "landlock_net",
    "landlock_scope",
    "seccomp",
)


def _probe(**missing: str) -> dict[str, LayerStatus]:
    """A probe result with every layer available except ``missing`` (name -> detail)."""
    return {
        name: LayerStatus(name, name not in missing, missing.get(name, "ok"))
        for name in LAYER_NAMES
    }


def test_the_layer_names_are_the_apply_order() -> None:
    """It names the thirteen layers in the order a worker applies them."""
    assert LAYER_NAMES == EXPECTED_ORDER


@pytest.mark.parametrize("name", EXPECTED_ORDER)
def test_this_machine_offers_every_layer(name: str) -> None:
    """It finds every layer available on this machine (Linux 6.18, Landlock ABI 7, root)."""
    status = probe_layers()[name]
    assert status.available, status.detail


def _self_state() -> dict[str, Any]:
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    return {
        "netns": os.stat("/proc/self/ns/net").st_ino,
        "uid": os.getresuid(),
        "NoNewPrivs": fields["NoNewPrivs"].strip(),
        "Seccomp": fields["Seccomp"].strip(),
        "CapEff": fields["CapEff"].strip(),
        "env": dict(os.environ),
    }


def test_probing_leaves_the_caller_untouched() -> None:
    """It probes in a throw-away child: the caller's namespace, ids, caps and filters stay."""
    before = _self_state()
    probe_layers()
    assert _self_state() == before


@pytest.mark.parametrize(
    ("isolation", "probe", "expected"),
    [
        pytest.param("none", _probe(), frozenset(), id="none-requires-nothing"),
        pytest.param(
            "none", _probe(seccomp="absent"), frozenset(), id="none-ignores-missing-layers"
        ),
        pytest.param(
            "process",
            _probe(seccomp="absent", landlock_fs="absent"),
            frozenset({"clean_env", "close_fds", "new_session", "rlimits"}),
            id="process-requires-the-posix-basics",
        ),
        pytest.param("strict", _probe(), frozenset(EXPECTED_ORDER), id="strict-requires-all"),
        pytest.param(
            "strict",
            _probe(network_namespace="no userns"),
            frozenset(EXPECTED_ORDER) - {"network_namespace"},
            id="strict-accepts-the-network-fallback",
        ),
        pytest.param(
            "strict",
            _probe(fs_view="no mount namespace"),
            frozenset(EXPECTED_ORDER) - {"fs_view"},
            id="strict-accepts-landlock-without-the-view",
        ),
    ],
)
def test_required_layers(
    isolation: str, probe: dict[str, LayerStatus], expected: frozenset[str]
) -> None:
    """It requires the layers the isolation level promises."""
    assert required_layers(isolation, probe) == expected


@pytest.mark.parametrize(
    ("isolation", "probe", "layer"),
    [
        pytest.param("strict", _probe(landlock_scope="ABI 5"), "landlock_scope", id="scope"),
        pytest.param("strict", _probe(seccomp="absent"), "seccomp", id="seccomp"),
        pytest.param(
            "strict",
            _probe(network_namespace="no userns", landlock_net="ABI 3"),
            "network_namespace",
            id="network-without-fallback",
        ),
        pytest.param(
            "strict",
            _probe(fs_view="no mount namespace", landlock_fs="absent"),
            "fs_view",
            id="view-without-landlock",
        ),
        pytest.param("process", _probe(rlimits="absent"), "rlimits", id="process-rlimits"),
    ],
)
def test_required_layers_refuses_a_missing_layer(
    isolation: str, probe: dict[str, LayerStatus], layer: str
) -> None:
    """It raises IsolationUnavailable naming the first missing required layer."""
    with pytest.raises(IsolationUnavailable) as raised:
        required_layers(isolation, probe)
    assert raised.value.layer == layer
    assert 'isolation="process"' in str(raised.value)


def test_required_layers_refuses_an_unknown_level() -> None:
    """It refuses an isolation level it does not know."""
    with pytest.raises(ConfigurationError, match="unknown isolation level"):
        required_layers("paranoid", _probe())


def _locked_down_worker(attacks: dict[str, Any], *, required: frozenset[str]) -> Any:
    """Zygote (prepare) -> worker (lockdown) -> attacks, all in children of the test process."""

    def zygote() -> Any:
        plan = prepare_zygote(SandboxPolicy(), required=required)

        def worker(report_fd: int) -> Any:
            active = lockdown_worker(plan, keep_fds=(report_fd,))
            return {"active": list(active), **{k: outcome(v) for k, v in attacks.items()}}

        return run_in_child(worker, pass_report_fd=True).value

    return run_in_child(zygote).value


def test_a_locked_down_worker_has_every_layer_active(canary: Path) -> None:
    """It applies all thirteen layers; the worker can neither see, read, fork, connect nor leak."""
    os.environ["AI_SANDBOX_CANARY_KEY"] = "sk-canary"
    try:
        report = _locked_down_worker(
            {
                "read_passwd": lambda: Path("/etc/passwd").read_bytes(),
                "read_canary": canary.read_text,
                "write": lambda: (canary.parent / "new").write_text("x"),
                "fork": os.fork,
                "socket": socket.socket,
                "env": lambda: os.environ["AI_SANDBOX_CANARY_KEY"],
                "signal_parent": lambda: os.kill(os.getppid(), 0),
                "import": lambda: __import__("json"),
            },
            required=frozenset(EXPECTED_ORDER),
        )
    finally:
        del os.environ["AI_SANDBOX_CANARY_KEY"]
    assert report == {
        "active": list(EXPECTED_ORDER),
        "read_passwd": "FileNotFoundError:ENOENT",
        "read_canary": "FileNotFoundError:ENOENT",
        "write": "FileNotFoundError:ENOENT",
        "fork": "PermissionError:EPERM",
        "socket": "PermissionError:EPERM",
        "env": "KeyError",
        "signal_parent": "PermissionError:EPERM",
        "import": "ok",
    }


def _lockdown_with_a_second_thread(required: frozenset[str]) -> Any:
    """A worker that already runs a thread, which Landlock cannot cover."""

    def zygote() -> Any:
        plan = prepare_zygote(SandboxPolicy(), required=required)

        def worker(report_fd: int) -> Any:
            stop = threading.Event()
            threading.Thread(target=stop.wait, daemon=True).start()
            try:
                return {"active": list(lockdown_worker(plan, keep_fds=(report_fd,)))}
            except IsolationUnavailable as exc:
                return {"refused": exc.layer}

        return run_in_child(worker, pass_report_fd=True).value

    return run_in_child(zygote).value


def test_lockdown_refuses_when_a_required_layer_fails() -> None:
    """It raises IsolationUnavailable when a required layer cannot be applied in the worker."""
    assert _lockdown_with_a_second_thread(frozenset({"landlock_fs"})) == {"refused": "landlock_fs"}


def test_lockdown_leaves_out_an_optional_layer_that_fails() -> None:
    """It reports only the layers that are really active when an optional one fails."""
    report = _lockdown_with_a_second_thread(frozenset())
    assert report["active"] == [name for name in EXPECTED_ORDER if not name.startswith("landlock")]


def test_a_locked_down_worker_dies_with_its_zygote() -> None:
    """It keeps pdeathsig armed through the uid drop (which clears it): the worker dies too."""

    def arm(ready_fd: int) -> None:
        plan = prepare_zygote(SandboxPolicy(), required=frozenset(EXPECTED_ORDER))
        lockdown_worker(plan, keep_fds=(ready_fd,))

    assert orphan_dies_with_its_parent(arm)
