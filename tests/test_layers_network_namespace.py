"""The network namespace alone: one loopback interface, down; nothing is reachable."""

from __future__ import annotations

import fcntl
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from layers_support import outcome, run_in_child

from ai_sandbox.isolation.namespaces import enter_network_namespace

_SIOCGIFFLAGS = 0x8913
_IFF_UP = 0x1


def _probe_namespace() -> bool:
    def body() -> bool:
        enter_network_namespace()
        return True

    return run_in_child(body).value is True


pytestmark = pytest.mark.skipif(
    not _probe_namespace(), reason="the kernel refuses new network namespaces here"
)


def _isolated(attack: Callable[[], Any]) -> Callable[[], Any]:
    def body() -> Any:
        enter_network_namespace()
        return attack()

    return body


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on loopback in the test process."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def test_it_cannot_reach_the_hosts_loopback_listener(listener: socket.socket) -> None:
    """It cannot connect to a listener the test runs on the host's 127.0.0.1."""
    address = listener.getsockname()
    result = run_in_child(
        _isolated(lambda: outcome(lambda: socket.create_connection(address, timeout=2)))
    ).value
    assert result == "OSError:ENETUNREACH"


def test_it_cannot_reach_an_outside_address() -> None:
    """It cannot even start a connection to an outside address (no route at all)."""
    result = run_in_child(
        _isolated(lambda: outcome(lambda: socket.create_connection(("192.0.2.1", 80), timeout=2)))
    ).value
    assert result == "OSError:ENETUNREACH"


def _interfaces() -> dict[str, bool]:
    up: dict[str, bool] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            request = struct.pack("16sH14x", name.encode(), 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
            up[name] = bool(flags & _IFF_UP)
    return up


def test_it_has_only_a_loopback_interface_that_is_down() -> None:
    """It sees no interface but ``lo``, and ``lo`` is down."""
    assert run_in_child(_isolated(_interfaces)).value == {"lo": False}


def test_it_leaves_the_callers_network_alone(listener: socket.socket) -> None:
    """It changes nothing for the process that did not enter the namespace."""
    run_in_child(_isolated(lambda: None))
    with socket.create_connection(listener.getsockname(), timeout=2):
        pass
