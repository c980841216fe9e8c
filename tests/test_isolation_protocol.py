"""The wire format: length-prefixed JSON frames and control datagrams, capped on both sides."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from ai_sandbox.exceptions import ResourceLimitExceeded, WorkerError
from ai_sandbox.isolation.limits import host_recv_cap, worker_recv_cap
from ai_sandbox.isolation.protocol import (
    HEADER,
    Channel,
    decode_json,
    encode_json,
    recv_message,
    send_message,
)
from ai_sandbox.policy import SandboxPolicy


@pytest.fixture
def pair() -> Iterator[tuple[Channel, socket.socket]]:
    """A channel capped at 1 KiB each way, and the raw socket at its other end."""
    ours, theirs = socket.socketpair()
    channel = Channel(ours, max_send=1024, max_recv=1024)
    yield channel, theirs
    channel.close()
    theirs.close()


def test_round_trip_of_json_data(pair: tuple[Channel, socket.socket]) -> None:
    """It carries JSON data unchanged across a channel."""
    channel, theirs = pair
    peer = Channel(theirs, max_send=1024, max_recv=1024)
    message = {"type": "run", "code": "x = 1", "inputs": {"a": [1, 2.5, None, True, "é"]}}
    channel.send(message)
    assert peer.recv() == message


def test_several_frames_in_one_read(pair: tuple[Channel, socket.socket]) -> None:
    """It splits frames that arrive together and reassembles one that arrives in pieces."""
    channel, theirs = pair
    frames = b"".join(HEADER.pack(len(b)) + b for b in (b"[1]", b'{"a":2}'))
    theirs.sendall(frames + HEADER.pack(3))
    assert channel.recv() == [1]
    assert channel.recv() == {"a": 2}
    theirs.sendall(b"[3")
    theirs.sendall(b"]")
    assert channel.recv() == [3]


def test_refuses_an_oversized_frame_before_reading_it(pair: tuple[Channel, socket.socket]) -> None:
    """It refuses a frame whose header announces more than the cap, without reading the body."""
    channel, theirs = pair
    theirs.sendall(struct.pack(">I", 2**32 - 1))
    with pytest.raises(WorkerError, match="cap is 1024"):
        channel.recv()
    assert not channel.eof


def test_refuses_to_send_over_its_cap(pair: tuple[Channel, socket.socket]) -> None:
    """It refuses to send a frame larger than the peer accepts."""
    channel, _ = pair
    with pytest.raises(ResourceLimitExceeded):
        channel.send("x" * 2000)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"NaN",
        b'{"a": Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
        '["\U0001f600"]'.encode(),
    ],
    ids=["garbage", "not-utf8", "nan", "infinity", "deep-nesting", "utf8-not-ascii"],
)
def test_refuses_malformed_json(body: bytes) -> None:
    """It turns malformed or non-standard JSON into a WorkerError, never a crash."""
    with pytest.raises(WorkerError, match="malformed JSON"):
        decode_json(body)


def test_eof_is_reported(pair: tuple[Channel, socket.socket]) -> None:
    """It reports a closed peer as a WorkerError and marks the channel as ended."""
    channel, theirs = pair
    theirs.close()
    with pytest.raises(WorkerError, match="closed"):
        channel.recv()
    assert channel.eof


def test_deadline_is_enforced(pair: tuple[Channel, socket.socket]) -> None:
    """It gives up with TimeoutError when nothing arrives before the deadline."""
    channel, _ = pair
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        channel.recv(deadline=start + 0.1)
    assert time.monotonic() - start < 0.5


def test_lone_surrogates_survive_encoding() -> None:
    """It encodes text with lone surrogates (escaped) instead of failing."""
    assert decode_json(encode_json({"s": "a\udc80b"})) == {"s": "a\udc80b"}


def test_encoding_refuses_nan() -> None:
    """It refuses to encode NaN (not standard JSON)."""
    with pytest.raises(ValueError, match="JSON"):
        encode_json(float("nan"))


def test_control_messages_carry_descriptors() -> None:
    """It passes a descriptor with a control datagram (SCM_RIGHTS)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    try:
        send_message(a, {"pid": 7}, fds=(w,))
        message, fds = recv_message(b, max_bytes=1024, max_fds=1)
        assert message == {"pid": 7}
        assert len(fds) == 1
        os.write(fds[0], b"hi")
        os.close(fds[0])
        assert os.read(r, 2) == b"hi"
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_control_messages_over_the_cap_are_refused() -> None:
    """It refuses a control datagram larger than its cap and closes any descriptors it carried."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    try:
        send_message(a, {"pad": "x" * 5000}, fds=(w,))
        before = set(os.listdir("/proc/self/fd"))
        with pytest.raises(WorkerError, match="exceeded"):
            recv_message(b, max_bytes=1024, max_fds=1)
        assert set(os.listdir("/proc/self/fd")) <= before
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_caps_leave_room_for_every_capped_field() -> None:
    """It sizes the caps so a maximal result, file write or file read always fits."""
    policy = SandboxPolicy()
    assert host_recv_cap(policy) > policy.max_output_bytes + policy.max_result_bytes
    assert host_recv_cap(policy) > policy.max_file_bytes * 4 // 3
    assert worker_recv_cap(policy) > policy.max_file_bytes * 4 // 3


def test_frames_are_ascii_whatever_the_text() -> None:
    """It escapes every non-ASCII character (and lone surrogates), so a frame never decodes to
    more characters than it has bytes, and it reads its own frames back unchanged."""
    value = {"text": "caf\u00e9 \U0001f600 \ud800", "n": [1, 2.5, None]}
    frame = encode_json(value)
    assert frame.isascii()
    assert decode_json(frame) == value
