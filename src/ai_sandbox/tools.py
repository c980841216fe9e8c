"""Tool input models and the specs every adapter is generated from.

One pydantic model per tool is the single source of truth: ``Sandbox.call`` validates with it,
and the OpenAI, LangChain and MCP adapters derive their schemas from it. Field descriptions are
written for a model to read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["TOOL_SPECS", "ListDirectory", "ReadFile", "RunPython", "ToolSpec", "WriteFile"]


class _ToolInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunPython(_ToolInput):
    """Run a Python snippet in the sandbox and return what it assigned to `result`."""

    code: str = Field(
        description=(
            "Python source to run. Assign the answer to a variable named `result` (JSON data: "
            "dict, list, str, int, float, bool or None), or end with an expression; print() "
            "output is returned too. Files are read and written beneath the project root. "
            "Anything the sandbox refuses comes back with a hint saying what to write instead."
        ),
        max_length=1_000_000,
    )
    inputs: dict[str, Any] | None = Field(
        default=None,
        description="Variables made available to the code, by name (JSON values).",
    )
    reset: bool = Field(
        default=False,
        description=(
            "Start from a fresh Python state: forget the variables, imports, functions and "
            "classes of earlier calls before running this code."
        ),
    )


class ReadFile(_ToolInput):
    """Read a text file beneath the project root, one page at a time."""

    path: str = Field(description="Path relative to the project root, e.g. 'data/report.csv'.")
    offset: int = Field(
        default=0,
        ge=0,
        description=(
            "Lines to skip: 0 starts at the first line. A page that stops early says which "
            "offset reads on."
        ),
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        description="Most lines to return (at most the policy's page, 2000 lines by default).",
    )

    @field_validator("offset", "limit", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        """``true`` is not a line count (pydantic's lax mode would read it as 1)."""
        if isinstance(value, bool):
            raise ValueError("must be a whole number of lines, not true or false")
        return value


class WriteFile(_ToolInput):
    """Create or replace a text file beneath the project root (atomic; needs allow_writes)."""

    path: str = Field(description="Path relative to the project root, e.g. 'out/summary.md'.")
    content: str = Field(description="The complete new text content of the file.")


class ListDirectory(_ToolInput):
    """List the entries of a directory beneath the project root."""

    path: str = Field(default=".", description="Directory relative to the project root.")
    recursive: int = Field(
        default=0,
        ge=0,
        description=(
            "Levels of subdirectories to list as well: 0 lists this directory only (capped "
            "by the policy, 5 by default)."
        ),
    )


#: What ``run_python``'s description adds for each language (``SandboxPolicy.language``).
LANGUAGE_NOTES: dict[str, str] = {
    "restricted": (
        "Language: restricted Python (classes, dataclasses, typing, match...) with imports from "
        "an allow-list of pure-computation modules (math, json, re, datetime, collections, "
        "statistics, ...); dunder attributes of objects the code did not make are refused."
    ),
    "python": (
        "Language: full Python 3.11 with the installed packages (e.g. numpy, pandas, "
        "matplotlib); matplotlib figures left open come back as images. No threads or "
        "subprocesses."
    ),
}


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as adapters see it: its name, description and input model."""

    name: str
    description: str
    input_model: type[BaseModel]

    def parameters_schema(self) -> dict[str, Any]:
        """The JSON schema of the tool's arguments (pydantic's, unchanged)."""
        return self.input_model.model_json_schema()


TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "run_python",
        "Run a Python snippet in an isolated sandbox. Assign the answer to `result` (or end "
        "with an expression: its value is the result); print() output is captured. Variables, "
        "imports, functions and classes persist between calls of this conversation, like a "
        "notebook; pass reset=true to start fresh. No network, no processes, files only "
        "beneath the root.",
        RunPython,
    ),
    ToolSpec(
        "read_file",
        "Read a UTF-8 text file beneath the project root, at most one page (2000 lines or "
        "64 KiB by default) per call; use offset/limit to read on. Images come back as "
        "images; other binary files as their size and media type.",
        ReadFile,
    ),
    ToolSpec(
        "write_file",
        "Create or replace a UTF-8 text file beneath the project root (atomic).",
        WriteFile,
    ),
    ToolSpec(
        "list_directory",
        "List files and folders of a directory beneath the project root: folders end in '/', "
        "files show their size, links say where they lead (one leading outside the root "
        "cannot be read). recursive=N lists N levels of subdirectories too.",
        ListDirectory,
    ),
)


def specs_for(language: str) -> tuple[ToolSpec, ...]:
    """The tools as a sandbox running ``language`` publishes them (``run_python`` says which
    language it runs, so a model writes code that will be accepted)."""
    run, *rest = TOOL_SPECS
    note = LANGUAGE_NOTES.get(language)
    if note is None:
        return TOOL_SPECS
    return (dataclasses.replace(run, description=f"{run.description} {note}"), *rest)
