"""The shared schema mapping: derived from the pydantic models, strict mode applied generically."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from ai_sandbox.adapters._schema import call_arguments, parameters_schema
from ai_sandbox.tools import TOOL_SPECS, ToolSpec


class _Point(BaseModel):
    x: int
    label: str | None = None


class _Nested(BaseModel):
    """A tool model with the shapes a future tool might use."""

    model_config = ConfigDict(extra="forbid")

    points: list[_Point] = Field(description="Points to plot.")
    origin: _Point | None = None
    mode: str = Field(default="fast", max_length=10, description="How to run.")


NESTED = ToolSpec("plot", "Plot points.", _Nested)
LIST_DIRECTORY = next(spec for spec in TOOL_SPECS if spec.name == "list_directory")
READ_FILE = next(spec for spec in TOOL_SPECS if spec.name == "read_file")


def _objects(schema: Any) -> list[dict[str, Any]]:
    if isinstance(schema, list):
        return [obj for item in schema for obj in _objects(item)]
    if not isinstance(schema, dict):
        return []
    found = [schema] if schema.get("type") == "object" else []
    return found + [obj for value in schema.values() for obj in _objects(value)]


@pytest.mark.parametrize("spec", [*TOOL_SPECS, NESTED], ids=lambda s: s.name)
def test_schema_is_the_models_without_titles(spec: ToolSpec) -> None:
    """It publishes the model's own schema, minus titles and the root description."""
    schema = parameters_schema(spec)
    raw = spec.input_model.model_json_schema()
    assert set(schema["properties"]) == set(raw["properties"])
    assert schema.get("required", []) == raw.get("required", [])
    assert "title" not in schema
    assert "description" not in schema


def test_strict_mode_reaches_nested_models() -> None:
    """It closes and fully requires every object, including those in $defs and arrays."""
    schema = parameters_schema(NESTED, strict=True)
    objects = _objects(schema)
    assert len(objects) >= 2
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    point = schema["$defs"]["_Point"]
    assert {"type": "null"} in point["properties"]["label"]["anyOf"]
    mode = schema["properties"]["mode"]
    assert mode["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert mode["description"] == 'How to run. (null means the default, "fast".)'


def test_schemas_are_fresh_copies() -> None:
    """It hands out a new schema each time, so a caller's edits cannot leak."""
    first = parameters_schema(READ_FILE, strict=True)
    first["properties"]["path"]["type"] = "integer"
    assert parameters_schema(READ_FILE, strict=True)["properties"]["path"]["type"] == "string"


@pytest.mark.parametrize(
    ("spec", "arguments", "expected"),
    [
        pytest.param(LIST_DIRECTORY, {"path": None}, {}, id="null-optional-dropped"),
        pytest.param(LIST_DIRECTORY, '{"path": null}', {}, id="json-null-optional-dropped"),
        pytest.param(READ_FILE, {"path": None}, {"path": None}, id="null-required-kept"),
        pytest.param(READ_FILE, '{"path": ', '{"path": ', id="bad-json-untouched"),
        pytest.param(READ_FILE, "[1]", "[1]", id="non-object-untouched"),
        pytest.param(None, {"a": None}, {"a": None}, id="unknown-tool-untouched"),
        pytest.param(LIST_DIRECTORY, {"x": None}, {"x": None}, id="unknown-field-kept"),
        # left for Sandbox.call to refuse, never resolved here first
        pytest.param(
            READ_FILE,
            '{"path": "a", "path": "b"}',
            '{"path": "a", "path": "b"}',
            id="duplicate-keys-untouched",
        ),
        pytest.param(READ_FILE, "[" * 100_000, "[" * 100_000, id="deep-nesting-untouched"),
        pytest.param(
            LIST_DIRECTORY, '{"path": NaN}', '{"path": NaN}', id="non-standard-json-untouched"
        ),
    ],
)
def test_call_arguments_only_reads_null_as_default(
    spec: ToolSpec | None, arguments: Any, expected: Any
) -> None:
    """It drops null only for optional arguments and leaves everything else to Sandbox.call."""
    assert call_arguments(spec, arguments) == expected
