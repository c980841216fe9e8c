"""The wire format between host, zygote and worker: JSON only, size-capped on both sides.

Two transports:

* :class:`Channel` wraps a ``SOCK_STREAM`` socket (host <-> worker). A frame is a 4-byte
  big-endian length followed by that many bytes of UTF-8 JSON. The sender refuses to send a
  frame over its cap and the receiver refuses to read one over its cap *before* reading the
  body, so neither side ever buffers unbounded data from the other.
* :func:`send_message` / :func:`recv_message` use a ``SOCK_SEQPACKET`` socket (host <-> zygote):
  one JSON document per datagram, optionally carrying file descriptors (``SCM_RIGHTS``).

Nothing here unpickles or evaluates anything: a peer can at worst send valid JSON we then
validate. Only standard JSON is accepted (no ``NaN``/``Infinity``, no number that overflows to
infinity such as ``1e999``). ``max_items`` bounds what decoding may build: a frame with more
items (strings, containers and commas, see :func:`count_items`) is refused *before*
``json.loads``, since a frame of ``[],[],...`` would make about 35 bytes of host memory per
byte received.
Violations raise :class:`~ai_sandbox.exceptions.WorkerError` (the peer spoke nonsense) or
:class:`TimeoutError` (a deadline passed).
"""

from __future__ import annotations

import binascii
import contextlib
import json
import math
import os
import re
import select
import socket
import struct
import time
from typing import Any, NamedTuple

from ai_sandbox.exceptions import ResourceLimitExceeded, WorkerError

__all__ = [
    "HEADER",
    "INT_COST_BUDGET",
    "WRITE_PREFIX",
    "Channel",
    "WriteRequest",
    "count_items",
    "decode_json",
    "encode_json",
    "parse_write_frame",
    "recv_message",
    "send_message",
    "wait_readable",
]

#: Frame header: the body's length as an unsigned 32-bit big-endian integer.
HEADER = struct.Struct(">I")
_RECV_CHUNK = 256 * 1024


#: One JSON string once escaped quotes and backslashes are gone (see :func:`count_items`).
_PLAIN_STRING = re.compile(rb'"[^"]*"')


#: Integers decode in time quadratic in their digits (CPython's ``int(str)``): 4,300 digits
#: take about 0.3 ms, and a frame full of them held the host's GIL for half a second. Each
#: integer longer than ``_LONG_INT_DIGITS`` costs its digits squared from a per-frame budget
#: of :data:`INT_COST_BUDGET` (four of the longest ints Python prints), charged *before* it
#: is converted; shorter ones cost about what their bytes do. The host applies it to frames
#: from a worker (``decode_json(..., max_int_cost=INT_COST_BUDGET)``).
_LONG_INT_DIGITS = 64
INT_COST_BUDGET = 4 * 4300 * 4300

#: Base64 is encoded and decoded in pieces of this size (a multiple of 3 and 4), and the GIL
#: is let go between pieces, so the host's other threads (other tenants' runs) are never held
#: up for a whole file's worth at once (a piece takes well under a millisecond).
_B64_PIECE = 3 * 4 * 16 * 1024

#: How every file-write request frame of a worker starts (``encode_json`` keeps key order):
#: ``{"type":"write","path":<JSON string>,"data_b64":"<base64>"}`` and nothing else.
WRITE_PREFIX = b'{"type":"write","path":"'
_WRITE_DATA_KEY = b',"data_b64":"'
_WRITE_END = b'"}'

#: The head and tail of a read reply around its base64 data (see :meth:`Channel.send_data`).
_DATA_REPLY_HEAD = b'{"type":"reply","ok":true,"data_b64":"'
_DATA_REPLY_TAIL = b'"}'


class WriteRequest(NamedTuple):
    """A worker's file-write request, checked for shape and decoded without ``json``."""

    path: str
    data: bytearray


def _int_parser(budget: int) -> Any:
    """A ``parse_int`` for one frame: refuses, before converting, integers whose digits
    (squared, for long ones) exceed the frame's ``budget``."""
    spent = 0

    def parse(text: str) -> int:
        nonlocal spent
        digits = len(text)
        if digits > _LONG_INT_DIGITS:
            spent += digits * digits
            if spent > budget:
                raise ValueError(f"integers too long to decode ({digits} digits)")
        return int(text)

    return parse


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is not finite")
    return value


