"""A tool call's arguments as plain JSON data, read exactly once.

Models send arguments as a JSON string; hosts and adapters sometimes pass an already parsed
mapping. Either way :func:`parse_arguments` returns a fresh ``dict`` of standard JSON values
(exact ``str``/``int``/``float``/``bool``/``None``, ``list``, ``dict`` with ``str`` keys), so
what the audit record shows is what the tool runs with, and nothing live (a ``str`` subclass
with its own methods, an object whose ``__eq__`` lies, a mapping that answers differently on a
second read) reaches the tools. Everything is refused with :class:`ToolInputError`:

* text that is not JSON, or not a JSON object; duplicate keys (parsers disagree on which one
  wins, so a reviewer could be shown another value than the one used); ``NaN``/``Infinity``;
* nesting deeper than :data:`MAX_NESTING` (``json`` would raise ``RecursionError``);
* text longer than ``max_chars`` (checked before parsing);
* strings or keys holding a lone surrogate (U+D800-U+DFFF, e.g. from a ``"\\ud800"`` escape):
  that is not valid Unicode text and could not be written to a file, the audit log or a reply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

from ai_sandbox.exceptions import ToolInputError
from ai_sandbox.executor.inputs import MAX_DEPTH as INPUT_DEPTH
from ai_sandbox.executor.inputs import has_lone_surrogate

__all__ = ["MAX_NESTING", "MIN_TEXT_CAP", "parse_arguments"]

#: Deepest nesting of a call's arguments: the executor's input limit plus the argument
#: object and its ``inputs`` field.
MAX_NESTING: Final = INPUT_DEPTH + 2


#: The cap on argument text is never lower than this (``Sandbox`` raises it for big files).
MIN_TEXT_CAP: Final = 16 * 1024 * 1024

#: Largest integer accepted: well below the 4300 decimal digits ``json``/``int`` can convert.
_MAX_INT_BITS: Final = 14_000


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON; send a number or a string")


def parse_arguments(arguments: object, tool: str, *, max_chars: int) -> dict[str, Any]:
    """``arguments`` (``None``, JSON text or a mapping) as a fresh dict of JSON values."""
    if arguments is None:
        return {}
    if isinstance(arguments, bytes | bytearray):
        try:
            arguments = bytes(arguments).decode("utf-8")
        except UnicodeDecodeError:
            raise ToolInputError(
                f"arguments for {tool} are not UTF-8 text; send a JSON object"
            ) from None
    if isinstance(arguments, str):
        parsed = _parse_text(str.__str__(arguments), tool, max_chars)
    elif isinstance(arguments, Mapping):
        try:
            parsed = _copy(arguments, tool, 0)
        except ToolInputError:
            raise
        except RecursionError:
            raise _too_deep(tool) from None
        except Exception as exc:  # a mapping that fails while being read is not JSON data
            raise ToolInputError(
                f"arguments for {tool} could not be read as a JSON object ({type(exc).__name__})"
            ) from None
    else:
        raise ToolInputError(f"arguments for {tool} must be a JSON object")
    if not isinstance(parsed, dict):
        raise ToolInputError(f"arguments for {tool} must be a JSON object")
    return parsed


def _parse_text(text: str, tool: str, max_chars: int) -> Any:
    if len(text) > max_chars:
        raise ToolInputError(
            f"arguments for {tool} are {len(text)} characters long; the limit is {max_chars}"
        )
    try:
        parsed = json.loads(
            text or "{}", object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except _Duplicate as exc:
        raise ToolInputError(
            f"arguments for {tool} name the key {shorten(str(exc))!r} more than once; "
            "send each argument once"
        ) from None
    except RecursionError:
        raise _too_deep(tool) from None
    except ValueError as exc:  # JSONDecodeError, digit-limit errors, NaN/Infinity
        raise ToolInputError(
            f"arguments for {tool} are not valid JSON ({shorten(str(exc))}); send a JSON object"
        ) from None
    # The parser accepted it: still hold it to the nesting limit and the standard types.
    try:
        return _copy(parsed, tool, 0)
    except RecursionError:  # called from deep in the caller's stack
        raise _too_deep(tool) from None


def _copy(value: Any, tool: str, depth: int) -> Any:
    """A plain JSON copy of ``value`` (exact types), refusing anything else."""
    if depth > MAX_NESTING:
        raise _too_deep(tool)
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        return _text(value, tool)
    if isinstance(value, int):
        number = int.__index__(value)
        if number.bit_length() > _MAX_INT_BITS:
            raise ToolInputError(
                f"arguments for {tool} hold an integer too large for JSON; send it as a string"
            )
        return number
    if isinstance(value, float):
        real = float.__float__(value)
        if not math.isfinite(real):
            raise ToolInputError(f"arguments for {tool} hold {real}, which is not JSON")
        return real
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in list(value.items()):
            if not isinstance(key, str):
                raise ToolInputError(
                    f"arguments for {tool} have a key of type {type(key).__name__}; "
                    "JSON object keys are strings"
                )
            out[_text(key, tool)] = _copy(item, tool, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_copy(item, tool, depth + 1) for item in list(value)]
    raise ToolInputError(
        f"arguments for {tool} hold a {type(value).__name__} object; only JSON data "
        "(object, array, string, number, true, false, null) is accepted"
    )


def _text(value: str, tool: str) -> str:
    """An exact ``str`` copy of ``value``, refused if it is not valid Unicode text."""
    text = str.__str__(value)
    if has_lone_surrogate(text):
        raise ToolInputError(
            f"arguments for {tool} hold text with a lone surrogate (U+D800-U+DFFF), which is "
            "not valid Unicode; send UTF-8 text (escape binary data, e.g. as base64 or hex)"
        )
    return text


def _too_deep(tool: str) -> ToolInputError:
    return ToolInputError(
        f"arguments for {tool} are nested more than {MAX_NESTING} levels deep; flatten them"
    )


def shorten(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters for a message."""
    return text if len(text) <= limit else text[:limit] + "..."
