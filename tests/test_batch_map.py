"""``Sandbox.map``: many programs in parallel fresh workers, bounded, ordered or not."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_sandbox import Sandbox, SandboxPolicy


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("map-root")
    with Sandbox(root, SandboxPolicy(timeout_s=2, memory_limit_mb=128)) as sb:
        yield sb


def test_results_come_back_in_input_order(sandbox: Sandbox) -> None:
    """It yields one result per program, in the order the programs were given."""
    programs = [f"result = {i} * {i}" for i in range(40)]
    results = list(sandbox.map(programs))
    assert [r.result for r in results] == [i * i for i in range(40)]
    assert all(r.status == "ok" and r.isolation == "strict" for r in results)


def test_unordered_results_carry_their_index(sandbox: Sandbox) -> None:
    """It yields every program exactly once as they finish, with ``map_indexed``'s index."""
    programs = [f"result = {i}" for i in range(30)]
    pairs = list(sandbox.map_indexed(programs, ordered=False))
    assert sorted(index for index, _ in pairs) == list(range(30))
    assert all(result.result == index for index, result in pairs)


def test_pairs_and_shared_inputs(sandbox: Sandbox) -> None:
    """It takes source texts (run with ``inputs``) and ``(code, inputs)`` pairs."""
    programs = ["result = x + 1", ("result = x * 10", {"x": 4}), ("result = 7", None)]
    assert [r.result for r in sandbox.map(programs, inputs={"x": 1})] == [2, 40, 7]


def test_an_endless_input_is_read_only_a_window_ahead(sandbox: Sandbox) -> None:
    """It reads at most a bounded window of an endless generator ahead of what it handed back."""
    taken = 0

    def endless() -> Iterator[str]:
        nonlocal taken
        for i in itertools.count():
            taken += 1
            yield f"result = {i}"

    results = sandbox.map(endless(), jobs=2)
    first = [next(results).result for _ in range(10)]
    results.close()
    assert first == list(range(10))
    assert taken <= 10 + 2 * 2 + 1


def test_a_program_that_times_out_or_exhausts_memory_leaves_the_rest_alone(
    sandbox: Sandbox,
) -> None:
    """It stops a spinning and a memory-hungry program mid-batch; their neighbours finish."""
    programs = [
        "result = 'before'",
        "while True:\n    pass",
        "x = [0] * (10 ** 9)",
        "result = 'after'",
    ]
    statuses = [r.status for r in sandbox.map(programs)]
    assert statuses == ["ok", "timeout", "limit", "ok"]


def test_programs_do_not_see_each_other(sandbox: Sandbox) -> None:
    """It runs each program in a fresh worker: what one defines, the next cannot see."""
    programs = [
        "secret = 42\nresult = 1",
        "try:\n    result = secret\nexcept NameError:\n    result = 'absent'",
        "result = secret",
    ]
    results = list(sandbox.map(programs, jobs=1))
    assert results[1].result == "absent"
    assert results[2].status == "error"
    assert results[2].error is not None
    assert results[2].error.type == "NameError"


@pytest.mark.parametrize(
    ("item", "shown"),
    [(b"result = 1", "bytes"), (("result = 1",), "tuple"), (("x", "not a mapping"), "tuple")],
    ids=["bytes", "one-tuple", "bad-inputs"],
)
def test_a_bad_item_is_the_developers_error(sandbox: Sandbox, item: object, shown: str) -> None:
    """It raises ``TypeError`` naming the item's position for an item that is not a program."""
    with pytest.raises(TypeError, match=rf"program 1: .*got {shown}"):
        list(sandbox.map(["result = 1", item]))  # type: ignore[list-item]


@pytest.mark.parametrize("jobs", [0, -1, 10_000, True, 1.5])
def test_jobs_must_be_a_sane_count(sandbox: Sandbox, jobs: object) -> None:
    """It refuses a ``jobs`` that is not a whole number from 1 to 256."""
    from ai_sandbox import ConfigurationError

    with pytest.raises(ConfigurationError, match="jobs"):
        list(sandbox.map(["result = 1"], jobs=jobs))  # type: ignore[arg-type]


def test_a_closed_sandbox_refuses_to_map(tmp_path: Path) -> None:
    """It refuses at once on a closed sandbox, not on the first result."""
    from ai_sandbox import ConfigurationError

    sb = Sandbox(tmp_path, SandboxPolicy())
    sb.close()
    with pytest.raises(ConfigurationError, match="closed"):
        sb.map_indexed(["result = 1"])


def test_a_per_call_timeout_holds_every_program(sandbox: Sandbox) -> None:
    """It stops each program at ``timeout_s``, which may only shorten the policy's limit."""
    from ai_sandbox import ConfigurationError

    results = list(sandbox.map(["while True:\n    pass", "result = 1"], timeout_s=0.5))
    assert [r.status for r in results] == ["timeout", "ok"]
    assert results[0].error is not None
    assert "0.5" in results[0].error.message
    with pytest.raises(ConfigurationError, match="above the policy"):
        sandbox.map(["result = 1"], timeout_s=60)