def count_items(data: bytes | bytearray, *, stop_over: int | None = None) -> int:
    """The JSON items in ``data``: its strings plus its ``[``, ``{`` and ``,`` outside strings.

    Every value ``json.loads`` builds is a string, a container, or follows a comma or an
    opening bracket, so this bounds the objects decoding creates (numbers and literals take a
    comma each; object keys are strings). Counting is done at C speed: escaped backslashes and
    quotes are removed first (pairs, left to right, exactly as JSON reads them), after which
    every ``"`` delimits a string. Text that is not valid JSON may be counted high, never low
    before the point where ``json.loads`` would stop. With ``stop_over``, counting stops early
    (returning a number over it) as soon as the strings alone exceed it.
    """
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    strings = (plain.count(b'"') + 1) // 2
    if stop_over is not None and strings > stop_over:
        return strings
    return strings + _raw_items(_PLAIN_STRING.sub(b"", plain))


def _raw_items(data: bytes | bytearray) -> int:
    return data.count(b"[") + data.count(b"{") + data.count(b",")


def _check_items(data: bytes | bytearray, max_items: int) -> None:
    # Quick upper bound first (brackets and commas inside strings counted too).
    if _raw_items(data) + (data.count(b'"') + 1) // 2 <= max_items:
        return
    items = count_items(data, stop_over=max_items)
    if items > max_items:
        raise WorkerError(f"the peer sent a message of {items} JSON items; the cap is {max_items}")


