"""What a compromised worker can cost the host is bounded: decoding, file requests, memory.

The worker runs with the language guard off (arbitrary code) and talks to the host raw.
"""

from __future__ import annotations

import base64
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from host_support import escaped_sandbox

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.exceptions import ResourceLimitExceeded, WorkerError
from ai_sandbox.isolation.exchange import _Serving
from ai_sandbox.isolation.limits import (
    FILE_BURST_BYTES,
    FILE_BYTES_PER_S,
    file_transfer_cap,
    host_cpu_budget_s,
    host_recv_cap,
)
from ai_sandbox.isolation.protocol import (
    INT_COST_BUDGET,
    decode_json,
    encode_json,
    parse_write_frame,
)
from ai_sandbox.isolation.worker_backend import WorkerBackend

POLICY = SandboxPolicy(timeout_s=10.0, pool_size=1, allow_writes=True)

#: Guard-off worker code: the channel, and raw frames on it (``send``, ``recv``).
RAW = r"""
import base64, json, os, socket, stat, struct
def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False
chan = socket.socket(fileno=next(fd for fd in range(3, 64) if _is_socket(fd)))
def send(body):
    chan.sendall(struct.pack('>I', len(body)) + body)
def recv():
    size = struct.unpack('>I', chan.recv(4, socket.MSG_WAITALL))[0]
    return json.loads(chan.recv(size, socket.MSG_WAITALL))
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.txt").write_text("data", encoding="utf-8")
    return root


@pytest.fixture
def escaped(root: Path) -> Iterator[WorkerBackend]:
    backend = WorkerBackend(root, POLICY, _language_guard=False)
    yield backend
    backend.close()


# -- integers are charged before they are converted -----------------------------------------
def _ints(count: int, digits: int) -> bytes:
    return ("[" + ",".join(["7" * digits] * count) + "]").encode()


@pytest.mark.parametrize(
    ("count", "digits"), [(5, 4300), (40, 1500), (2000, 200)], ids=["longest", "long", "many"]
)
def test_a_frame_of_long_integers_is_refused(count: int, digits: int) -> None:
    """It refuses a frame whose integers would cost more than a few of the longest to decode."""
    with pytest.raises(WorkerError, match="malformed JSON"):
        decode_json(_ints(count, digits), max_int_cost=INT_COST_BUDGET)


@pytest.mark.parametrize(
    ("count", "digits"), [(4, 4300), (100_000, 20), (1000, 64)], ids=["few-long", "short", "64"]
)
def test_a_frame_of_ordinary_integers_decodes(count: int, digits: int) -> None:
    """It decodes a few long integers and any number of short ones, exactly."""
    frame = _ints(count, digits)
    assert decode_json(frame, max_int_cost=INT_COST_BUDGET) == [int("7" * digits)] * count


def test_inputs_and_results_with_long_integers_cross_the_channel(root: Path) -> None:
    """It passes a job's long integers to the worker (the host's frames are trusted) and takes
    a result with a few of the longest back."""
    big = int("7" * 4000)
    with Sandbox(root, POLICY) as box:
        result = box.run("result = [n + 1 for n in numbers[:4]]", {"numbers": [big] * 10})
    assert result.status == "ok", result
    assert result.result == [big + 1] * 4


def test_a_worker_padding_requests_with_long_integers_is_stopped(escaped: WorkerBackend) -> None:
    """It ends the run of a worker padding its requests with 4,300-digit integers, at once."""
    code = RAW + (
        "pad = b'[' + b','.join([b'7' * 4300] * 1000) + b']'\n"
        "for _ in range(100):\n"
        '    send(b\'{"type":"read","path":"data.txt","pad":\' + pad + b\'}\')\n'
        "    recv()\n"
    )
    result = escaped.execute(code)
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"
    assert result.files == ()


def test_a_request_larger_than_a_request_ends_the_run(escaped: WorkerBackend) -> None:
    """It ends the run of a worker padding a read request to a result's size."""
    code = RAW + (
        "pad = json.dumps(['x'] * 20000).encode()\n"
        'send(b\'{"type":"read","path":"data.txt","pad":\' + pad + b\'}\')\n'
        "recv()\n"
    )
    result = escaped.execute(code)
    assert result.status == "error"
    assert result.error is not None
    assert "read request" in result.error.message


