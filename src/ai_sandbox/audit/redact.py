"""Redaction: secrets are masked before anything is hashed or written.

Two kinds of rules, both configurable on :class:`~ai_sandbox.audit.AuditLog`:

- *keys*: case-insensitive glob patterns on mapping keys (``"*_token"``, ``"authorization"``);
  the whole value under a matching key is replaced.
- *patterns*: regular expressions on text (API keys such as ``sk-...``, ``Authorization``
  headers, ``NAME_TOKEN = "..."`` assignments, PEM private-key blocks). A pattern with a group
  named ``secret`` masks only that group; otherwise the whole match is masked.

Every quantifier that is followed by more pattern is bounded, so redacting a megabyte of
adversarial text stays linear (the text comes from the model).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DEFAULT_REDACT_KEYS",
    "DEFAULT_REDACT_PATTERNS",
    "MASK",
    "MAX_DEPTH",
    "TOO_DEEP",
    "Redactor",
]

#: What a secret is replaced with.
MASK = "[REDACTED]"
#: What replaces a structure nested deeper than :data:`MAX_DEPTH`.
TOO_DEEP = "[REDACTED: nested too deep]"
#: Deepest nesting kept in a record (the executor's inputs and results stop at 200).
MAX_DEPTH = 256

#: Mapping keys whose values are always masked (case-insensitive globs).
DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "*password*",
    "*passwd*",
    "*secret*",
    "*token",
    "*token_*",
    "*_key",
    "*-key",
    "*apikey*",
    "*privatekey*",
    "*private_key*",
    "*accesskey*",
    "*access_key*",
    "*credential*",
    "auth",
)

#: Text patterns masked wherever they appear (in code, arguments, messages).
DEFAULT_REDACT_PATTERNS: tuple[str, ...] = (
    # PEM private-key blocks, any case and spacing, PGP armour too (an unterminated block is
    # masked to the end of the text).
    r"(?i)-----\s?BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?\s?-----[\s\S]*?"
    r"(?:-----\s?END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?\s?-----|\Z)",
    # Authorization headers, in HTTP, JSON or code form (quotes may be JSON-escaped).
    r"(?i)\b(?:proxy-)?authorization[\"'\]\\]{0,4}\s{0,8}[:=]\s{0,8}(?:\\?[\"'])?"
    r"(?:(?:bearer|basic|token|digest)\s{1,8})?(?:\\?[\"'])?(?P<secret>[^\s\"',;\\]+)",
    r"(?i)\bbearer\s{1,8}(?:\\?[\"'])?(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
    # A quoted value after a secret's name, spaces and all: password = "correct horse ...".
    r"(?i)(?:token|secret|passw(?:or)?d|passphrase|\bpwd|_pass|privkey|api[_ -]?key|_key)\b"
    r"[\"'\]\\]{0,4}\s{0,8}[:=]\s{0,8}(?P<quote>\\?[\"'])(?P<secret>[^\"'\n\\]{1,512})(?P=quote)",
    # NAME_TOKEN = "...", "api_key": "...", password=..., AWS_SECRET_ACCESS_KEY=..., with
    # JSON escapes inside the value masked along with it.
    r"(?i)(?:token|secret|passw(?:or)?d|passphrase|\bpwd|_pass|privkey|api[_ -]?key|_key)\b"
    r"[\"'\]\\]{0,4}\s{0,8}[:=]\s{0,8}(?:\\?[\"'])?(?!\[REDACTED\])"
    r"(?P<secret>(?:\\.|[^\"'\s,;})\]\\])+)",
    # Credentials in a URL: scheme://user:SECRET@host (the secret may hold ':').
    r"(?i)\b[a-z][a-z0-9+.-]{0,20}://[^\s:/@]{0,256}:(?P<secret>[^\s/@]{1,256})@",
    # Well-known key formats.
    r"\bsk-[A-Za-z0-9_-]{8,}",
    r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    r"\bAIza[0-9A-Za-z_-]{35}",
    # A JWT starts a run of token characters (never inside one: from every "eyJ" in a long
    # run, the search would rescan up to 2 KiB).
    r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,2048}\.[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,}",
    r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{10,}",
    r"\bglpat-[A-Za-z0-9_-]{20,}",
    r"\bhf_[A-Za-z0-9]{30,}",
    r"\bnpm_[A-Za-z0-9]{36}",
    r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
    r"\bxapp-[A-Za-z0-9-]{10,}",
    r"(?i)https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+",
)


_NAME_HINTS = (
    "token", "secret", "passw", "passphrase", "pwd", "_pass", "privkey",
    "apikey", "api_key", "api-key", "api key", "_key",
)  # fmt: skip

#: Lower-case literals one of which must occur for a default pattern to match at all: a
#: substring test is ~100x cheaper than running the expression over a megabyte of code.
_HINTS: dict[str, tuple[str, ...]] = dict(
    zip(
        DEFAULT_REDACT_PATTERNS,
        (
            ("private key",),
            ("authorization",),
            ("bearer",),
            _NAME_HINTS,
            _NAME_HINTS,
            ("://",),
            ("sk-",),
            ("akia", "asia"),
            ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
            ("github_pat_",),
            ("xox",),
            ("aiza",),
            ("eyj",),
            ("sk_", "rk_"),
            ("glpat-",),
            ("hf_",),
            ("npm_",),
            ("sg.",),
            ("xapp-",),
            ("hooks.slack.com",),
        ),
        strict=True,
    )
)


class Redactor:
    """Masks secrets in text and in nested JSON-like values. Immutable after construction."""

    __slots__ = ("_always", "_any_hint", "_key_cache", "_keys", "_patterns")

    def __init__(
        self,
        keys: Iterable[str] = DEFAULT_REDACT_KEYS,
        patterns: Iterable[str | re.Pattern[str]] = DEFAULT_REDACT_PATTERNS,
    ) -> None:
        globs = [fnmatch.translate(k.lower()) for k in keys]
        self._keys = re.compile("|".join(globs)) if globs else None
        self._key_cache: dict[str, bool] = {}
        self._patterns: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
            (p, ()) if isinstance(p, re.Pattern) else (re.compile(p), _HINTS.get(p, ()))
            for p in patterns
        )
        # One search for "could any hinted pattern match at all?" keeps short text cheap.
        hints = sorted({h for _, hs in self._patterns for h in hs})
        self._any_hint = re.compile("|".join(map(re.escape, hints))) if hints else None
        self._always = any(not hs for _, hs in self._patterns)

    def key_is_secret(self, key: str) -> bool:
        """Whether values stored under ``key`` are masked."""
        known = self._key_cache.get(key)
        if known is None:
            known = self._keys is not None and self._keys.match(key.lower()) is not None
            if len(self._key_cache) < 4096:
                self._key_cache[key] = known
        return known

    def text(self, value: str) -> str:
        """``value`` with every pattern match masked (lone surrogates become U+FFFD, so the
        record can always be written as UTF-8)."""
        value = _valid_unicode(value)
        lowered = value.lower()
        if not self._always and (self._any_hint is None or not self._any_hint.search(lowered)):
            return value
        for pattern, hints in self._patterns:
            if not hints or any(hint in lowered for hint in hints):
                value = pattern.sub(_mask, value)
        return value

    def value(self, value: Any, _depth: int = 0) -> Any:
        """A copy of a JSON-like ``value`` with secret keys and secret-looking text masked.

        Keys are text too (a secret can be a key) and are masked the same way; anything
        nested deeper than :data:`MAX_DEPTH` is replaced by :data:`TOO_DEEP`, so a hostile
        structure can neither exhaust the stack nor carry a secret past the redactor.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping | list | tuple) and _depth >= MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                key = str(k)
                shown = self.text(key)
                if shown in out:  # two keys masked alike: keep both entries
                    shown = f"{shown}#{len(out)}"
                out[shown] = MASK if self.key_is_secret(key) else self.value(v, _depth + 1)
            return out
        if isinstance(value, list | tuple):
            return [self.value(v, _depth + 1) for v in value]
        return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (not encodable as UTF-8) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _mask(match: re.Match[str]) -> str:
    if "secret" in match.re.groupindex and match.group("secret") is not None:
        whole = match.group(0)
        start, end = match.span("secret")
        offset = match.start()
        return whole[: start - offset] + MASK + whole[end - offset :]
    return MASK