def encode_json(obj: Any) -> bytes:
    """``obj`` as compact ASCII JSON (standard JSON only: no NaN or Infinity; every non-ASCII
    character escaped, so a frame never decodes to more characters than it has bytes)."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def decode_json(
    data: bytes | bytearray, *, max_items: int | None = None, max_int_cost: int | None = None
) -> Any:
    """Parse JSON from a peer; any malformation (not ASCII, absurd nesting, a non-finite number,
    more than ``max_items`` items, see :func:`count_items`, integers costing more than
    ``max_int_cost`` to convert, see :data:`INT_COST_BUDGET`) is a :class:`WorkerError`.
    ASCII text decodes to a one-byte-per-character string: the frame is never widened."""
    if not data.isascii():  # what encode_json sends; anything else is not ours
        raise WorkerError("the peer sent malformed JSON (not ASCII, as our frames always are)")
    if max_items is not None:
        _check_items(data, max_items)
    try:
        return json.loads(
            data.decode("ascii"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=int if max_int_cost is None else _int_parser(max_int_cost),
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        raise WorkerError(f"the peer sent malformed JSON ({type(exc).__name__})") from None


def parse_write_frame(
    body: bytes | bytearray, *, max_path_bytes: int, max_data_bytes: int
) -> WriteRequest:
    """A write request frame, checked for its exact shape before anything is decoded: the
    path (a short JSON string) is decoded alone and the data straight from base64 to bytes,
    in pieces; the frame is never decoded as JSON text. :class:`WorkerError` otherwise."""
    if not body.startswith(WRITE_PREFIX) or not body.endswith(_WRITE_END):
        raise WorkerError("the worker sent a malformed write request")
    opening = len(WRITE_PREFIX) - 1
    closing = _string_end(body, opening, opening + max_path_bytes + 2)
    path = decode_json(body[opening : closing + 1])
    data_start = closing + 1 + len(_WRITE_DATA_KEY)
    data_end = len(body) - len(_WRITE_END)
    if (
        not isinstance(path, str)
        or body[closing + 1 : data_start] != _WRITE_DATA_KEY
        or data_end < data_start
        or (data_end - data_start) % 4
        or body.find(b"=", data_start, max(data_start, data_end - 2)) != -1
    ):
        raise WorkerError("the worker sent a malformed write request")
    if (data_end - data_start) // 4 * 3 > max_data_bytes + 2:
        raise WorkerError(f"the worker sent a write over the file limit of {max_data_bytes} bytes")
    padding = body.count(b"=", max(data_start, data_end - 2), data_end)
    data = bytearray((data_end - data_start) // 4 * 3 - padding)  # decoded in place, no growth
    with memoryview(body) as view:
        try:
            filled = 0
            for at in range(data_start, data_end, _B64_PIECE):
                piece = binascii.a2b_base64(
                    view[at : min(at + _B64_PIECE, data_end)], strict_mode=True
                )
                data[filled : filled + len(piece)] = piece
                filled += len(piece)
                time.sleep(0)  # let another thread take the GIL between pieces
        except (binascii.Error, ValueError):
            raise WorkerError("the worker sent a malformed write request") from None
    if filled != len(data):
        raise WorkerError("the worker sent a malformed write request")
    return WriteRequest(path, data)


def _string_end(body: bytes | bytearray, opening: int, limit: int) -> int:
    """The index of the quote that closes the JSON string opened at ``opening`` (searched
    only up to ``limit``)."""
    at = opening + 1
    while True:
        at = body.find(b'"', at, limit)
        if at == -1:
            raise WorkerError("the worker sent a malformed write request (path too long)")
        backslashes = 0
        while body[at - 1 - backslashes] == 0x5C:  # "\\"
            backslashes += 1
        if backslashes % 2 == 0:
            return at
        at += 1


class Channel:
    """Length-prefixed JSON frames over a stream socket, with a cap per direction.

    Not thread-safe: one thread talks on a channel at a time.
    """

    __slots__ = ("_buf", "eof", "max_recv", "max_send", "sock")

    def __init__(self, sock: socket.socket, *, max_send: int, max_recv: int) -> None:
        self.sock = sock
        self.max_send = max_send
        self.max_recv = max_recv
        self._buf = bytearray()
        #: True once the peer closed its end (EOF or a broken pipe), as opposed to misbehaving.
        self.eof = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, obj: Any, *, deadline: float | None = None) -> None:
        """Send one frame; :class:`ResourceLimitExceeded` if it is over ``max_send``."""
        self.send_bytes(encode_json(obj), deadline=deadline)

    def send_bytes(self, body: bytes, *, deadline: float | None = None) -> None:
        """Send an already-encoded JSON body as one frame."""
        if len(body) > self.max_send:
            raise ResourceLimitExceeded(
                "message",
                f"message of {len(body)} bytes exceeds the channel cap of {self.max_send}",
            )
        self.sock.settimeout(_remaining(deadline))
        try:
            self.sock.sendall(HEADER.pack(len(body)) + body)
        except TimeoutError:
            raise
        except OSError as exc:
            self.eof = True
            raise WorkerError(f"the channel is broken ({exc.strerror or exc})") from None

    def send_data(self, data: bytes, *, deadline: float | None = None) -> None:
        """Send a successful read reply, ``{"type":"reply","ok":true,"data_b64":...}``,
        encoding ``data`` to base64 piece by piece as it goes out (no copy of the whole
        frame, and never the GIL for a whole file at once)."""
        encoded = 4 * ((len(data) + 2) // 3)
        size = len(_DATA_REPLY_HEAD) + encoded + len(_DATA_REPLY_TAIL)
        if size > self.max_send:
            raise ResourceLimitExceeded(
                "message", f"message of {size} bytes exceeds the channel cap of {self.max_send}"
            )
        with memoryview(data) as view:
            self._send_all(HEADER.pack(size) + _DATA_REPLY_HEAD, deadline)
            for at in range(0, len(data), _B64_PIECE):
                piece = view[at : at + _B64_PIECE]
                self._send_all(binascii.b2a_base64(piece, newline=False), deadline)
            self._send_all(_DATA_REPLY_TAIL, deadline)

    def _send_all(self, data: bytes, deadline: float | None) -> None:
        self.sock.settimeout(_remaining(deadline))
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise
        except OSError as exc:
            self.eof = True
            raise WorkerError(f"the channel is broken ({exc.strerror or exc})") from None

    def recv(self, *, deadline: float | None = None, max_items: int | None = None) -> Any:
        """Receive and parse one frame (of at most ``max_items`` items, see :func:`decode_json`).

        Raises :class:`WorkerError` on EOF, an oversized frame or bad JSON, and
        :class:`TimeoutError` once ``deadline`` (a ``time.monotonic()`` value) has passed.
        """
        return decode_json(self.recv_bytes(deadline=deadline), max_items=max_items)

    def recv_bytes(self, *, deadline: float | None = None) -> bytes | bytearray:
        """Receive one frame's body without parsing it.

        A body larger than what is already buffered is read straight into one buffer of its
        announced size (``recv_into``): the only copy of the frame the host holds."""
        self._fill(HEADER.size, deadline)
        (size,) = HEADER.unpack_from(self._buf)
        if size > self.max_recv:
            raise WorkerError(
                f"the peer announced a {size}-byte message; the cap is {self.max_recv} bytes"
            )
        end = HEADER.size + size
        if len(self._buf) >= end or size <= _RECV_CHUNK:
            self._fill(end, deadline)
            with memoryview(self._buf) as view:
                body = bytes(view[HEADER.size : end])
            del self._buf[:end]
            return body
        large = bytearray(size)
        have = len(self._buf) - HEADER.size
        large[:have] = self._buf[HEADER.size :]
        self._buf.clear()
        with memoryview(large) as view:
            while have < size:
                have += self._recv_into(view[have:], deadline)
        return large

    def _recv_into(self, view: memoryview, deadline: float | None) -> int:
        self.sock.settimeout(_remaining(deadline))
        try:
            count = self.sock.recv_into(view)
        except TimeoutError:
            raise
        except OSError as exc:
            self.eof = True
            raise WorkerError(f"the channel is broken ({exc.strerror or exc})") from None
        if not count:
            self.eof = True
            raise WorkerError("the peer closed the channel")
        return count

    def _fill(self, need: int, deadline: float | None) -> None:
        while len(self._buf) < need:
            self.sock.settimeout(_remaining(deadline))
            try:
                chunk = self.sock.recv(max(_RECV_CHUNK, need - len(self._buf)))
            except TimeoutError:
                raise
            except OSError as exc:
                self.eof = True
                raise WorkerError(f"the channel is broken ({exc.strerror or exc})") from None
            if not chunk:
                self.eof = True
                raise WorkerError("the peer closed the channel")
            self._buf += chunk

    def pending(self) -> bool:
        """Whether the peer has sent anything not yet received (or closed its end)."""
        return bool(self._buf) or wait_readable(self.sock.fileno(), 0)

    def close(self) -> None:
        self.sock.close()


def wait_readable(fd: int, timeout_s: float) -> bool:
    """Whether ``fd`` becomes readable (or hangs up) within ``timeout_s`` seconds.

    ``poll``, never ``select.select``: a busy host passes fd number 1024, where ``select``
    raises ``ValueError``."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, math.ceil(timeout_s * 1000))))


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def send_message(sock: socket.socket, obj: Any, *, fds: tuple[int, ...] = ()) -> None:
    """Send one JSON datagram on a ``SOCK_SEQPACKET`` socket, optionally with descriptors."""
    body = encode_json(obj)
    if fds:
        socket.send_fds(sock, [body], list(fds))
    else:
        sock.sendall(body)


def recv_message(sock: socket.socket, *, max_bytes: int, max_fds: int = 0) -> tuple[Any, list[int]]:
    """Receive one JSON datagram and any descriptors it carries.

    Raises :class:`WorkerError` on EOF, truncation (a datagram over ``max_bytes``), or bad JSON;
    received descriptors are closed before raising so none leak.
    """
    anc = socket.CMSG_SPACE(max_fds * 4) if max_fds else 0
    data, ancdata, flags, _addr = sock.recvmsg(max_bytes + 1, anc)
    fds: list[int] = []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds.extend(struct.unpack(f"{usable // 4}i", payload[:usable]))
    try:
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(data) > max_bytes:
            raise WorkerError(f"a control message exceeded {max_bytes} bytes or its descriptors")
        if not data:
            raise WorkerError("the peer closed the control channel")
        return decode_json(data), fds
    except BaseException:
        for fd in fds:
            _close_quietly(fd)
        raise


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
