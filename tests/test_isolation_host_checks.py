"""The host trusts nothing a worker says: results, output and frames are checked again on the host.

Most tests switch RestrictedPython OFF and write frames straight onto the worker's channel, as
code that escaped the language guard could: the host must still hold the policy's limits
(result size and shape, output size, valid Unicode), refuse frames that would blow up when
decoded, and report a run the broker refused anything as ``rejected``.
"""

from __future__ import annotations

import contextlib
import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.exceptions import InvalidInputs
from ai_sandbox.executor.inputs import MAX_DEPTH, MAX_RESULT_ITEMS, to_json_result
from ai_sandbox.isolation.broker import Broker
from ai_sandbox.isolation.exchange import frame_item_cap
from ai_sandbox.isolation.protocol import count_items, decode_json, encode_json
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.security import SafeFS

POLICY = SandboxPolicy(timeout_s=2.0, max_output_bytes=4096, max_result_bytes=4096, pool_size=1)

#: Escaped code's tools: find the channel, send raw frames, ask the broker, forge a result.
ESCAPED = """
import json, os, socket, stat, struct, sys, time
def _channel():
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return socket.socket(fileno=fd)
        except OSError:
            pass
chan = _channel()
def send_raw(body):
    chan.sendall(struct.pack('>I', len(body)) + body)
def ask(request):
    send_raw(json.dumps(request).encode())
    size = struct.unpack('>I', chan.recv(4, socket.MSG_WAITALL))[0]
    return json.loads(chan.recv(size, socket.MSG_WAITALL))
def _job_id():
    # the run request's id, which a result must carry back: escaped code can find it
    frame = sys._getframe()
    while frame is not None:
        job = frame.f_locals.get('job')
        if isinstance(job, dict) and 'job' in job:
            return job['job']
        frame = frame.f_back
JOB = _job_id()
def send_result(payload):
    send_raw(json.dumps({'type': 'result', 'job': JOB, 'payload': payload}).encode())
    time.sleep(30)
OK = {'status': 'ok', 'result': None, 'stdout': '', 'error': None, 'duration_ms': 1.0}
"""


def forged(code: str) -> str:
    """Unguarded worker code that runs ``code`` with the escaped-code tools at hand."""
    return ESCAPED + code


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding a data file and a dotfile, with a file outside it."""
    base = tmp_path_factory.mktemp("host-checks")
    root = base / "project"
    root.mkdir()
    (root / "data.txt").write_text("data", encoding="utf-8")
    (root / ".env").write_text("TOKEN=inside", encoding="utf-8")
    (base / "outside.txt").write_text("outside", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def escaped(root: Path) -> Iterator[WorkerBackend]:
    """A strict backend whose workers run without RestrictedPython (as if it were bypassed)."""
    backend = WorkerBackend(root, POLICY, _language_guard=False)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def guarded(root: Path) -> Iterator[WorkerBackend]:
    """The same backend with the language guard on (the default)."""
    backend = WorkerBackend(root, POLICY)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def in_process(root: Path) -> Iterator[Sandbox]:
    """An in-process sandbox with the same limits, to compare the host's verdicts with."""
    with pytest.warns(UserWarning, match="isolation"):
        box = Sandbox(root, POLICY.model_copy(update={"isolation": "none"}))
    yield box
    box.close()


# -- finding 1: the host enforces max_result_bytes, max_output_bytes and MAX_DEPTH -------------
def test_a_forged_result_over_the_cap_is_a_limit(
    escaped: WorkerBackend, in_process: Sandbox
) -> None:
    """It refuses a forged result over max_result_bytes (in a frame a result may fill) as the
    executor would: status limit, rule 'result'."""
    size = 5 * POLICY.max_result_bytes
    result = escaped.execute(forged(f"send_result(dict(OK, result='x' * {size}))"))
    expected = in_process.run(f"result = 'x' * {size}")
    assert result.status == "limit"
    assert result.result is None
    assert result.error == expected.error
    assert result.error is not None
    assert result.error.type == "ResourceLimitExceeded"
    assert result.error.rule == "result"


def test_forged_stdout_is_cut_like_the_executor_cuts_it(
    escaped: WorkerBackend, in_process: Sandbox
) -> None:
    """It cuts forged stdout over max_output_bytes to the cap with the executor's marker, and
    keeps the result."""
    size = 5 * POLICY.max_output_bytes
    result = escaped.execute(forged(f"send_result(dict(OK, result=42, stdout='y' * {size}))"))
    expected = in_process.run(f"print('y' * {size}, end='')\nresult = 42")
    assert result.status == "ok"
    assert result.result == 42
    assert len(result.stdout.encode()) <= POLICY.max_output_bytes
    assert "(max_output_bytes)]" in result.stdout
    assert result.stdout == expected.stdout


