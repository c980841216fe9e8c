"""Lexical checks on a path string: type, length, names, ``~``, absolute prefixes, deny patterns.

These run before the file system is touched. They never confine a path on their own: that is
the job of the walk beneath the root's directory fd (``walk``) or ``openat2``.

Decisions worth knowing:

* Names are checked with pathvalidate for the running platform, and more strictly than it does:
  control, format (bidi overrides such as U+202E, zero-width characters), surrogate, private-use
  and unassigned characters are refused, as are backslashes (a model means a separator) and names
  that begin or end with whitespace or end with a dot (Windows silently drops those, so
  ``".env."`` could name ``.env`` there).
* Deny patterns are matched case-insensitively on NFKC-normalised names with trailing dots and
  spaces stripped: on case-insensitive file systems ``.GIT`` *is* ``.git``, and ``.env`` spelled
  in full-width letters must not slip past ``.env*``. Refusing a few extra look-alikes is the
  safe error.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase, translate
from pathlib import Path
from typing import Final, NamedTuple

from pathvalidate import ValidationError, validate_filename

from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.pathlayer.errors import refuse

__all__ = [
    "MAX_NAME_BYTES",
    "DenyPattern",
    "DenyPatterns",
    "check_name",
    "compile_deny_patterns",
    "denied_by",
    "split_path",
    "to_text",
]

#: NAME_MAX on Linux and most file systems.
MAX_NAME_BYTES: Final = 255

#: Unicode categories refused in names: controls, format (bidi, zero-width), surrogates,
#: private use, unassigned, line and paragraph separators.
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

#: How many leading components of an absolute path may be tried as another spelling of the root.
_MAX_ROOT_ALIAS_DEPTH: Final = 40


def to_text(path: object) -> str:
    """``path`` as a ``str`` (``os.PathLike`` accepted); anything else is refused."""
    try:
        raw = os.fspath(path)  # type: ignore[call-overload]
    except Exception:  # TypeError, or whatever a hostile __fspath__ raises
        raise refuse("invalid_name", type_label(path), "refused: a path must be a string") from None
    if not isinstance(raw, str):
        raise refuse("invalid_name", type_label(raw), "refused: give the path as text, not bytes")
    # Read once, as an exact ``str``: a subclass could override ``split``/``startswith``/
    # ``encode`` so that the checks saw another path than the one opened, and an
    # ``os.PathLike`` could answer differently on a second ``__fspath__`` call.
    return str.__str__(raw)


def type_label(value: object) -> str:
    """What a refused non-path was, by type only (its own ``__repr__`` is never called)."""
    return f"<{type(value).__name__}>"


def split_path(raw: str, root: Path, max_path_length: int) -> list[str]:
    """Check ``raw`` lexically and return its components relative to ``root``.

    ``.`` and empty components are dropped; ``..`` is kept for the walk to judge. An absolute
    path is accepted only if it names something beneath ``root``.
    """
    # Every character is at least one byte: a huge string is refused before it is encoded.
    size = len(raw) if len(raw) > max_path_length else len(raw.encode("utf-8", "surrogatepass"))
    if size > max_path_length:
        raise refuse(
            "path_too_long",
            raw,
            f"refused: the path is at least {size} bytes long; the limit is {max_path_length}",
        )
    if not _is_unicode_text(raw):
        # Before anything (e.g. the root-alias lookup below) hands it to the OS, which would
        # raise UnicodeEncodeError: a lone surrogate names no file we could ever allow.
        raise refuse(
            "invalid_name",
            raw,
            "refused: the path contains a lone surrogate (U+D800-U+DFFF), which is not valid "
            "Unicode text; use a path made of real characters",
        )
    if not raw:
        raise refuse("invalid_name", raw, "refused: empty path; use '.' for the project root")
    if "\x00" in raw:
        raise refuse("invalid_name", raw, "refused: the path contains a null byte; remove it")
    if raw.startswith("~"):
        raise refuse("home_dir", raw)
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if raw.startswith("/"):
        parts = _strip_root(parts, root, raw)
    for name in parts:
        if name != "..":
            check_name(name, raw)
    return parts


def _is_unicode_text(text: str) -> bool:
    """Whether ``text`` is encodable as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_name(name: str, raw: str) -> None:
    """Refuse a single path component that is not a safe, valid name on this platform."""
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise refuse(
            "path_too_long",
            raw,
            f"refused: a file or directory name is longer than {MAX_NAME_BYTES} bytes",
        )
    for char in name:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            label = unicodedata.name(char, "a control character")
            raise refuse(
                "invalid_name",
                raw,
                f"refused: the name {name!r} contains the invisible or control character "
                f"U+{ord(char):04X} ({label}); use a name without it",
            )
    if "\\" in name:
        raise refuse(
            "invalid_name", raw, "refused: backslash in a name; use '/' to separate directories"
        )
    if name[0].isspace() or name[-1].isspace() or name.endswith("."):
        raise refuse(
            "invalid_name",
            raw,
            f"refused: the name {name!r} begins or ends with a space or ends with a dot, which "
            "some systems silently drop; use a name without them",
        )
    try:
        validate_filename(name, platform="auto", max_len=MAX_NAME_BYTES)
    except ValidationError as exc:
        raise refuse(
            "invalid_name",
            raw,
            f"refused: {name!r} is not a valid file name on this platform "
            f"({exc.reason.description})",
        ) from None


