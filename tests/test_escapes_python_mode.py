"""The escape corpus (tests/attacks/escapes.toml) against full Python: the OS alone holds.

In python mode the language guard is gone by design, so many rows simply *run* (``import os``
is ordinary Python). What must still hold is what the attacks were after: the canary outside
the root is never read, nothing is written outside the root, and the host keeps serving.
Every row also runs with ``allow_writes=True`` where it asks for it.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ai_sandbox import Sandbox, SandboxPolicy

CANARY_TEXT = "CANARY-7f3a-outside-the-root"
ATTACKS: list[dict[str, Any]] = tomllib.loads(
    (Path(__file__).parent / "attacks" / "escapes.toml").read_text(encoding="utf-8")
)["attack"]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A project root and, beside it, a canary secret."""
    base = tmp_path_factory.mktemp("python-escapes")
    (base / "project").mkdir()
    (base / "secret.txt").write_text(CANARY_TEXT, encoding="utf-8")
    return base / "project", base / "secret.txt"


@pytest.fixture(scope="module")
def sandboxes(places: tuple[Path, Path]) -> Iterator[dict[bool, Sandbox]]:
    """Python-mode sandboxes on that root, without and with allow_writes."""
    root, _ = places
    policy = SandboxPolicy(language="python", timeout_s=2.0, pool_size=1)
    with (
        Sandbox(root, policy) as read_only,
        Sandbox(root, policy.model_copy(update={"allow_writes": True})) as writable,
    ):
        yield {False: read_only, True: writable}


@pytest.mark.parametrize("attack", ATTACKS, ids=[f"{a['cls']}-{a['id']}" for a in ATTACKS])
def test_the_attack_reaches_nothing_outside_the_root(
    attack: dict[str, Any], places: tuple[Path, Path], sandboxes: dict[bool, Sandbox]
) -> None:
    """It keeps the canary unread and the outside unwritten, whatever the code does."""
    _, canary = places
    outside = canary.parent
    code = attack["code"].replace("{canary}", str(canary)).replace("{outside}", str(outside))
    sandbox = sandboxes[bool(attack.get("allow_writes", False))]
    res = sandbox.run(code)
    assert res.language == "python"
    assert CANARY_TEXT not in json.dumps(res.model_dump(mode="json"))
    assert canary.read_text(encoding="utf-8") == CANARY_TEXT
    assert not (outside / "pwned.txt").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["project", "secret.txt"]
    assert sandbox.run("result = 6 * 7").result == 42