@pytest.mark.parametrize(
    "field", ["result", "stdout"], ids=["megabytes-of-result", "megabytes-of-stdout"]
)
def test_a_frame_larger_than_any_result_is_refused_before_decoding(
    escaped: WorkerBackend, field: str
) -> None:
    """It refuses a non-write frame larger than a result can be (output and value caps, every
    character escaped) as a protocol violation: nothing of it is decoded or delivered."""
    result = escaped.execute(forged(f"send_result(dict(OK, {field}='z' * (8 * 2**20)))"))
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"
    assert "only a file write may exceed" in result.error.message
    assert result.result is None
    assert "zzz" not in result.stdout


def test_a_large_frame_dressed_as_a_write_is_judged_by_what_it_decodes_to(
    escaped: WorkerBackend,
) -> None:
    """It refuses a large frame that starts like a write request but, through a repeated
    "type" key, decodes as a result: the size cap follows the decoded message too."""
    code = (
        "payload = json.dumps(dict(OK, result='z' * 2**20)).encode()\n"
        'send_raw(b\'{"type":"write","path":"x","type":"result","job":"\''
        " + JOB.encode() + b'\",\"payload\":' + payload + b'}')\n"
        "time.sleep(30)"
    )
    result = escaped.execute(forged(code))
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"
    assert "only a file write may exceed" in result.error.message
    assert result.result is None


def test_the_duration_is_measured_by_the_host(escaped: WorkerBackend) -> None:
    """It reports the duration it measured, not the one a worker claims."""
    result = escaped.execute(forged("send_result(dict(OK, result=1, duration_ms=-1e300))"))
    assert result.status == "ok"
    assert 0 < result.duration_ms < 60_000


def test_a_forged_result_nested_too_deep_is_refused(escaped: WorkerBackend) -> None:
    """It refuses a result nested deeper than the executor's MAX_DEPTH (TypeError)."""
    code = f"nested = []\nfor _ in range({MAX_DEPTH + 20}):\n    nested = [nested]\n"
    result = escaped.execute(forged(code + "send_result(dict(OK, result=nested))"))
    assert result.status == "error"
    assert result.result is None
    assert result.error is not None
    assert result.error.type == "TypeError"
    assert "nested" in result.error.message


def test_a_non_ok_ending_carries_no_result(escaped: WorkerBackend) -> None:
    """It drops a value a worker attached to a failed run (the executor never sends one)."""
    error = "{'type': 'ValueError', 'message': 'm', 'line': 1, 'rule': None}"
    result = escaped.execute(
        forged(f"send_result(dict(OK, status='error', result='x' * 100, error={error}))")
    )
    assert result.status == "error"
    assert result.result is None


# -- finding 2 and 3: frames that would blow up or are not standard JSON ----------------------
BAD_FRAMES = [
    pytest.param(
        f"send_result(dict(OK, result=[[] for _ in range({frame_item_cap(POLICY)})]))",
        id="too-many-containers",
    ),
    pytest.param(
        f"send_result(dict(OK, result=['ab'] * {frame_item_cap(POLICY)}))", id="too-many-strings"
    ),
    pytest.param(
        'send_raw(b\'{"type":"result","job":"\' + JOB.encode() + b\'","payload":{"status":"ok",'
        '"result":1e999,"stdout":"","error":null,"duration_ms":1}}\')',
        id="1e999",
    ),
    pytest.param(
        'send_raw(b\'{"type":"read","path":"data.txt","n":-1e400}\')', id="-1e400-request"
    ),
]


@pytest.mark.parametrize("code", BAD_FRAMES)
def test_a_frame_that_breaks_the_protocol_ends_the_worker(
    escaped: WorkerBackend, code: str
) -> None:
    """It refuses such a frame at once: an error result (WorkerError), the worker killed."""
    start = time.monotonic()
    result = escaped.execute(forged(code + "\ntime.sleep(30)"))
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"
    assert time.monotonic() - start < 1.5


def test_a_frame_of_empty_lists_does_not_inflate_the_host(root: Path) -> None:
    """It refuses a 13 MiB frame of ``[],[],...`` before decoding it: the host allocates
    little more than the frame itself (it used to peak at 400 MB)."""
    backend = WorkerBackend(root, POLICY, _language_guard=False)
    code = forged(f"body = b'[' + b'[],' * ({13 * 2**20} // 3) + b'[]]'\nsend_raw(body)\n")
    try:
        tracemalloc.start()
        try:
            result = backend.execute(code + "time.sleep(30)")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        backend.close()
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "WorkerError"
    assert peak < 80 * 2**20