def _strip_root(parts: list[str], root: Path, raw: str) -> list[str]:
    """The components of absolute ``raw`` below ``root``; refuse if it is not beneath it."""
    root_parts = list(root.parts[1:])
    if parts[: len(root_parts)] == root_parts:
        return parts[len(root_parts) :]
    # Another spelling of the root (e.g. through a symlinked /tmp): a point-in-time lookup is
    # enough, because what remains is still walked beneath the root's own directory fd.
    for depth in range(1, min(len(parts), _MAX_ROOT_ALIAS_DEPTH) + 1):
        prefix = parts[:depth]
        if ".." in prefix:
            break
        try:
            alias = os.path.realpath("/" + "/".join(prefix))
        except (OSError, ValueError):
            break
        if alias == str(root):
            return parts[depth:]
    raise refuse(
        "outside_root",
        raw,
        "refused: absolute paths outside the project root are not allowed; use a path relative "
        "to the project root, e.g. 'data/file.txt'",
    )


class DenyPattern(NamedTuple):
    """One compiled deny pattern: ``parts`` are folded globs; ``anchored`` ones match from root."""

    source: str
    anchored: bool
    parts: tuple[str, ...]


def _fold(name: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return folded.rstrip(" .") if name not in (".", "..") else name


class DenyPatterns(tuple[DenyPattern, ...]):
    """Compiled deny patterns, in order, with one regex for all the unanchored ones.

    Most paths match no pattern: one regex search per name tells that, instead of one glob
    match per pattern and name (the default list has dozens of patterns).
    """

    any_component: re.Pattern[str] | None
    anchored: tuple[DenyPattern, ...]
    #: Matches a name that some glob of an anchored pattern needs (None: no quick answer).
    anchored_hint: re.Pattern[str] | None

    def __new__(cls, patterns: Iterable[DenyPattern]) -> DenyPatterns:
        self = super().__new__(cls, patterns)
        globs = [translate(p.parts[0]) for p in self if not p.anchored]
        self.any_component = re.compile("|".join(globs)) if globs else None
        self.anchored = tuple(p for p in self if p.anchored)
        needed = {glob for p in self.anchored for glob in p.parts if glob != "**"}
        everything = any(set(p.parts) == {"**"} for p in self.anchored)
        hint = "|".join(translate(glob) for glob in sorted(needed))
        self.anchored_hint = re.compile(hint) if hint and not everything else None
        return self


def compile_deny_patterns(patterns: Sequence[str]) -> DenyPatterns:
    """Compile gitignore-style ``patterns``; unsupported ones are a ``ConfigurationError``.

    ``name/`` refuses any component called ``name`` (and so everything below it); a pattern
    without ``/`` matches any component (``.env*``, ``*.pem``); one with a leading or inner ``/``
    is anchored at the root (``/build``, ``config/secrets.*``), and ``**`` spans components.
    """
    return _compile(tuple(patterns))


@functools.lru_cache(maxsize=16)
def _compile(patterns: tuple[str, ...]) -> DenyPatterns:
    """:func:`compile_deny_patterns`, cached: a policy's patterns are compiled once, not for
    every ``safe_path_access`` call (the result is immutable)."""
    compiled: list[DenyPattern] = []
    for source in patterns:
        text = source.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("!"):
            raise ConfigurationError(
                f"deny pattern {source!r}: negation is not supported; list only what to refuse"
            )
        body = text.rstrip("/")
        parts = tuple(_fold(p) for p in body.strip("/").split("/") if p)
        if not parts:
            raise ConfigurationError(f"deny pattern {source!r} names nothing")
        compiled.append(DenyPattern(source, body.startswith("/") or "/" in body, parts))
    return DenyPatterns(compiled)


def denied_by(names: Sequence[str], patterns: Sequence[DenyPattern]) -> str | None:
    """The first pattern refusing the path made of ``names`` (relative to root), if any."""
    folded = [_fold(n) for n in names if n != ".."]
    if isinstance(patterns, DenyPatterns):
        regex = patterns.any_component
        if regex is None or not any(regex.match(name) for name in folded):
            hint = patterns.anchored_hint
            if hint is not None and not any(hint.match(name) for name in folded):
                return None  # an anchored pattern needs a name that is not there
            patterns = patterns.anchored  # no unanchored pattern can match
    for pattern in patterns:
        if pattern.anchored:
            if _match_anchored(folded, pattern.parts):
                return pattern.source
        elif any(fnmatchcase(name, pattern.parts[0]) for name in folded):
            return pattern.source
    return None


def _match_anchored(names: Sequence[str], globs: Sequence[str]) -> bool:
    """Whether ``globs`` match a leading run of ``names`` (a denied directory covers its tree).

    One pass per glob over the set of positions reached so far, so the work is at most
    ``len(globs) * len(names)`` name matches (a backtracking match of several ``**`` would be
    exponential in the depth of a path the model chose).
    """
    reached = {0}  # how many leading names the globs matched so far, in every possible way
    for glob in globs:
        if glob == "**":
            reached = set(range(min(reached), len(names) + 1))
        else:
            reached = {i + 1 for i in reached if i < len(names) and fnmatchcase(names[i], glob)}
        if not reached:
            return False
    return True
