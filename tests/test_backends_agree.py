"""The in-process and the isolated backends give the same answer to the same bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.exceptions import InvalidInputs
from ai_sandbox.isolation.worker import _job_fields

BAD_INPUTS = [
    pytest.param({"f": len}, id="function"),
    pytest.param({"m": pytest}, id="module"),
    pytest.param({"c": Path}, id="class"),
    pytest.param({"_x": 1}, id="private-name"),
    pytest.param({"s": {1, object()}}, id="set-of-objects"),
    pytest.param([1, 2], id="not-a-mapping"),
]


@pytest.fixture(params=["none", "strict"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(root=tmp_path, policy=SandboxPolicy(isolation=request.param)) as sb:
        yield sb


@pytest.mark.parametrize("inputs", BAD_INPUTS)
def test_bad_inputs_are_rejected_alike(sandbox: Sandbox, inputs: object) -> None:
    """It rejects live objects and bad names in inputs with rule "inputs", in every backend;
    Sandbox.run raises them as the host's mistake (InvalidInputs, a TypeError)."""
    with pytest.raises(InvalidInputs, match=r"^inputs"):
        sandbox.run("result = 1", inputs)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sandbox.run("result = 1", inputs)  # type: ignore[arg-type]
    res = sandbox._get_backend().execute("result = 1", inputs)  # type: ignore[arg-type]
    assert res.status == "rejected"
    assert res.error is not None
    assert res.error.type == "SecurityError"
    assert res.error.rule == "inputs"


@pytest.mark.parametrize(
    "job",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="list"),
        pytest.param({"code": 1}, id="code-not-text"),
        pytest.param({"code": "x", "inputs": [1]}, id="inputs-not-object"),
    ],
)
def test_a_malformed_job_runs_nothing(job: object) -> None:
    """It treats a job that is not a run request as malformed instead of running empty code."""
    assert _job_fields(job) is None


def test_a_well_formed_job_is_read_as_is() -> None:
    """It reads the code and inputs of a well-formed run request unchanged."""
    assert _job_fields({"code": "result = 1", "inputs": {"a": 1}}) == ("result = 1", {"a": 1})