# -- write frames are checked for shape, and decoded without JSON ---------------------------
def _write(path: bytes = b'"a.txt"', data: bytes = b"aGVsbG8=", tail: bytes = b'"}') -> bytes:
    return b'{"type":"write","path":' + path + b',"data_b64":"' + data + tail


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(_write(data=b"aGVs!G8="), id="not-base64"),
        pytest.param(_write(data=b"aGVsbG8"), id="not-a-multiple-of-4"),
        pytest.param(_write(data=b"aA==aGVsbG8="), id="padding-inside"),
        pytest.param(_write(data=b'aGVs"G8='), id="quote-in-data"),
        pytest.param(_write(tail=b'","x":1}'), id="extra-key"),
        pytest.param(_write(path=b"1"), id="path-not-a-string"),
        pytest.param(_write(path=b'"' + b"a" * 10_000 + b'"'), id="path-too-long"),
        pytest.param(_write(path=b'"a\\"'), id="unterminated-path"),
        pytest.param(b'{"type":"write","path":"a","type":"result"}', id="repeated-type"),
        pytest.param(_write(data=b"QUJD" * 2000), id="over-the-file-limit"),
    ],
)
def test_a_malformed_write_frame_is_refused(frame: bytes) -> None:
    """It refuses a write frame not in the exact shape the worker sends, before decoding it."""
    with pytest.raises(WorkerError):
        parse_write_frame(frame, max_path_bytes=6208, max_data_bytes=1024)


@pytest.mark.parametrize(
    "path", ["a.txt", 'we"ird\\name.txt', "caf\u00e9/\u65e5\u672c.txt"], ids=["plain", "esc", "u"]
)
def test_a_write_frame_decodes_to_its_path_and_bytes(path: str) -> None:
    """It decodes the worker's own write frame to exactly the path and bytes it sent."""
    data = bytes(range(256)) * 5000
    frame = encode_json(
        {"type": "write", "path": path, "data_b64": base64.b64encode(data).decode()}
    )
    parsed = parse_write_frame(frame, max_path_bytes=6208, max_data_bytes=len(data))
    assert (parsed.path, bytes(parsed.data)) == (path, data)


def test_a_maximal_path_of_astral_characters_is_a_request_not_a_violation(root: Path) -> None:
    """It answers a read of a maximal path of astral characters (12 bytes each, escaped) with
    the path layer's refusal, not as an oversized frame."""
    with Sandbox(root, POLICY) as box:
        result = box.run(f"result = open('\\U0001F600' * {POLICY.max_path_length}).read()")
    assert result.status == "rejected", result
    assert result.error is not None
    assert result.error.type == "SecurityError"
    assert result.files[0].outcome == "refused"


def test_a_worker_writes_binary_data_through_the_host(root: Path) -> None:
    """It writes every byte value exactly, from the worker's open(..., 'wb') to the file."""
    with Sandbox(root, POLICY) as box:
        result = box.run(
            "data = bytes(list(range(256))) * 4000\n"
            "with open('blob.bin', 'wb') as f:\n"
            "    f.write(data)\n"
            "with open('blob.bin', 'rb') as f:\n"
            "    result = f.read() == data\n"
        )
    assert result.status == "ok", result
    assert result.result is True
    assert (root / "blob.bin").read_bytes() == bytes(range(256)) * 4000


