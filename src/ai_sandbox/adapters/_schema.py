"""The one mapping from our pydantic tool models to the JSON schemas every surface publishes.

Nothing here is written by hand: each schema is derived from ``ToolSpec.input_model`` (the model
``Sandbox.call`` validates with), then cleaned (no titles, no root description: the tool's own
description says it once). ``strict=True`` also applies OpenAI's strict-mode rules: every object
gets ``additionalProperties: false``, every property is required, an optional property becomes
nullable (``null`` then means "use the default", see :func:`call_arguments`), and keywords strict
mode refuses (``default``, ``maxLength``...) are dropped; the validator still enforces them.

This module imports no framework, so every adapter shares it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ai_sandbox._arguments import MIN_TEXT_CAP, parse_arguments
from ai_sandbox.exceptions import ToolInputError
from ai_sandbox.tools import ToolSpec

__all__ = ["call_arguments", "parameters_schema"]

#: Keywords OpenAI's strict mode does not accept. The pydantic validator still enforces them.
_STRICT_UNSUPPORTED = frozenset(
    {
        "default",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "propertyNames",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "minContains",
        "maxContains",
        "uniqueItems",
    }
)

#: Keys whose value is a map of name -> sub-schema (not a schema itself).
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
#: Keys whose value is a list of sub-schemas.
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
#: Keys whose value is one sub-schema.
_SCHEMA_SINGLES = ("items", "additionalProperties", "not")


def parameters_schema(spec: ToolSpec, *, strict: bool = False) -> dict[str, Any]:
    """The JSON schema of ``spec``'s arguments, as a surface publishes it (a fresh copy)."""
    schema = _clean(copy.deepcopy(spec.input_model.model_json_schema()))
    schema.pop("description", None)  # the tool's description says it once
    schema.setdefault("properties", {})
    return _strict(schema) if strict else schema


def call_arguments(spec: ToolSpec | None, arguments: Any) -> Any:
    """``arguments`` as ``Sandbox.call`` should receive them from a model.

    A ``null`` for an optional argument means "use the default": strict mode makes the model
    send every property, so it sends ``null`` for the ones it leaves out. Anything else (bad
    JSON, a non-object, an unknown tool) passes through untouched for ``Sandbox.call`` to
    report in its own words.
    """
    if spec is None:
        return arguments
    if isinstance(arguments, str | bytes | bytearray) and len(arguments) > MIN_TEXT_CAP:
        return arguments  # Sandbox.call holds it to the policy's own cap
    try:
        # The parser Sandbox.call uses: duplicate keys, NaN, absurd nesting and non-JSON
        # objects are left for it to refuse, never resolved here first.
        parsed = parse_arguments(arguments, spec.name, max_chars=MIN_TEXT_CAP)
    except ToolInputError:
        return arguments
    fields = spec.input_model.model_fields
    return {
        key: value
        for key, value in parsed.items()
        if not (value is None and key in fields and not fields[key].is_required())
    }


def _clean(schema: Any) -> Any:
    """Drop ``title`` keys (pydantic's, noise for a model) throughout a schema."""
    if isinstance(schema, dict):
        return {
            key: (
                {name: _clean(sub) for name, sub in value.items()}
                if key in _SCHEMA_MAPS and isinstance(value, dict)
                else _clean(value)
            )
            for key, value in schema.items()
            if key != "title"
        }
    if isinstance(schema, list):
        return [_clean(item) for item in schema]
    return schema


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Apply OpenAI's strict-mode rules to one (sub-)schema, recursively."""
    out = {key: value for key, value in schema.items() if key not in _STRICT_UNSUPPORTED}
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_strict(sub) for sub in out[key]]
    for key in _SCHEMA_SINGLES:
        if isinstance(out.get(key), dict):
            out[key] = _strict(out[key])
    for key in ("$defs", "definitions"):
        if isinstance(out.get(key), dict):
            out[key] = {name: _strict(sub) for name, sub in out[key].items()}
    if out.get("type") == "object" or "properties" in out:
        properties: dict[str, Any] = out.get("properties", {})
        required = set(out.get("required", ()))
        out["properties"] = {
            name: _strict(sub) if name in required else _nullable(_strict(sub), sub.get("default"))
            for name, sub in properties.items()
        }
        out["required"] = list(properties)
        out["additionalProperties"] = False
    return out


def _nullable(schema: dict[str, Any], default: Any) -> dict[str, Any]:
    """``schema`` that also accepts ``null``, which stands for ``default``.

    The description stays on the outside and says what ``null`` means, since strict mode
    cannot carry a ``default`` keyword.
    """
    description = schema.get("description")
    if default is not None:
        note = f"null means the default, {json.dumps(default)}."
        description = f"{description} ({note})" if description else note.capitalize()
    variants = schema.get("anyOf")
    already = isinstance(variants, list) and {"type": "null"} in variants
    if already or schema.get("type") == "null":
        nullable = dict(schema)
    else:
        inner = {key: value for key, value in schema.items() if key != "description"}
        nullable = {"anyOf": [inner, {"type": "null"}]}
    if description is not None:
        nullable["description"] = description
    return nullable
