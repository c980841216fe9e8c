"""Redaction: secrets never reach the audit file, whatever the agent sends."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.audit import DEFAULT_REDACT_PATTERNS, AuditLog, Redactor, verify

CANARY = "c4n4ryS3cretV4lue9271"
POLICY = SandboxPolicy(isolation="none", allow_writes=True)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"client = OpenAI(api_key='sk-{CANARY}')", id="openai-key"),
        pytest.param(f"sk-proj-{CANARY}", id="project-key"),
        pytest.param(f"Authorization: Bearer {CANARY}", id="auth-header"),
        pytest.param(f'{{"authorization": "Basic {CANARY}"}}', id="auth-json"),
        pytest.param(f"headers['Authorization'] = 'token {CANARY}'", id="auth-code"),
        pytest.param(f'GITHUB_TOKEN = "{CANARY}"', id="token-assignment"),
        pytest.param(f"AWS_SECRET_ACCESS_KEY={CANARY}", id="secret-env"),
        pytest.param(f"db_password: {CANARY}", id="password"),
        pytest.param(f'{{"api_key": "{CANARY}"}}', id="api-key-json"),
        pytest.param(f"ghp_{CANARY}abcdefgh", id="github-token"),
        pytest.param(f"AKIA{CANARY[:16].upper()}", id="aws-access-key"),
        pytest.param(
            f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{CANARY}\n-----END RSA PRIVATE KEY-----",
            id="pem-block",
        ),
        pytest.param(f"-----BEGIN PRIVATE KEY-----\n{CANARY}", id="pem-unterminated"),
    ],
)
def test_default_patterns_mask_secrets_in_text(text: str) -> None:
    """It masks well-known secret shapes wherever they appear in text."""
    masked = Redactor().text(text)
    assert CANARY[:16].upper() not in masked.upper()
    assert CANARY not in masked
    assert "[REDACTED]" in masked


@pytest.mark.parametrize(
    "key", ["api_key", "OPENAI_API_KEY", "github_token", "Authorization", "db_password", "secret"]
)
def test_values_under_secret_keys_are_masked(key: str) -> None:
    """It masks the whole value under a secret-looking key, at any depth."""
    assert Redactor().value({"outer": [{key: CANARY}]}) == {"outer": [{key: "[REDACTED]"}]}


def test_ordinary_text_is_left_alone() -> None:
    """It keeps text without secrets unchanged."""
    text = "total = sum(tokens_per_line)\nresult = {'path': 'data/key_points.csv'}"
    assert Redactor().text(text) == text


def test_redaction_stays_fast_on_adversarial_text() -> None:
    """It redacts a megabyte of near-miss text in well under a second (no backtracking blowup)."""
    for text in ["token=" * 200_000, "eyJ" + "a" * 1_000_000, "sk-" * 300_000, "a_key " * 200_000]:
        start = time.perf_counter()
        Redactor().text(text)
        assert time.perf_counter() - start < 1.0


def test_planted_canaries_reach_nowhere_in_the_file(project: Path, tmp_path: Path) -> None:
    """It keeps a canary planted in code, arguments, content and errors out of the log."""
    path = tmp_path / "audit.jsonl"
    code = (
        f'OPENAI_KEY = "sk-{CANARY}"\n'
        f"headers = {{'Authorization': 'Bearer {CANARY}'}}\n"
        f"raise ValueError('leaked sk-{CANARY}')\n"
    )
    with AuditLog(path) as log, Sandbox(project, POLICY, audit=log) as sb:
        sb.call("run_python", {"code": code, "inputs": {"api_token": CANARY, "n": 1}})
        sb.call("run_python", f'{{"code": "result = 1", "inputs": {{"password": "{CANARY}"}}}}')
        sb.call("write_file", {"path": "cfg.env", "content": f"SERVICE_TOKEN={CANARY}\n"})
        sb.call("read_file", {"path": f"sk-{CANARY}.txt"})
        sb.run(f"# -----BEGIN EC PRIVATE KEY-----\n# {CANARY}\n# -----END EC PRIVATE KEY-----")
        log.record("host_event", client_secret=CANARY, note=f"Bearer {CANARY}")
    data = path.read_bytes()
    assert CANARY.encode() not in data
    assert b"[REDACTED]" in data
    assert verify(path).ok


def test_hosts_can_add_their_own_rules(tmp_path: Path) -> None:
    """It applies configured keys and patterns on top of the defaults."""
    path = tmp_path / "audit.jsonl"
    with AuditLog(
        path,
        redact_keys=("customer_id",),
        redact_patterns=(*DEFAULT_REDACT_PATTERNS, r"ACME-\d{6}"),
    ) as log:
        log.record("note", customer_id="C-1", text="order ACME-123456")
    data = path.read_text()
    assert "C-1" not in data
    assert "ACME-123456" not in data
