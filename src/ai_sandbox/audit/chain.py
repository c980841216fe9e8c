"""The hash chain: canonical JSON, record hashes, key ids and the rotated file series.

A record is one line of canonical JSON (sorted keys, no spaces, UTF-8, newline-terminated).
Its ``hash`` is SHA-256 — or HMAC-SHA-256 when the log has a key — over the canonical JSON of
the record *without* ``hash``; that body contains ``prev_hash``, the hash of the record before,
so every record seals everything written before it. A file starts with a ``genesis`` record
that names the hash it continues from (:data:`ZERO_HASH` for the first file of a log).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "FORMAT_VERSION",
    "ZERO_HASH",
    "MacName",
    "canonical",
    "key_id",
    "log_series",
    "mac_name",
    "record_hash",
    "sha256_hex",
]

#: Version of the record format, written in every genesis record.
FORMAT_VERSION = 1

#: ``prev_hash`` of the very first genesis record of a log.
ZERO_HASH = "0" * 64

MacName = Literal["sha256", "hmac-sha256"]

_KEY_ID_MESSAGE = b"ai-sandbox audit key id v1"
_ROTATED = re.compile(r"\.(\d{1,9})$")


def canonical(obj: Any) -> bytes:
    """The one byte form of a JSON value: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def mac_name(key: bytes | None) -> MacName:
    """The name of the hash a log with this key uses."""
    return "sha256" if key is None else "hmac-sha256"


def key_id(key: bytes | None) -> str | None:
    """A short public fingerprint of ``key`` (recorded in genesis records to spot a wrong key)."""
    if key is None:
        return None
    return hmac.new(key, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]


def record_hash(record: dict[str, Any], key: bytes | None) -> str:
    """The ``hash`` of ``record``: over its canonical JSON without the ``hash`` field."""
    body = canonical({k: v for k, v in record.items() if k != "hash"})
    if key is None:
        return sha256_hex(body)
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def rotated_path(path: Path, number: int) -> Path:
    """The name a rotated file gets: ``audit.jsonl`` -> ``audit.jsonl.3``."""
    return path.with_name(f"{path.name}.{number}")


def rotated_numbers(path: Path) -> list[int]:
    """Numbers of the rotated files of ``path`` that exist, ascending (oldest first)."""
    numbers: list[int] = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return numbers
    prefix = path.name
    for name in names:
        if name.startswith(prefix):
            match = _ROTATED.fullmatch(name[len(prefix) :])
            if match:
                numbers.append(int(match.group(1)))
    return sorted(numbers)


def log_series(path: str | os.PathLike[str]) -> list[Path]:
    """The files of a log in chain order: the rotated ``PATH.1``, ``PATH.2``... then ``PATH``."""
    base = Path(path)
    files = [rotated_path(base, n) for n in rotated_numbers(base)]
    if base.exists() or not files:
        files.append(base)
    return files
