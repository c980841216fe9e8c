"""Data crossing into and out of the sandbox: plain JSON values, copied.

``copy_inputs`` turns the host's ``inputs`` into fresh JSON values (nothing live from the host
can be walked: a function, module, class or file object is refused). ``to_json_result`` turns the
code's ``result`` into JSON data (tuples and deques become lists, sets sorted lists, mapping
subclasses such as ``Counter`` plain dicts) and measures it against ``max_result_bytes``.
"""

from __future__ import annotations

import collections
import io
import json
import math
import sys
import types
from collections.abc import Mapping
from typing import Any

from ai_sandbox.exceptions import ResourceLimitExceeded, SecurityError

__all__ = ["MAX_DEPTH", "ResultError", "copy_inputs", "to_json_result"]

#: Deepest nesting accepted in inputs and results (also stops reference cycles).
MAX_DEPTH = 200

#: The interpreter's limit on decimal digits of an int converted to text.
_INT_DIGITS = sys.get_int_max_str_digits()


class ResultError(TypeError):
    """``result`` is not JSON data; the message says how to convert it."""


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
    return f"a {type(value).__name__} object"


def _copy_input(value: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise SecurityError(f"{where} is nested too deeply (or contains a cycle)", rule="inputs")
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int or kind is float:
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Mapping) and not isinstance(value, type):
        copied: dict[str, Any] = {}
        for key, item in dict.items(value) if isinstance(value, dict) else value.items():
            if not isinstance(key, str):
                raise SecurityError(
                    f"{where} has a key of type {type(key).__name__}; JSON objects need "
                    "string keys",
                    rule="inputs",
                )
            copied[str.__str__(key)] = _copy_input(item, f"{where}[{key!r}]", depth + 1)
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


def _to_json(value: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ResultError(
            f"result is nested more than {MAX_DEPTH} levels deep (or contains a cycle); "
            "return a flatter structure"
        )
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is int:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise ResultError(f"{where} is {value!r}, which JSON cannot represent; use None")
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return _to_json(float.__float__(value), where, depth)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in dict.items(value):
            if isinstance(key, str):
                text = str.__str__(key)
            elif key is None or isinstance(key, bool | int | float):
                text = json.dumps(key)
            else:
                raise ResultError(
                    f"{where} has a key of type {type(key).__name__}; JSON objects need "
                    "string keys (convert with str(key))"
                )
            out[text] = _to_json(item, f"{where}[{key!r}]", depth + 1)
        return out
    if isinstance(value, list | tuple | collections.deque):
        return [_to_json(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [_to_json(item, f"{where} item", depth + 1) for item in value]
        return _sorted_if_possible(items)
    raise ResultError(
        f"{where} is a {kind.__name__} object, which is not JSON data; convert it "
        "(e.g. str(value), a dict of its fields, or value.isoformat() for dates)"
    )


def to_json_result(value: Any, max_bytes: int) -> Any:
    """``value`` as JSON data; ``ResultError`` if it is not, ``ResourceLimitExceeded`` if big."""
    data = _to_json(value, "result", 0)
    try:
        encoded = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except ValueError:  # an integer with more digits than int->str allows
        raise ResultError(
            "result contains an integer too large to write as decimal text (over "
            f"{_INT_DIGITS} digits); return hex(n), n.bit_length() or a summary instead"
        ) from None
    size = len(encoded.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise ResourceLimitExceeded(
            "result",
            f"result is {size} bytes of JSON, over the limit of {max_bytes} bytes "
            "(max_result_bytes); return a summary or write the data to a file",
        )
    return data
