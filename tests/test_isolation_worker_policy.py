"""The policy as the zygote holds it: the same fields as ``SandboxPolicy``, without pydantic."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox import SandboxPolicy
from ai_sandbox.isolation.worker_backend import WorkerBackend
from ai_sandbox.isolation.worker_policy import WorkerPolicy


def test_it_has_every_field_of_the_sandbox_policy() -> None:
    """It keeps the same field names as SandboxPolicy, so the zygote can never miss one."""
    names = {field.name for field in dataclasses.fields(WorkerPolicy)}
    assert names == set(SandboxPolicy.model_fields)


def test_it_round_trips_a_policy_dump() -> None:
    """It rebuilds every value of a policy the host dumped as JSON."""
    policy = SandboxPolicy(timeout_s=1.5, allowed_imports=["math", "json"], allow_writes=True)
    rebuilt = WorkerPolicy.from_json(policy.model_dump(mode="json"))
    for name in SandboxPolicy.model_fields:
        assert getattr(rebuilt, name) == getattr(policy, name), name


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout_s", "5"),
        ("memory_limit_mb", True),
        ("memory_limit_mb", 1.5),
        ("allowed_imports", "math"),
        ("allowed_imports", [1]),
        ("allow_writes", 1),
        ("isolation", None),
    ],
    ids=["str-timeout", "bool-int", "float-int", "str-list", "int-in-list", "int-bool", "none"],
)
def test_it_refuses_a_field_of_the_wrong_type(field: str, value: Any) -> None:
    """It refuses (fails closed on) a configuration field of the wrong type."""
    data = SandboxPolicy().model_dump(mode="json")
    data[field] = value
    with pytest.raises(ValueError, match=field):
        WorkerPolicy.from_json(data)


def test_the_zygote_does_not_load_pydantic(tmp_path: Path) -> None:
    """It keeps pydantic out of the zygote, so every fork copies a small parent: not among the
    modules a worker inherits, nor among the zygote's mappings (which only root may read: a
    locked zygote is not dumpable)."""
    backend = WorkerBackend(tmp_path, SandboxPolicy(), _language_guard=False)
    try:
        inherited = backend.execute(
            "import sys\n"
            "result = sorted(m for m in sys.modules if m.split('.')[0].startswith('pydantic'))"
        )
        try:
            with open(f"/proc/{backend._zygote.pid}/maps", encoding="utf-8") as maps:
                mapped = maps.read()
        except PermissionError:
            assert os.geteuid() != 0, "root can read any process's maps"
            mapped = ""
    finally:
        backend.close()
    assert inherited.status == "ok", inherited.error
    assert inherited.result == []
    assert "pydantic" not in mapped
