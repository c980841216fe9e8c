"""Data crossing into and out of the sandbox: plain JSON values, copied.

``copy_inputs`` turns the host's ``inputs`` into fresh JSON values (nothing live from the host
can be walked: a function, module, class or file object is refused). ``to_json_result`` turns the
code's ``result`` into JSON data (tuples and deques become lists, sets sorted lists, mapping
subclasses such as ``Counter`` plain dicts) and measures it against ``max_result_bytes``, at most
:data:`MAX_RESULT_ITEMS` items and :data:`MAX_DEPTH` levels. The host applies the same function
again to what a worker sends (a worker is not trusted to have done it).

Text must be valid Unicode both ways: a lone surrogate (U+D800-U+DFFF, which UTF-8 and
therefore JSON output cannot carry) is refused in inputs and in results.
"""

from __future__ import annotations

import collections
import io
import json
import math
import re
import sys
import types
from collections.abc import Mapping
from typing import Any

from ai_sandbox.exceptions import ResourceLimitExceeded, SecurityError

__all__ = [
    "MAX_DEPTH",
    "MAX_RESULT_ITEMS",
    "ResultError",
    "copy_inputs",
    "has_lone_surrogate",
    "replace_lone_surrogates",
    "to_json_result",
]

#: Deepest nesting accepted in inputs and results (also stops reference cycles).
MAX_DEPTH = 200

#: Most JSON items a result may hold, whatever its size in bytes: strings (keys included),
#: lists and dicts, and one per comma between elements, i.e. what
#: :func:`ai_sandbox.isolation.protocol.count_items` counts in its JSON text. It bounds the
#: objects the host builds when it decodes a worker's result.
MAX_RESULT_ITEMS = 300_000

#: A lone surrogate: a code point UTF-8 cannot encode (Python strings may still hold one).
_SURROGATE = re.compile("[\ud800-\udfff]")

#: The interpreter's limit on decimal digits of an int converted to text.
_INT_DIGITS = sys.get_int_max_str_digits()


class ResultError(TypeError):
    """``result`` is not JSON data; the message says how to convert it."""


def has_lone_surrogate(text: str) -> bool:
    """True if ``text`` holds a code point in U+D800-U+DFFF (not valid Unicode text)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def replace_lone_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (same UTF-8 length)."""
    return _SURROGATE.sub("\ufffd", text) if has_lone_surrogate(text) else text


def _input_text(value: str, where: str) -> str:
    text = str.__str__(value)
    if has_lone_surrogate(text):
        raise SecurityError(
            f"{where} holds a lone surrogate (U+D800-U+DFFF), which is not valid Unicode "
            "text; send UTF-8 text",
            rule="inputs",
        )
    return text


def _describe(value: Any) -> str:
    """What a refused input is, judged by its type only (no attribute of it is touched)."""
    if isinstance(value, type):
        return "a class"
    if isinstance(value, types.ModuleType):
        return "a module"
    if isinstance(value, io.IOBase):
        return "a file object"
    if callable(value):
        return "a function"
    return f"an object of type {type(value).__name__!r}"


