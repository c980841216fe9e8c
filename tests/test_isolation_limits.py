"""Limits hold from outside the worker: wall clock, memory, output and result size, protocol.

Most tests switch RestrictedPython OFF, so the limits are shown to hold even for code that
escaped the language guard; the host stays unharmed either way.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from layers_support import FIND_CHANNEL

from ai_sandbox import SandboxPolicy
from ai_sandbox.isolation.worker_backend import WorkerBackend

POLICY = SandboxPolicy(
    timeout_s=1.0,
    memory_limit_mb=128,
    max_output_bytes=4096,
    max_result_bytes=4096,
    pool_size=1,
)

#: Code that writes frames straight onto the worker's channel, as escaped code could.
FORGE = """
import os, socket, struct
fd = CHANNEL_FD
chan = socket.socket(fileno=fd)
chan.sendall(FRAME)
import time
time.sleep(5)
"""


@pytest.fixture(scope="module", params=["restricted-unguarded", "python"])
def unguarded(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[WorkerBackend]:
    """A strict backend with tight limits whose workers run plain Python: without
    RestrictedPython, or in language="python" (arbitrary code by design)."""
    root = tmp_path_factory.mktemp("limits")
    if request.param == "python":
        backend = WorkerBackend(root, POLICY.model_copy(update={"language": "python"}))
    else:
        backend = WorkerBackend(root, POLICY, _language_guard=False)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerBackend]:
    """The same limits with RestrictedPython on (the default)."""
    backend = WorkerBackend(tmp_path_factory.mktemp("limits-guarded"), POLICY)
    yield backend
    backend.close()


@pytest.mark.parametrize(
    "code",
    ["while True:\n    pass", "result = sum(range(10**12))", "import time\ntime.sleep(30)"],
    ids=["python-loop", "c-loop", "sleep"],
)
def test_a_1s_timeout_ends_within_1_5s(unguarded: WorkerBackend, code: str) -> None:
    """It kills the worker at the wall-clock limit, even inside a C loop, within 1.5 s."""
    start = time.monotonic()
    result = unguarded.execute(code)
    elapsed = time.monotonic() - start
    assert result.status == "timeout"
    assert result.error is not None
    assert result.error.type == "ExecutionTimeout"
    assert 0.9 <= elapsed <= 1.5


def test_a_worker_that_shuts_its_channel_and_runs_on_is_timed_out(
    unguarded: WorkerBackend,
) -> None:
    """It holds a worker that closed its end of the channel but kept running to the same wall
    clock (no extra wait for an exit that does not come)."""
    code = FIND_CHANNEL + (
        "import socket\n"
        "chan = socket.socket(fileno=CHANNEL_FD)\n"
        "chan.shutdown(socket.SHUT_WR)\nchan.detach()\nwhile True:\n    pass"
    )
    start = time.monotonic()
    result = unguarded.execute(code)
    elapsed = time.monotonic() - start
    assert result.status == "timeout", result
    assert result.error is not None
    assert result.error.type == "ExecutionTimeout"
    assert 0.9 <= elapsed <= 1.5


def test_the_guarded_timeout_is_the_same(guarded: WorkerBackend) -> None:
    """It enforces the same wall clock with the language guard on."""
    start = time.monotonic()
    result = guarded.execute("while True:\n    pass")
    assert result.status == "timeout"
    assert time.monotonic() - start <= 1.5


@pytest.mark.parametrize(
    "code",
    [
        "result = len(bytearray(512 * 1024 * 1024))",
        "blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))",
        "result = len('x' * (512 * 1024 * 1024))",
    ],
    ids=["one-512MiB-block", "growing-bomb", "string-bomb"],
)
def test_a_128mib_limit_stops_a_memory_bomb(unguarded: WorkerBackend, code: str) -> None:
    """It stops a 512 MiB allocation under a 128 MiB limit, and the host does not grow."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = unguarded.execute(code)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.status == "limit"
    assert (after - before) * 1024 < 32 * 1024 * 1024


