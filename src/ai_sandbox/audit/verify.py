"""``verify``: recompute the chain and say where and how it breaks.

Problems, in the words the report uses:

- ``edited``: a record's bytes no longer match its hash, or a record was changed and its own
  hash recomputed (the next record still names the original hash);
- ``deleted``: records are missing (a gap in ``seq``, a dropped rotated file, a missing start);
- ``inserted``: a record that does not belong to the chain (forged, duplicated);
- ``reordered``: records are out of order;
- ``wrong_key``: the log was written with another key, or keyed/unkeyed differs from ``key``;
- ``missing_head``: the log no longer reaches the head a reviewer kept (records cut off the end);
- ``torn_tail``: the last line is incomplete (a writer died mid-write) — every complete record
  verifies; this is a crash, not tampering, and the next append seals it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ai_sandbox.audit.chain import ZERO_HASH, canonical, key_id, record_hash
from ai_sandbox.audit.reader import Line, PathArg, files_of, read_lines, seals

__all__ = ["Problem", "VerifyReport", "parse_head", "verify"]

Problem = Literal[
    "edited", "deleted", "inserted", "reordered", "wrong_key", "missing_head", "torn_tail"
]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The verdict on a log. ``ok`` is true only when every record verifies to the end."""

    ok: bool
    files: tuple[str, ...]
    records: int
    head: tuple[int, str] | None
    problem: Problem | None = None
    first_bad_seq: int | None = None
    detail: str = ""
    where: str | None = None
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """A few lines for a person: the verdict, the head, and what is wrong where."""
        head = f"seq {self.head[0]} hash {self.head[1]}" if self.head else "(empty)"
        if self.ok:
            lines = [f"OK: {self.records} records intact; head {head}"]
        else:
            problem = (self.problem or "unknown").upper().replace("_", " ")
            at = f" at seq {self.first_bad_seq}" if self.first_bad_seq is not None else ""
            place = f" ({self.where})" if self.where else ""
            lines = [
                f"FAILED: {problem}{at}{place}",
                f"  {self.detail}",
                f"  {self.records} records verified before it; last good {head}",
            ]
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def parse_head(text: str) -> tuple[int, str]:
    """``"SEQ:HASH"`` as ``(seq, hash)``; ``ValueError`` if malformed."""
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise ValueError(f"expected SEQ:HASH (e.g. 41:3fa9...), got {text!r}")
    return int(seq), digest.lower()


def verify(
    paths: PathArg, *, key: bytes | None = None, head: tuple[int, str] | None = None
) -> VerifyReport:
    """Verify a log (a path means the file and its rotated series; a list is taken as given)."""
    files = tuple(str(p) for p in files_of(paths))
    missing = [f for f in files if not Path(f).exists()]
    if missing:
        return VerifyReport(
            False, files, 0, None, "deleted", 0, f"file not found: {missing[0]}", missing[0]
        )
    return _Verifier(list(read_lines(paths)), key, files).run(head)


