"""File access from a worker goes through the host's broker, which applies the path policy."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CANARY
from layers_support import FIND_CHANNEL

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.isolation.broker import Broker
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.security import SafeFS

POLICY = SandboxPolicy(timeout_s=2.0, pool_size=1, max_file_bytes=1024)

#: Escaped code talking to the host's broker directly over its channel.
RAW_REQUEST = """
import json, socket, struct
chan = socket.socket(fileno=CHANNEL_FD)
body = json.dumps(REQUEST).encode()
chan.sendall(struct.pack('>I', len(body)) + body)
size = struct.unpack('>I', chan.recv(4, socket.MSG_WAITALL))[0]
result = json.loads(chan.recv(size, socket.MSG_WAITALL))
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A root with a data file, and a canary beside it."""
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "data" / "numbers.csv").write_text("n\n1\n2\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text(CANARY, encoding="utf-8")
    return root


@pytest.fixture
def writable(tree: Path) -> Iterator[Sandbox]:
    """A strict Sandbox over ``tree`` that allows writes."""
    with Sandbox(tree, POLICY.model_copy(update={"allow_writes": True})) as box:
        yield box


def test_reads_a_file_beneath_the_root(tree: Path) -> None:
    """It reads a file beneath the root through the host."""
    with Sandbox(tree, POLICY) as box:
        result = box.run("result = open('data/numbers.csv').read()")
    assert result.status == "ok"
    assert result.result == "n\n1\n2\n"


@pytest.mark.parametrize(
    "path", ["../secret.txt", "/etc/passwd", "data/../../secret.txt"], ids=["dotdot", "abs", "mid"]
)
def test_refuses_paths_outside_the_root(tree: Path, path: str) -> None:
    """It refuses a path leading outside the root, and leaks nothing of the file."""
    with Sandbox(tree, POLICY) as box:
        result = box.run(f"result = open({path!r}).read()")
    assert result.status in ("rejected", "error")
    assert result.error is not None
    assert CANARY not in repr(result)


def test_refuses_writes_unless_allowed(tree: Path) -> None:
    """It refuses to write when the policy does not allow writes."""
    with Sandbox(tree, POLICY) as box:
        result = box.run("open('out.txt', 'w').write('x')")
    assert result.status in ("rejected", "error")
    assert not (tree / "out.txt").exists()


def test_writes_when_allowed(writable: Sandbox, tree: Path) -> None:
    """It writes a file beneath the root through the host when writes are allowed."""
    result = writable.run("with open('out.txt', 'w') as f:\n    f.write('hello')")
    assert result.status == "ok", result
    assert (tree / "out.txt").read_text(encoding="utf-8") == "hello"


def test_refuses_a_write_over_the_file_cap(writable: Sandbox, tree: Path) -> None:
    """It refuses to write a file larger than max_file_bytes."""
    result = writable.run("with open('big.txt', 'w') as f:\n    f.write('x' * 5000)")
    assert result.status != "ok"
    assert not (tree / "big.txt").exists()


FORGED = [
    ("read-outside", {"type": "read", "path": "../secret.txt"}),
    ("read-absolute", {"type": "read", "path": "/etc/passwd"}),
    ("write-without-permission", {"type": "write", "path": "x.txt", "data_b64": "eA=="}),
]


@pytest.mark.parametrize("request_", [r for _, r in FORGED], ids=[i for i, _ in FORGED])
def test_the_broker_refuses_forged_requests(tree: Path, request_: dict[str, str]) -> None:
    """It applies the path policy to requests forged by escaped code, too, and the host's
    refusal rejects the run whatever the worker reports (tests/test_isolation_host_checks.py)."""
    backend = WorkerBackend(tree, POLICY, _language_guard=False)
    try:
        result = backend.execute(f"REQUEST = {request_!r}\n" + FIND_CHANNEL + RAW_REQUEST)
    finally:
        backend.close()
    assert result.status == "rejected", result
    assert result.error is not None
    assert result.error.type == "SecurityError"
    assert CANARY not in repr(result)
    assert not (tree / "x.txt").exists()


def test_an_unknown_request_ends_the_worker(tree: Path) -> None:
    """It kills a worker that sends a request the protocol does not have."""
    request_ = {"type": "unlink", "path": "data/numbers.csv"}
    backend = WorkerBackend(tree, POLICY, _language_guard=False)
    try:
        result = backend.execute(f"REQUEST = {request_!r}\n" + FIND_CHANNEL + RAW_REQUEST)
    finally:
        backend.close()
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"
    assert (tree / "data" / "numbers.csv").exists()


@pytest.mark.parametrize(
    ("request_", "kind"),
    [
        ({"type": "read", "path": 7}, "SecurityError"),
        ({"type": "read", "path": "x" * 100_000}, "SecurityError"),
        ({"type": "write", "path": "a.txt", "data_b64": "@@@"}, "SecurityError"),
        ({"type": "write", "path": "a.txt"}, "SecurityError"),
        ({"type": "write", "path": "a.txt", "data_b64": "A" * 4000}, "ResourceLimitExceeded"),
        ({"type": "read", "path": "data/missing.csv"}, None),
        ({"type": "read", "path": "/\ud800/x"}, "SecurityError"),
        ({"type": "write", "path": "/\udfff", "data_b64": "eA=="}, "SecurityError"),
        ({"type": "read", "path": ["data", "numbers.csv"]}, "SecurityError"),
        ({"type": ["read"], "path": "data/numbers.csv"}, "SecurityError"),
    ],
    ids=[
        "path-not-str",
        "path-huge",
        "bad-base64",
        "no-data",
        "over-cap",
        "missing",
        "lone-surrogate-absolute",
        "lone-surrogate-write",
        "path-as-list",
        "type-as-list",
    ],
)
def test_broker_replies_to_malformed_requests(
    tree: Path, request_: dict[str, object], kind: str | None
) -> None:
    """It answers malformed requests with an error reply, never an exception."""
    policy = POLICY.model_copy(update={"allow_writes": True})
    fs = SafeFS(tree, policy)
    try:
        reply = Broker(fs, policy).handle(request_)
    finally:
        fs.close()
    assert reply["ok"] is False
    if kind is not None:
        assert reply["error"]["type"] == kind
    assert str(tree) not in repr(reply)


def test_broker_round_trips_bytes(tree: Path) -> None:
    """It returns a file's bytes base64-encoded."""
    fs = SafeFS(tree, POLICY)
    try:
        reply = Broker(fs, POLICY).handle({"type": "read", "path": "data/numbers.csv"})
    finally:
        fs.close()
    assert reply["ok"] is True
    assert base64.b64decode(reply["data_b64"]) == b"n\n1\n2\n"


