"""The host's own mistakes are raised to the host; execute_ai_code reuses its sandbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox import ConfigurationError, Sandbox, SandboxPolicy, execute_ai_code
from ai_sandbox.exceptions import InvalidInputs
from ai_sandbox.executor import SANDBOXES, SandboxCache


@pytest.fixture(scope="module", params=["none", "strict"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sandbox]:
    with Sandbox(
        tmp_path_factory.mktemp("inputs"), SandboxPolicy(isolation=request.param, pool_size=1)
    ) as box:
        yield box


BAD_HOST_INPUTS = [
    pytest.param(b"abc", "mapping", id="bytes-as-inputs"),
    pytest.param({"x": b"1"}, "an object of type 'bytes'", id="bytes-value"),
    pytest.param({"x": object()}, "an object of type 'object'", id="arbitrary-object"),
    pytest.param({1: 2}, "input name 1", id="non-str-key"),
    pytest.param({"x": {1, 2}}, "an object of type 'set'", id="set"),
    pytest.param({"x": float("nan")}, "NaN", id="nan"),
    pytest.param({"x": float("inf")}, "NaN and infinity", id="infinity"),
    pytest.param({"_x": 1}, "'_x' is not allowed", id="private-name"),
    pytest.param([("x", 1)], "mapping", id="pairs"),
]


@pytest.mark.parametrize(("inputs", "words"), BAD_HOST_INPUTS)
def test_the_hosts_bad_inputs_raise_a_readable_error(
    sandbox: Sandbox, inputs: Any, words: str
) -> None:
    """It raises InvalidInputs (a ConfigurationError and a TypeError) with a readable reason
    for inputs the host passes that are not JSON data, from Sandbox.run and Session.run."""
    with pytest.raises(InvalidInputs) as caught:
        sandbox.run("result = 1", inputs)
    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, TypeError)
    assert words in str(caught.value)
    assert "a object" not in str(caught.value)
    with sandbox.session() as live, pytest.raises(InvalidInputs):
        live.run("result = 1", inputs)


def test_the_models_bad_inputs_are_still_its_mistake(sandbox: Sandbox) -> None:
    """It answers a model's bad inputs through Sandbox.call as a result, not an exception."""
    answer = sandbox.call("run_python", {"code": "result = 1", "inputs": {"_x": 1}})
    assert answer.ok is False
    assert answer.error is not None
    assert answer.error.rule == "inputs"


def test_good_inputs_still_arrive(sandbox: Sandbox) -> None:
    """It passes JSON inputs through unchanged."""
    assert sandbox.run("result = x", {"x": {"a": [1, 2.5, None]}}).result == {"a": [1, 2.5, None]}


def test_a_result_that_is_not_json_reads_well(sandbox: Sandbox) -> None:
    """It names the type of a result that is not JSON data in plain words."""
    res = sandbox.run("result = object()")
    assert res.error is not None
    assert "an object of type 'object'" in res.error.message


# -- execute_ai_code reuses one sandbox per (root, policy) -----------------------------------------
def test_execute_ai_code_reuses_its_sandbox(tmp_path: Path) -> None:
    """It runs later calls with the same root and policy in the same open sandbox."""
    cache = SandboxCache()
    with cache.borrow(tmp_path, None) as first:
        pass
    with cache.borrow(tmp_path, None) as again, cache.borrow(tmp_path, SandboxPolicy()) as same:
        assert again is first
        assert same is first
    other = SandboxPolicy(timeout_s=2)
    with cache.borrow(tmp_path, other) as different:
        assert different is not first
    cache.clear()
    with pytest.raises(ConfigurationError):
        first.run("result = 1")  # closed by clear()


def test_execute_ai_code_evicts_and_closes_only_idle_sandboxes(tmp_path: Path) -> None:
    """It closes the least recently used sandbox past maxsize, but not while it is in use."""
    cache = SandboxCache(maxsize=1)
    with cache.borrow(tmp_path, None) as busy:
        with cache.borrow(tmp_path, SandboxPolicy(timeout_s=2)) as newer:
            assert busy.run("result = 1").result == 1  # evicted, still usable
        assert busy.run("result = 2").result == 2
    with pytest.raises(ConfigurationError):
        busy.run("result = 3")
    assert newer.run("result = 4").result == 4
    cache.clear()


def test_execute_ai_code_is_thread_safe(tmp_path: Path) -> None:
    """It serves many threads at once with one sandbox and right answers."""
    results: dict[int, Any] = {}

    def work(n: int) -> None:
        results[n] = execute_ai_code("result = n * 2", {"n": n}, root=tmp_path)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: n * 2 for n in range(8)}
    assert sum(1 for key in SANDBOXES._entries if key[1] == str(tmp_path.resolve())) == 1
    SANDBOXES.clear()


def test_execute_ai_code_raises_invalid_inputs(tmp_path: Path) -> None:
    """It raises the host's bad inputs as InvalidInputs."""
    with pytest.raises(InvalidInputs):
        execute_ai_code("result = 1", {"x": object()}, root=tmp_path)
    SANDBOXES.clear()