class _Verifier:
    """One pass over the lines; stops at the first problem."""

    def __init__(self, lines: list[Line], key: bytes | None, files: tuple[str, ...]) -> None:
        self.lines = lines
        self.records = [line.parse() for line in lines]
        self.key = key
        self.files = files
        self.seq = 0
        self.prev = ZERO_HASH
        self.count = 0
        self.head: tuple[int, str] | None = None
        self.hashes: dict[int, str] = {}
        self.index_of: dict[int, int] = {}
        self.notes: list[str] = []

    def fail(
        self, problem: Problem, detail: str, line: Line | None, seq: int | None = None
    ) -> VerifyReport:
        return VerifyReport(
            False,
            self.files,
            self.count,
            self.head,
            problem,
            self.seq if seq is None else seq,
            detail,
            line.where if line else None,
            tuple(self.notes),
        )

    def run(self, head: tuple[int, str] | None) -> VerifyReport:
        torn: Line | None = None
        i = 0
        while i < len(self.lines):
            line, record = self.lines[i], self.records[i]
            if line.torn and i == len(self.lines) - 1:
                torn = line
                break
            if record is None or not self._intact(record, line):
                if i + 1 < len(self.lines) and seals(self.records[i + 1], line):
                    self.notes.append(f"torn line at {line.where} sealed by the next writer")
                    i += 1
                    continue
                return self._bad_record(i)
            problem = self._link(i)
            if problem is not None:
                return problem
            self.prev, self.head = record["hash"], (self.seq, record["hash"])
            self.hashes[self.seq] = record["hash"]
            self.index_of[self.seq] = i
            self.seq += 1
            self.count += 1
            i += 1
        if head is not None:
            problem = self._check_head(head)
            if problem is not None:
                return problem
        if torn is not None:
            return self.fail(
                "torn_tail",
                f"the last line ({len(torn.data)} bytes) is incomplete: a writer stopped "
                f"mid-write (crash or kill), not tampering; all {self.count} complete records "
                "verify",
                torn,
            )
        return VerifyReport(True, self.files, self.count, self.head, notes=tuple(self.notes))

    def _intact(self, record: dict[str, Any], line: Line) -> bool:
        return canonical(record) == line.data and record.get("hash") == record_hash(
            record, self.key
        )

    def _bad_record(self, i: int) -> VerifyReport:
        line, record = self.lines[i], self.records[i]
        if record is not None and record.get("event") == "genesis":
            wrong = self._key_problem(record)
            if wrong is not None:
                return self.fail("wrong_key", wrong, line)
        if self.key is None and self._keyed_log():
            return self.fail("wrong_key", "the log is keyed (HMAC-SHA-256): give its key", line)
        nxt = self.records[i + 1] if i + 1 < len(self.records) else None
        if (
            nxt is not None
            and self._intact(nxt, self.lines[i + 1])
            and (nxt.get("seq"), nxt.get("prev_hash")) == (self.seq, self.prev)
        ):
            return self.fail(
                "inserted", "this record is not part of the chain (the next links past it)", line
            )
        if line.torn:
            return self.fail("edited", "an incomplete line inside a rotated file", line)
        return self.fail("edited", "the record does not match its hash", line)

    def _key_problem(self, genesis: dict[str, Any]) -> str | None:
        mac = genesis.get("mac")
        if mac == "hmac-sha256" and self.key is None:
            return "the log is keyed (HMAC-SHA-256): give its key"
        if mac == "sha256" and self.key is not None:
            return "the log is not keyed (plain SHA-256) but a key was given"
        if self.key is not None and genesis.get("key_id") != key_id(self.key):
            return "the log was written with a different key"
        return None

    def _keyed_log(self) -> bool:
        return any(r is not None and r.get("mac") == "hmac-sha256" for r in self.records)

    def _link(self, i: int) -> VerifyReport | None:
        line, record = self.lines[i], self.records[i] or {}
        genesis = record.get("event") == "genesis"
        if genesis:
            wrong = self._key_problem(record)
            if wrong is not None:
                return self.fail("wrong_key", wrong, line)
        seq, prev = record.get("seq"), record.get("prev_hash")
        if not isinstance(seq, int):
            return self.fail("edited", "the record has no sequence number", line)
        if seq == self.seq and prev == self.prev:
            if line.first_in_file and not genesis:
                return self.fail("deleted", "the file's genesis record is missing", line)
            if genesis and not line.first_in_file:
                return self.fail("inserted", "a genesis record inside a file", line)
            return None
        if seq == self.seq:
            if i == 0:
                return self.fail("deleted", "the log does not start at the chain's beginning", line)
            self.count -= 1
            self.head = (seq - 2, self.hashes[seq - 2]) if seq >= 2 else None
            return self.fail(
                "edited",
                f"record {seq - 1} was changed and its hash recomputed: record {seq} still "
                "names the original hash",
                self.lines[i - 1],
                seq - 1,
            )
        if seq > self.seq:
            later = any(r is not None and r.get("seq") == self.seq for r in self.records[i + 1 :])
            if later:
                return self.fail("reordered", f"record {seq} comes before record {self.seq}", line)
            gap = f"{self.seq}..{seq - 1}" if seq - 1 > self.seq else str(self.seq)
            what = "; a rotated file is missing?" if line.first_in_file else ""
            return self.fail("deleted", f"records {gap} are missing{what}", line)
        return self._duplicate(i, seq)

    def _duplicate(self, i: int, seq: int) -> VerifyReport:
        """Two records claim ``seq``: the one later records do not build on is the insertion."""
        record = self.records[i] or {}
        nxt = self.records[i + 1] if i + 1 < len(self.records) else None
        first = self.index_of.get(seq)
        if first is not None and nxt is not None and nxt.get("prev_hash") == record.get("hash"):
            self.count = seq
            self.head = (seq - 1, self.hashes[seq - 1]) if seq >= 1 else None
            return self.fail(
                "inserted",
                f"record {seq} is not part of the chain: the genuine record {seq} follows later "
                f"({self.lines[i].where}) and the chain continues from it",
                self.lines[first],
                seq,
            )
        return self.fail(
            "inserted", f"a record claiming seq {seq} where seq {self.seq} belongs", self.lines[i]
        )

    def _check_head(self, head: tuple[int, str]) -> VerifyReport | None:
        seq, digest = head
        if seq not in self.hashes:
            last = self.head[0] if self.head else -1
            return self.fail(
                "missing_head",
                f"the log ends at seq {last} but the kept head is seq {seq}: records "
                f"{last + 1}..{seq} were cut off",
                None,
                last + 1,
            )
        if self.hashes[seq] != digest:
            return self.fail(
                "missing_head", f"record {seq} no longer has the kept head hash", None, seq
            )
        return None