def test_legitimate_results_fit_the_frame_budget(escaped: WorkerBackend) -> None:
    """It accepts the most item-dense result the executor lets through (``[[], [], ...]`` at
    the byte cap)."""
    count = POLICY.max_result_bytes // 4 - 1
    result = escaped.execute(f"result = [[] for _ in range({count})]")
    assert result.status == "ok", result.error
    assert len(result.result) == count


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([[] for _ in range(50)], id="lists"),
        pytest.param({"a,b": ["[x]", {"k": '"{'}], "c": [1, 2.5, None, True]}, id="mixed"),
        pytest.param(['\\"[', "\\", '"', "\\\\,"], id="escapes"),
        pytest.param({str(i): [i, str(i)] for i in range(20)}, id="dict"),
    ],
)
def test_the_item_count_matches_the_executor(value: Any) -> None:
    """It counts a result's JSON items exactly as the executor's cap counts them, so a result
    the executor passes always fits the host's budget."""
    data = to_json_result(value, 2**20)
    exact = count_items(encode_json(data))
    assert exact == count_items(json.dumps(data).encode())
    assert exact <= len(json.dumps(data)) // 2
    budget = exact
    decode_json(encode_json(data), max_items=budget)
    with pytest.raises(Exception, match="JSON items"):
        decode_json(encode_json(data), max_items=budget - 1)


def test_the_frame_budget_never_exceeds_a_few_hundred_thousand_items() -> None:
    """It caps the budget whatever max_result_bytes allows."""
    huge = SandboxPolicy(max_result_bytes=256 * 2**20)
    assert frame_item_cap(huge) <= MAX_RESULT_ITEMS + 64 <= 400_000


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            encode_json({"type": "write", "path": "a", "data_b64": "QUJD" * 3_500_000}),
            id="write-14MB",
        ),
        pytest.param(b'["' + b"[,{" * 4_700_000 + b'"]', id="brackets-in-a-string"),
        pytest.param(b'["' + b'\\",' * 4_700_000 + b'"]', id="escaped-quotes"),
    ],
)
def test_counting_a_14mb_frame_is_cheap(body: bytes) -> None:
    """It checks a legitimate 14 MB frame's budget in well under a second (measured: ~20-200 ms)."""
    start = time.perf_counter()
    decode_json(body, max_items=300_000)
    assert time.perf_counter() - start < 1.0