def _copy_input(value: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise SecurityError(f"{where} is nested too deeply (or contains a cycle)", rule="inputs")
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return _input_text(value, where)
    if isinstance(value, Mapping) and not isinstance(value, type):
        copied: dict[str, Any] = {}
        for key, item in dict.items(value) if isinstance(value, dict) else value.items():
            if not isinstance(key, str):
                raise SecurityError(
                    f"{where} has a key of type {type(key).__name__}; JSON objects need "
                    "string keys",
                    rule="inputs",
                )
            text = _input_text(key, f"a key of {where}")
            copied[text] = _copy_input(item, f"{where}[{key!r}]", depth + 1)
        return copied
    if isinstance(value, list | tuple):
        return [_copy_input(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise SecurityError(
        f"{where} is {_describe(value)}; only plain JSON data (dict, list, str, int, float, "
        "bool, None) can be passed into the sandbox, so nothing live from the host can be "
        "reached",
        rule="inputs",
    )


def copy_inputs(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fresh JSON copies of ``inputs``; ``SecurityError(rule="inputs")`` for anything else."""
    if inputs is None:
        return {}
    if not isinstance(inputs, Mapping):
        raise SecurityError("inputs must be a mapping of variable names to values", rule="inputs")
    copied: dict[str, Any] = {}
    for name, value in inputs.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise SecurityError(
                f"input name {name!r} is not allowed: use a Python identifier that does not "
                "start with '_'",
                rule="inputs",
            )
        copied[name] = _copy_input(value, f"inputs[{name!r}]", 0)
    return copied


def _sorted_if_possible(items: list[Any]) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return items


class _ResultWalk:
    """One conversion of a result to JSON data, counting its items (see MAX_RESULT_ITEMS)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items = 0

    def _count(self, items: int) -> None:
        self.items += items
        if self.items > MAX_RESULT_ITEMS:
            raise ResourceLimitExceeded(
                "result",
                f"result holds more than {MAX_RESULT_ITEMS} items (strings, lists, dicts and "
                "elements); return a summary or write the data to a file",
            )

    def convert(self, value: Any, where: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ResultError(
                f"result is nested more than {MAX_DEPTH} levels deep (or contains a cycle); "
                "return a flatter structure"
            )
        kind = type(value)
        if value is None or kind is bool or kind is int:
            return value
        if kind is str:
            self._count(1)
            return _result_text(value, where)
        if kind is float:
            if not math.isfinite(value):
                raise ResultError(f"{where} is {value!r}, which JSON cannot represent; use None")
            return value
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int.__index__(value)
        if isinstance(value, float):
            return self.convert(float.__float__(value), where, depth)
        if isinstance(value, str):
            return self.convert(str.__str__(value), where, depth)
        if isinstance(value, dict):
            return self._mapping(value, where, depth)
        if isinstance(value, list | tuple | collections.deque):
            self._count(1)
            out = [self.convert(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
            self._count(max(len(out) - 1, 0))
            return out
        if isinstance(value, set | frozenset):
            self._count(1)
            items = [self.convert(item, f"{where} item", depth + 1) for item in value]
            self._count(max(len(items) - 1, 0))
            return _sorted_if_possible(items)
        raise ResultError(
            f"{where} is an object of type {kind.__name__!r}, which is not JSON data; convert it "
            "(e.g. str(value), a dict of its fields, or value.isoformat() for dates)"
        )

    def _mapping(self, value: dict[Any, Any], where: str, depth: int) -> dict[str, Any]:
        self._count(1)
        out: dict[str, Any] = {}
        for key, item in dict.items(value):
            if isinstance(key, str):
                text = _result_text(str.__str__(key), f"a key of {where}")
            elif key is None or isinstance(key, bool | int | float):
                text = json.dumps(key)
            else:
                raise ResultError(
                    f"{where} has a key of type {type(key).__name__}; JSON objects need "
                    "string keys (convert with str(key))"
                )
            if text not in out:
                self._count(2 if out else 1)  # the key, and the comma before it
            out[text] = self.convert(item, f"{where}[{key!r}]", depth + 1)
        return out


def _result_text(text: str, where: str) -> str:
    if has_lone_surrogate(text):
        raise ResultError(
            f"{where} holds a lone surrogate (U+D800-U+DFFF), which is not valid Unicode text "
            "and cannot be sent as JSON; build strings from real characters (or return "
            "text.encode('utf-8', 'surrogatepass').hex())"
        )
    return text


def to_json_result(value: Any, max_bytes: int) -> Any:
    """``value`` as JSON data; ``ResultError`` if it is not (or holds text that is not valid
    Unicode), ``ResourceLimitExceeded`` if it is over ``max_bytes`` or
    :data:`MAX_RESULT_ITEMS`."""
    data = _ResultWalk().convert(value, "result", 0)
    try:
        encoded = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except ValueError:  # an integer with more digits than int->str allows
        raise ResultError(
            "result contains an integer too large to write as decimal text (over "
            f"{_INT_DIGITS} digits); return hex(n), n.bit_length() or a summary instead"
        ) from None
    size = len(encoded.encode("utf-8"))
    if size > max_bytes:
        raise ResourceLimitExceeded(
            "result",
            f"result is {size} bytes of JSON, over the limit of {max_bytes} bytes "
            "(max_result_bytes); return a summary or write the data to a file",
        )
    return data