def test_the_guarded_memory_limit_holds(guarded: WorkerBackend) -> None:
    """It reports a memory bomb under the language guard as a limit too."""
    result = guarded.execute("result = len('x' * (512 * 1024 * 1024))")
    assert result.status == "limit"


@pytest.mark.parametrize("backend_name", ["unguarded", "guarded"])
def test_an_output_flood_is_bounded(
    backend_name: str, unguarded: WorkerBackend, guarded: WorkerBackend
) -> None:
    """It caps a print flood at the output limit; the host reads no more than its cap."""
    backend = unguarded if backend_name == "unguarded" else guarded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = backend.execute("while True:\n    print('x' * 1000)")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.status in ("limit", "timeout")
    assert len(result.stdout.encode()) <= POLICY.max_output_bytes
    assert (after - before) * 1024 < 32 * 1024 * 1024


@pytest.mark.parametrize("backend_name", ["unguarded", "guarded"])
def test_a_huge_result_is_refused(
    backend_name: str, unguarded: WorkerBackend, guarded: WorkerBackend
) -> None:
    """It refuses a result larger than the result limit with status 'limit'."""
    backend = unguarded if backend_name == "unguarded" else guarded
    result = backend.execute("result = 'x' * (64 * 1024 * 1024)")
    assert result.status == "limit"
    assert result.result is None


def test_deep_c_recursion_is_a_result_not_a_crash(unguarded: WorkerBackend) -> None:
    """It reports a worker killed by a C stack overflow (SIGSEGV) as a limit result."""
    code = (
        "import sys\nsys.setrecursionlimit(10**7)\n"
        "nested = []\nfor _ in range(300_000):\n    nested = [nested]\n"
        "import json\nresult = len(json.dumps(nested))"
    )
    result = unguarded.execute(code)
    assert result.status == "limit"
    assert result.error is not None
    assert "stack" in result.error.message


def test_a_worker_that_exits_is_a_result(unguarded: WorkerBackend) -> None:
    """It reports a worker that exits without replying as an error result."""
    result = unguarded.execute("import os\nos._exit(0)")
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"


FORGED_FRAMES = [
    ("oversized-header", "FRAME = struct.pack('>I', 2**32 - 1)"),
    ("malformed-json", "FRAME = struct.pack('>I', 9) + b'{not json'"),
    ("wrong-message", "FRAME = struct.pack('>I', 2) + b'[]'"),
    (
        "result-for-another-job",
        'body = b\'{"type":"result","job":"0","payload":{"status":"ok","result":1}}\'\n'
        "FRAME = struct.pack('>I', len(body)) + body",
    ),
    (
        "bad-payload",
        'body = b\'{"type":"result","payload":{"status":"owned"}}\'\n'
        "FRAME = struct.pack('>I', len(body)) + body",
    ),
]


@pytest.mark.parametrize("frame", [f for _, f in FORGED_FRAMES], ids=[i for i, _ in FORGED_FRAMES])
def test_a_forged_frame_is_refused(unguarded: WorkerBackend, frame: str) -> None:
    """It refuses frames forged by escaped code: an error result, the worker killed."""
    start = time.monotonic()
    result = unguarded.execute("import struct\n" + frame + FIND_CHANNEL + FORGE)
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"
    assert time.monotonic() - start < 1.0  # refused at once, not at the timeout


def test_the_host_survives_and_keeps_serving(unguarded: WorkerBackend) -> None:
    """It keeps serving normal calls after all of the above."""
    assert unguarded.execute("result = 6 * 7").result == 42


def test_inputs_must_be_json(tmp_path: Path, guarded: WorkerBackend) -> None:
    """It refuses inputs that are not JSON data with a clear error, before any worker runs."""
    result = guarded.execute("result = x", {"x": object()})
    assert result.status == "rejected"  # as in-process runs do (test_backends_agree.py)
    assert result.error is not None
    assert result.error.rule == "inputs"
    assert "JSON" in result.error.message
