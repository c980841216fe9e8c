"""SandboxPolicy: one frozen configuration value with safe defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ai_sandbox import SandboxPolicy


def test_defaults_are_the_safe_choice() -> None:
    """It defaults to strict isolation, no writes, no hard links and the deny patterns."""
    policy = SandboxPolicy()
    assert policy.isolation == "strict"
    assert policy.allow_writes is False
    assert policy.allow_hardlinks is False
    assert {".git/", ".env*", "*.pem", "*.key", ".ssh/"} <= set(policy.deny_patterns)
    assert "os" not in policy.allowed_imports
    assert "math" in policy.allowed_imports


def test_it_is_frozen() -> None:
    """It cannot be changed after construction; model_copy makes a new one."""
    policy = SandboxPolicy()
    with pytest.raises(ValidationError):
        policy.timeout_s = 100  # type: ignore[misc]
    assert policy.model_copy(update={"timeout_s": 1.0}).timeout_s == 1.0


@pytest.mark.parametrize(
    "field",
    [
        pytest.param({"timeout_s": 0}, id="zero-timeout"),
        pytest.param({"memory_limit_mb": 1}, id="tiny-memory"),
        pytest.param({"isolation": "docker"}, id="unknown-isolation"),
        pytest.param({"allowed_imports": ["os.path", "_thread"]}, id="private-module"),
        pytest.param({"allowed_imports": ["not a module"]}, id="bad-module-name"),
        pytest.param({"timeout": 5}, id="unknown-field"),
    ],
)
def test_bad_values_are_refused(field: dict[str, object]) -> None:
    """It refuses out-of-range values, unknown fields and private module names."""
    with pytest.raises(ValidationError):
        SandboxPolicy(**field)  # type: ignore[arg-type]


def test_allowed_imports_accepts_a_list() -> None:
    """It accepts allowed_imports as a list (e.g. from a JSON policy file)."""
    policy = SandboxPolicy.model_validate({"allowed_imports": ["math", "csv"]})
    assert policy.allowed_imports == frozenset({"math", "csv"})
