"""The tamper matrix: every way of changing a log afterwards is found and located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_support import KEY, lines, make_log, rehash, write_lines

from ai_sandbox.audit import log_series, verify


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """An intact log: genesis (seq 0) and records 1..9."""
    return make_log(tmp_path / "audit.jsonl", 9)


def _edit_one_byte(log: Path) -> None:
    content = lines(log)
    content[4] = content[4].replace(b"f4.txt", b"f5.txt")
    write_lines(log, content)


def _edit_and_rehash(log: Path) -> None:
    content = lines(log)
    content[4] = rehash(content[4], args={"path": "innocent.txt"})
    write_lines(log, content)


def _delete(log: Path) -> None:
    content = lines(log)
    del content[4]
    write_lines(log, content)


def _insert_forged(log: Path) -> None:
    content = lines(log)
    previous = json.loads(content[3])
    forged = rehash(content[4], seq=4, prev_hash=previous["hash"], tool="forged")
    content.insert(4, forged)
    write_lines(log, content)


def _insert_copy(log: Path) -> None:
    content = lines(log)
    content.insert(7, content[2])
    write_lines(log, content)


def _swap(log: Path) -> None:
    content = lines(log)
    content[4], content[5] = content[5], content[4]
    write_lines(log, content)


def _not_json(log: Path) -> None:
    content = lines(log)
    content[4] = b"{this is not json}\n"
    write_lines(log, content)


@pytest.mark.parametrize(
    ("tamper", "problem", "seq"),
    [
        pytest.param(_edit_one_byte, "edited", 4, id="edit-one-byte"),
        pytest.param(_edit_and_rehash, "edited", 4, id="edit-field-recompute-own-hash"),
        pytest.param(_delete, "deleted", 4, id="delete-record"),
        pytest.param(_insert_forged, "inserted", 4, id="insert-forged-record"),
        pytest.param(_insert_copy, "inserted", 7, id="insert-copy-of-old-record"),
        pytest.param(_swap, "reordered", 4, id="swap-two-records"),
        pytest.param(_not_json, "edited", 4, id="garbage-line"),
    ],
)
def test_tampering_is_found_at_the_right_record(
    log: Path, tamper: object, problem: str, seq: int
) -> None:
    """It fails and names the first bad record and what is wrong with it."""
    assert verify(log).ok
    tamper(log)  # type: ignore[operator]
    report = verify(log)
    assert not report.ok
    assert (report.problem, report.first_bad_seq) == (problem, seq), report.summary()
    assert report.records == seq


def test_a_forged_record_in_a_keyed_log_is_found_at_its_place(tmp_path: Path) -> None:
    """It spots a record forged without the key as inserted, at its own position."""
    log = make_log(tmp_path / "audit.jsonl", 9, key=KEY)
    content = lines(log)
    previous = json.loads(content[3])
    content.insert(4, rehash(content[4], seq=4, prev_hash=previous["hash"], tool="forged"))
    write_lines(log, content)
    report = verify(log, key=KEY)
    assert (report.problem, report.first_bad_seq) == ("inserted", 4)
    assert report.where == f"{log}:5"


def test_rewriting_a_keyed_log_without_the_key_is_found(tmp_path: Path) -> None:
    """It fails on an edit whose hash was recomputed without the key (plain SHA-256)."""
    log = make_log(tmp_path / "audit.jsonl", 9, key=KEY)
    content = lines(log)
    content[4] = rehash(content[4], args={"path": "innocent.txt"})
    write_lines(log, content)
    report = verify(log, key=KEY)
    assert (report.problem, report.first_bad_seq) == ("edited", 4)


def test_records_cut_off_the_end_are_found_with_the_kept_head(log: Path) -> None:
    """It fails with missing_head when the log no longer reaches the head the reviewer kept."""
    last = json.loads(lines(log)[-1])
    head = (last["seq"], last["hash"])
    write_lines(log, lines(log)[:-3])
    assert verify(log).ok  # a chain alone cannot see a cut end...
    report = verify(log, head=head)  # ...the kept head can
    assert (report.problem, report.first_bad_seq) == ("missing_head", 7)


def test_a_changed_head_record_is_found(log: Path) -> None:
    """It fails when the record at the kept head's seq has another hash."""
    report = verify(log, head=(9, "ab" * 32))
    assert (report.problem, report.first_bad_seq) == ("missing_head", 9)


def test_a_log_that_grew_still_reaches_its_old_head(log: Path) -> None:
    """It accepts a head that is not the last record any more (the log grew since)."""
    old = json.loads(lines(log)[5])
    make_log(log, 3)
    assert verify(log, head=(old["seq"], old["hash"])).ok


def test_a_dropped_rotated_file_is_found(tmp_path: Path) -> None:
    """It fails at the first record of a rotated file that was removed from the series."""
    log = make_log(tmp_path / "audit.jsonl", 60, max_bytes=2048)
    files = log_series(log)
    dropped = json.loads(lines(files[1])[0])["seq"]
    files[1].unlink()
    report = verify(log)
    assert (report.problem, report.first_bad_seq) == ("deleted", dropped)
    assert "rotated file" in report.detail


def test_a_dropped_first_file_is_found(tmp_path: Path) -> None:
    """It fails when the series no longer starts at the beginning of the chain."""
    log = make_log(tmp_path / "audit.jsonl", 60, max_bytes=2048)
    log_series(log)[0].unlink()
    report = verify(log)
    assert (report.problem, report.first_bad_seq) == ("deleted", 0)


@pytest.mark.parametrize(
    ("written_with", "checked_with", "why"),
    [
        pytest.param(KEY, b"another-key-of-16-bytes", "different key", id="other-key"),
        pytest.param(KEY, None, "keyed", id="no-key-for-keyed-log"),
        pytest.param(None, KEY, "not keyed", id="key-for-plain-log"),
    ],
)
def test_a_wrong_key_is_reported_as_such(
    tmp_path: Path, written_with: bytes | None, checked_with: bytes | None, why: str
) -> None:
    """It reports a wrong key at the genesis record, not as an edit."""
    log = make_log(tmp_path / "audit.jsonl", 3, key=written_with)
    report = verify(log, key=checked_with)
    assert (report.problem, report.first_bad_seq) == ("wrong_key", 0)
    assert why in report.detail


def test_the_summary_names_problem_place_and_last_good_record(log: Path) -> None:
    """It explains the failure in words: problem, seq, file and line, last good head."""
    _delete(log)
    text = verify(log).summary()
    assert "FAILED: DELETED at seq 4" in text
    assert f"{log}:5" in text
    assert "last good seq 3" in text
