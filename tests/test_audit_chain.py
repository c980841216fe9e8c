"""The audit log's chain: genesis, sequence, hashes, HMAC, rotation and the head."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import structlog
from audit_support import KEY, lines, make_log

from ai_sandbox.audit import AuditLog, log_series, read_records, verify
from ai_sandbox.audit.chain import ZERO_HASH, canonical, record_hash
from ai_sandbox.exceptions import AuditError, ConfigurationError


def test_a_new_log_starts_with_a_genesis_record(tmp_path: Path) -> None:
    """It starts a new file with a genesis record that continues from the zero hash."""
    records = list(read_records(make_log(tmp_path / "a.jsonl", 1)))
    genesis = records[0]
    assert genesis["event"] == "genesis"
    assert genesis["seq"] == 0
    assert genesis["prev_hash"] == ZERO_HASH
    assert genesis["mac"] == "sha256"
    assert genesis["v"] == 1


def test_records_are_numbered_and_chained(tmp_path: Path) -> None:
    """It numbers records 0, 1, 2... and each names the hash of the one before."""
    records = list(read_records(make_log(tmp_path / "a.jsonl", 5)))
    assert [r["seq"] for r in records] == list(range(6))
    for before, after in itertools.pairwise(records):
        assert after["prev_hash"] == before["hash"]


def test_every_line_is_canonical_json_with_its_own_hash(tmp_path: Path) -> None:
    """It writes each record as canonical JSON whose hash covers everything but the hash."""
    for line in lines(make_log(tmp_path / "a.jsonl", 3)):
        record = json.loads(line)
        assert canonical(record) + b"\n" == line
        assert record["hash"] == record_hash(record, None)


def test_records_carry_time_session_and_caller(tmp_path: Path) -> None:
    """It stamps an ISO-8601 UTC time, the session id and the current caller id."""
    path = tmp_path / "a.jsonl"
    with AuditLog(path, session_id="run-42", caller_id="agent") as log:
        log.record("note", text="default caller")
        with log.caller("planner"):
            log.record("note", text="inside")
    first, second = list(read_records(path))[1:]
    assert first["time"].endswith("Z")
    assert "T" in first["time"]
    assert (first["session"], first["caller"]) == ("run-42", "agent")
    assert second["caller"] == "planner"


def test_a_key_makes_the_chain_an_hmac(tmp_path: Path) -> None:
    """It hashes with HMAC-SHA-256 and records the key's fingerprint when given a key."""
    path = make_log(tmp_path / "a.jsonl", 2, key=KEY)
    records = list(read_records(path))
    assert records[0]["mac"] == "hmac-sha256"
    assert records[0]["key_id"]
    assert KEY.decode() not in path.read_text()
    assert all(r["hash"] == record_hash(r, KEY) for r in records)
    assert verify(path, key=KEY).ok


def test_reopening_continues_the_same_chain(tmp_path: Path) -> None:
    """It continues the sequence of an existing file instead of starting a new chain."""
    path = make_log(tmp_path / "a.jsonl", 2)
    make_log(path, 2)
    records = list(read_records(path))
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 4]
    assert [r["event"] for r in records].count("genesis") == 1
    assert verify(path).ok


def test_rotation_spans_files_with_a_genesis_naming_the_previous_hash(tmp_path: Path) -> None:
    """It rotates at max_bytes to PATH.1, PATH.2... and each new file's genesis links back."""
    path = make_log(tmp_path / "a.jsonl", 60, max_bytes=2048)
    files = log_series(path)
    assert len(files) > 3
    assert files[0].name == "a.jsonl.1"
    assert files[-1] == path
    assert all(f.stat().st_size <= 2048 for f in files)
    previous_last = None
    for f in files:
        first = json.loads(lines(f)[0])
        assert first["event"] == "genesis"
        if previous_last is not None:
            assert (first["seq"], first["prev_hash"]) == (
                previous_last["seq"] + 1,
                previous_last["hash"],
            )
        previous_last = json.loads(lines(f)[-1])
    assert [r["seq"] for r in read_records(path)] == list(range(previous_last["seq"] + 1))
    assert verify(path).ok


def test_head_names_the_last_record(tmp_path: Path) -> None:
    """It reports the current head as (seq, hash) of the last record."""
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        assert log.head() is None
        seq = log.record("note")
        last = json.loads(lines(path)[-1])
        assert log.head() == (seq, last["hash"])


@pytest.mark.parametrize("field", ["seq", "hash", "prev_hash", "time", "session", "caller"])
def test_the_log_owns_its_envelope_fields(tmp_path: Path, field: str) -> None:
    """It refuses records that try to set fields the log sets itself."""
    with AuditLog(tmp_path / "a.jsonl") as log, pytest.raises(ConfigurationError):
        log.record("note", **{field: "forged"})


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"fsync": "sometimes"}, id="fsync-mode"),
        pytest.param({"key": b"short"}, id="short-key"),
        pytest.param({"key": "a string key of some length"}, id="str-key"),
        pytest.param({"max_bytes": 10}, id="tiny-max-bytes"),
    ],
)
def test_bad_configuration_is_refused(tmp_path: Path, options: dict[str, object]) -> None:
    """It refuses settings that cannot work with a ConfigurationError."""
    with pytest.raises(ConfigurationError):
        AuditLog(tmp_path / "a.jsonl", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["batch", "always", "never"])
def test_every_fsync_mode_writes_a_verifiable_log(tmp_path: Path, mode: str) -> None:
    """It writes the same verifiable chain in every fsync mode."""
    path = make_log(tmp_path / "a.jsonl", 3)
    with AuditLog(path, fsync=mode) as log:  # type: ignore[arg-type]
        log.record("note")
    assert verify(path).ok


def test_a_closed_log_refuses_to_write(tmp_path: Path) -> None:
    """It raises AuditError when asked to write after close."""
    log = AuditLog(tmp_path / "a.jsonl")
    log.close()
    with pytest.raises(AuditError):
        log.record("note")


def test_the_host_logging_configuration_is_untouched(tmp_path: Path) -> None:
    """It never calls structlog.configure(): the host's configuration stays as it was."""
    before = structlog.get_config()
    make_log(tmp_path / "a.jsonl", 2)
    assert structlog.get_config() == before