class _FailingFiles:
    """A FileAccess whose reads fail with something that is not a SandboxError (a bug)."""

    def read_bytes(self, path: str) -> bytes:
        raise KeyError(path)

    def write_bytes(self, path: str, data: bytes) -> int:
        raise KeyError(path)


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param({"type": "read", "path": "data/numbers.csv"}, id="read"),
        pytest.param({"type": "write", "path": "x.txt", "data_b64": "eA=="}, id="write"),
        pytest.param(["read", "data/numbers.csv"], id="not-a-dict"),
    ],
)
def test_the_broker_never_raises(request_: object) -> None:
    """It answers even a request its file access fails on unexpectedly, naming no internals."""
    policy = POLICY.model_copy(update={"allow_writes": True})
    reply = Broker(_FailingFiles(), policy).handle(request_)  # type: ignore[arg-type]
    assert reply["type"] == "reply"
    assert reply["ok"] is False
    assert "numbers.csv" not in repr(reply)


def test_code_opening_a_lone_surrogate_path_is_refused(tree: Path) -> None:
    """It refuses open() of a path with a lone surrogate in the worker's result (the host's
    root-alias lookup used to raise UnicodeEncodeError out of Sandbox.run)."""
    with Sandbox(tree, POLICY) as box:
        result = box.run("result = open('/\\ud800/x').read()")
    assert result.status == "rejected", result
    assert result.error is not None
    assert result.error.rule == "invalid_name"