def test_counting_a_hostile_14mb_frame_is_cheap() -> None:
    """It refuses a 14 MB frame of short strings without a per-string crawl through it."""
    body = b"[" + b'"ab",' * (14 * 2**20 // 5) + b'""]'
    start = time.perf_counter()
    with pytest.raises(Exception, match="JSON items"):
        decode_json(body, max_items=300_000)
    assert time.perf_counter() - start < 1.0


# -- finding 4: lone surrogates ------------------------------------------------------------------
SURROGATE_RESULTS = [
    pytest.param("chr(0xd800)", id="string"),
    pytest.param("{chr(0xdfff): 1}", id="key"),
    pytest.param("[1, {'a': ['ok', 'x' + chr(0xdc00)]}]", id="nested"),
]


@pytest.mark.parametrize("value", SURROGATE_RESULTS)
def test_a_forged_result_with_a_lone_surrogate_is_refused(
    escaped: WorkerBackend, value: str
) -> None:
    """It refuses a forged result holding a lone surrogate anywhere (TypeError), so the result
    can always be serialised."""
    result = escaped.execute(forged(f"send_result(dict(OK, result={value}))"))
    assert result.status == "error"
    assert result.result is None
    assert result.error is not None
    assert result.error.type == "TypeError"
    assert "not valid Unicode" in result.error.message
    result.model_dump_json()


@pytest.mark.parametrize("value", SURROGATE_RESULTS)
def test_a_guarded_result_with_a_lone_surrogate_is_refused(
    guarded: WorkerBackend, value: str
) -> None:
    """It refuses such a result in a guarded worker the same way."""
    result = guarded.execute(f"result = {value}")
    assert result.status == "error"
    assert result.error is not None
    assert result.error.type == "TypeError"
    assert "not valid Unicode" in result.error.message


def test_lone_surrogates_in_forged_text_become_replacement_characters(
    escaped: WorkerBackend,
) -> None:
    """It replaces lone surrogates in stdout and error texts with U+FFFD, and bounds the texts."""
    error = (
        "{'type': 'E' + chr(0xd800), 'message': 'm' * 100_000 + chr(0xdc00), "
        "'line': 1, 'rule': None}"
    )
    result = escaped.execute(
        forged(f"send_result(dict(OK, status='error', stdout='a' + chr(0xdfff), error={error}))")
    )
    assert result.stdout == "a\ufffd"
    assert result.error is not None
    assert result.error.type == "E\ufffd"
    assert len(result.error.message) < 2100
    result.model_dump_json()


@pytest.mark.parametrize("backend_name", ["escaped", "guarded"])
def test_printing_a_lone_surrogate_gives_a_replacement_character(
    backend_name: str, request: pytest.FixtureRequest
) -> None:
    """It prints a lone surrogate as U+FFFD, in a guarded and an unguarded worker."""
    backend: WorkerBackend = request.getfixturevalue(backend_name)
    result = backend.execute("print(chr(0xdfff))\nresult = 1")
    assert result.status == "ok"
    assert result.stdout == "\ufffd\n"
    result.model_dump_json()


@pytest.mark.parametrize("isolation", ["none", "strict"])
@pytest.mark.parametrize(
    "inputs", [{"\ud800": 1}, {"a": "\ud800"}, {"a": [{"\udfff": 1}]}], ids=["name", "value", "key"]
)
def test_inputs_with_a_lone_surrogate_are_bad_input(
    root: Path, isolation: str, inputs: dict[str, Any]
) -> None:
    """It refuses such inputs as a tool input error in both isolation modes (and from the
    host, as InvalidInputs; the backend still rejects them)."""
    policy = POLICY.model_copy(update={"isolation": isolation})
    warns = pytest.warns(UserWarning, match="isolation")
    with warns if isolation == "none" else contextlib.nullcontext():
        box = Sandbox(root, policy)
    with box:
        answer = box.call("run_python", {"code": "result = 1", "inputs": inputs})
        with pytest.raises(InvalidInputs, match=r"surrogate|name"):  # the host's own: raised
            box.run("result = 1", inputs)
        direct = box._get_backend().execute("result = 1", inputs)
    assert answer.ok is False
    assert answer.error is not None
    assert answer.error.type == "ToolInputError"
    assert "lone surrogate" in answer.error.message
    answer.model_dump_json()
    assert direct.status == "rejected"
    assert direct.error is not None
    assert direct.error.rule == "inputs"


# -- finding 5: the broker's refusals reject the run --------------------------------------------
REFUSED_PATHS = ["../outside.txt", ".env", "/etc/passwd"]


@pytest.mark.parametrize("path", REFUSED_PATHS)
def test_a_refused_request_rejects_the_run(escaped: WorkerBackend, root: Path, path: str) -> None:
    """It reports a run whose request the broker refused as rejected, with the broker's
    message and rule, even though the worker itself reported success."""
    request = {"type": "read", "path": path}
    result = escaped.execute(forged(f"reply = ask({request!r})\nresult = reply['ok']"))
    with SafeFS(root, POLICY) as fs:
        refusal = Broker(fs, POLICY).handle(request)["error"]
    assert result.status == "rejected", result
    assert result.result is None
    assert result.error is not None
    assert result.error.type == "SecurityError"
    assert (result.error.message, result.error.rule) == (refusal["message"], refusal["rule"])
    assert result.error.line is None
    assert "outside" not in result.stdout


ENDINGS = [
    pytest.param("os._exit(0)", "error", id="exit"),
    pytest.param("raise ValueError('boom')", "error", id="raise"),
    pytest.param("send_result(dict(OK, status='limit'))", "limit", id="forged-limit"),
    pytest.param("send_raw(b'{bad')", "error", id="malformed-frame"),
    pytest.param("time.sleep(30)", "timeout", id="timeout"),
]


@pytest.mark.parametrize(("ending", "without"), ENDINGS)
def test_the_first_refusal_wins_over_any_ending(
    escaped: WorkerBackend, ending: str, without: str
) -> None:
    """It reports rejected whatever way the run ended after the refusal, as in-process runs do."""
    refused = escaped.execute(forged(f"ask({{'type': 'read', 'path': '.env'}})\n{ending}"))
    plain = escaped.execute(forged(ending))
    assert plain.status == without
    assert refused.status == "rejected"
    assert refused.error is not None
    assert refused.error.type == "SecurityError"


def test_an_ordinary_mistake_does_not_reject(escaped: WorkerBackend) -> None:
    """It does not reject a run for reading a file that does not exist (as in-process)."""
    result = escaped.execute(forged("result = ask({'type': 'read', 'path': 'missing.txt'})['ok']"))
    assert result.status == "ok"
    assert result.result is False


def test_the_workers_own_rejection_is_kept(guarded: WorkerBackend) -> None:
    """It keeps a guarded worker's own rejection (with its line number)."""
    result = guarded.execute("x = 1\nopen('../outside.txt').read()")
    assert result.status == "rejected"
    assert result.error is not None
    assert result.error.line == 2


def test_sessions_are_rejected_per_run(escaped: WorkerBackend) -> None:
    """It rejects the session run that was refused, and only that one."""
    session = escaped.session()
    try:
        first = session.run(forged("result = ask({'type': 'read', 'path': '.env'})['ok']"))
        second = session.run("result = 2")
    finally:
        session.close()
    assert first.status == "rejected"
    assert second.status == "ok"
    assert second.result == 2
