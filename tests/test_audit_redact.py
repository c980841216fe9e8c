"""Redaction: secrets never reach the audit file, whatever the agent sends."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ai_sandbox import Sandbox, SandboxPolicy
from ai_sandbox.audit import DEFAULT_REDACT_PATTERNS, AuditLog, Redactor, verify
from ai_sandbox.audit.redact import MAX_DEPTH, TOO_DEEP

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
        pytest.param(
            f"-----BEGIN RSA PRIVATE KEY-----\r\nMIIE\r\n{CANARY}\r\n"
            "-----END RSA PRIVATE KEY-----",
            id="pem-crlf-lines",
        ),
        pytest.param(
            '{"key": "-----BEGIN PRIVATE KEY-----\\nMIIE'
            + CANARY
            + '\\n-----END PRIVATE KEY-----"}',
            id="pem-json-escaped-newlines",
        ),
        pytest.param(f"-----begin private key-----\n{CANARY}", id="pem-lower-case"),
        pytest.param(f"----- BEGIN PRIVATE KEY -----\n{CANARY}", id="pem-spaced-dashes"),
        pytest.param(
            f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n{CANARY}\n-----END PGP PRIVATE KEY BLOCK-----",
            id="pgp-private-block",
        ),
        pytest.param(f'"Authorization: Bearer \\"{CANARY}\\""', id="auth-json-escaped-quote"),
        pytest.param(f'{{"api_key": "ab\\"{CANARY}"}}', id="json-escaped-quote-in-value"),
        pytest.param(f"api key: {CANARY}", id="api-key-spaced"),
        pytest.param(f"postgres://admin:{CANARY}@db.internal/prod", id="url-credentials"),
        pytest.param(f"AWS_KEY_AKIA{CANARY[:16].upper()}_X", id="aws-key-after-underscore"),
        pytest.param(f"ASIA{CANARY[:16].upper()}", id="aws-temporary-key"),
        pytest.param(f'password = "correct horse {CANARY} staple"', id="quoted-passphrase"),
        pytest.param(f"api_key = 'abc {CANARY}'", id="quoted-value-with-space"),
        pytest.param(f"postgres://user:pa:ss{CANARY}@db/x", id="url-password-with-colon"),
        pytest.param(f"sk_live_{CANARY}", id="stripe-secret-key"),
        pytest.param(f"rk_test_{CANARY}", id="stripe-restricted-key"),
        pytest.param(f"glpat-{CANARY}", id="gitlab-token"),
        pytest.param(f"hf_{CANARY}{CANARY}", id="hugging-face-token"),
        pytest.param(f"npm_{CANARY}abcdefghijklmno", id="npm-token"),
        pytest.param(f"SG.{CANARY}.{CANARY}", id="sendgrid-key"),
        pytest.param(f"xapp-1-{CANARY}", id="slack-app-token"),
        pytest.param(f"https://hooks.slack.com/services/T0/B0/{CANARY}", id="slack-webhook"),
        pytest.param(f"pwd = {CANARY}", id="pwd-name"),
        pytest.param(f"db_pass: {CANARY}", id="pass-suffix"),
        pytest.param(f"passphrase={CANARY}", id="passphrase-name"),
        pytest.param(f"privkey: {CANARY}", id="privkey-name"),
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


@pytest.mark.parametrize("key", ["privateKey", "AUTH", "aws_access_key_id", "x-credential"])
def test_more_secret_key_spellings_are_masked(key: str) -> None:
    """It masks values under camel-case and other common spellings of secret keys."""
    assert Redactor().value({key: CANARY}) == {key: "[REDACTED]"}


def test_secrets_used_as_keys_are_masked() -> None:
    """It masks a secret that is a mapping key, keeping every entry."""
    masked = Redactor().value({f"sk-{CANARY}": 1, f"sk-{CANARY}x": 2, "n": 3})
    assert CANARY not in repr(masked)
    assert sorted(masked.values()) == [1, 2, 3]


def test_absurd_nesting_is_cut_not_crashed() -> None:
    """It replaces structure nested deeper than MAX_DEPTH instead of exhausting the stack."""
    value: object = f"sk-{CANARY}"
    for _ in range(MAX_DEPTH * 10):
        value = {"a": [value]}
    masked = Redactor().value(value)
    assert TOO_DEEP in repr(masked)
    assert CANARY not in repr(masked)


def test_lone_surrogates_become_replacement_characters() -> None:
    """It returns text that can always be written as UTF-8 (a record must never fail)."""
    masked = Redactor().value({"path\ud800": "x\udfffy"})
    assert masked == {"path\ufffd": "x\ufffdy"}


def test_ordinary_text_is_left_alone() -> None:
    """It keeps text without secrets unchanged."""
    text = "total = sum(tokens_per_line)\nresult = {'path': 'data/key_points.csv'}"
    assert Redactor().text(text) == text


def test_redaction_stays_fast_on_adversarial_text() -> None:
    """It redacts a megabyte of near-miss text in well under a second of CPU (no backtracking
    blowup). CPU time of this thread, not wall time: a busy machine must not fail it."""
    for text in [
        "token=" * 200_000,
        "eyJ" + "a" * 1_000_000,
        "-eyJ" * 1_000_000,  # a JWT start inside a run rescanned 2 KiB from each "eyJ"
        "sk-" * 300_000,
        "a_key " * 200_000,
        'password = "' * 100_000,
    ]:
        start = time.thread_time()
        Redactor().text(text)
        assert time.thread_time() - start < 1.0


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