# -- the host's share of a run: requests, bytes, CPU time -----------------------------------
def test_a_flood_of_reads_ends_at_the_runs_transfer_cap(tmp_path: Path) -> None:
    """It ends a run that moves more bytes through file requests than a run may (16 maximal
    files, at least 64 MiB), killing the worker, and lists only the first 100 requests."""
    root = tmp_path / "project"
    root.mkdir()
    policy = SandboxPolicy(timeout_s=30.0, pool_size=1, max_file_bytes=256 * 1024)
    (root / "big.bin").write_bytes(b"\0" * policy.max_file_bytes)
    code = RAW + (
        "while True:\n" '    send(b\'{"type":"read","path":"big.bin"}\')\n' "    recv()\n"
    )
    with escaped_sandbox(root, policy) as box:
        result = box.run(code)
    assert result.status == "limit", result.error
    assert result.error is not None
    assert result.error.rule == "file_requests"
    assert result.error.reported_by is None
    assert len(result.files) == 100
    served = len(result.files) + result.files_omitted
    assert (served - 1) * policy.max_file_bytes <= file_transfer_cap(policy)
    assert served * policy.max_file_bytes > file_transfer_cap(policy)
    assert {f.outcome for f in result.files} == {"ok"}


def test_the_hosts_cpu_budget_ends_a_run() -> None:
    """It reports the host_cpu limit once serving a run has used more than its CPU budget."""
    policy = SandboxPolicy(timeout_s=0.01)
    serving = _Serving(policy)
    serving.check_cpu()
    spent = time.thread_time() + host_cpu_budget_s(policy) + 0.01
    while time.thread_time() < spent:
        pass
    with pytest.raises(ResourceLimitExceeded) as raised:
        serving.check_cpu()
    assert raised.value.limit == "host_cpu"


def test_file_requests_past_their_burst_are_paced() -> None:
    """It makes a run wait (idle) once its file traffic is ahead of its pace; never past the
    run's deadline. (A sleep never returns early: this lower bound is not a timing race.)"""
    serving = _Serving(POLICY)
    serving._moved = FILE_BURST_BYTES + FILE_BYTES_PER_S // 10
    start = time.monotonic()
    serving.pace(start + 60.0)
    assert time.monotonic() - start >= 0.09
    start = time.monotonic()
    serving._moved = FILE_BURST_BYTES + FILE_BYTES_PER_S * 60
    serving.pace(start)  # the deadline has come: no wait
    serving.pace(start - 1.0)


def test_the_cpu_budget_follows_the_policy() -> None:
    """It gives a longer run a larger host CPU budget, and a short one at least 0.25 s."""
    assert host_cpu_budget_s(SandboxPolicy(timeout_s=0.01)) >= 0.25
    assert host_cpu_budget_s(SandboxPolicy(timeout_s=60)) > host_cpu_budget_s(SandboxPolicy())


# -- host memory per attacking worker ------------------------------------------------------
@pytest.mark.parametrize("kind", ["write", "read"])
def test_serving_maximal_frames_holds_host_memory_to_twice_the_frame_cap(
    root: Path, kind: str
) -> None:
    """It serves a worker's maximal writes and reads with host memory (tracemalloc peak) of
    at most twice the frame cap (the frame once, the file's bytes once)."""
    policy = SandboxPolicy(timeout_s=30.0, pool_size=0, allow_writes=True)
    size = policy.max_file_bytes
    (root / "big.bin").write_bytes(b"\0" * size)
    if kind == "write":
        body = (
            'frame = b\'{"type":"write","path":"out.bin","data_b64":"\''
            f" + base64.b64encode(b'x' * {size}) + b'\"}}'\n"
        )
    else:
        body = 'frame = b\'{"type":"read","path":"big.bin"}\'\n'
    code = RAW + body + "for _ in range(3):\n    send(frame)\n    recv()\nresult = 1\n"
    backend = WorkerBackend(root, policy, _language_guard=False)
    try:
        backend.execute("result = 0")
        tracemalloc.start()
        try:
            result = backend.execute(code)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        backend.close()
    assert result.status == "ok", result
    assert peak < 2 * host_recv_cap(policy)
