"""What a run or a tool call returns: plain, JSON-serialisable pydantic models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DirEntry",
    "ErrorInfo",
    "ExecutionResult",
    "ExecutionStatus",
    "FileAccessRecord",
    "Image",
    "ImageMediaType",
    "ToolResult",
]

ExecutionStatus = Literal["ok", "error", "rejected", "timeout", "limit"]


class ErrorInfo(BaseModel):
    """An error as the model (and the audit log) sees it: never a traceback of our internals."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(
        description="Exception type name, e.g. 'ZeroDivisionError' or 'SecurityError'."
    )
    message: str = Field(description="What went wrong, in words the model can act on.")
    line: int | None = Field(default=None, description="Line in the submitted code, if known.")
    rule: str | None = Field(default=None, description="Policy rule that refused, if refused.")
    reported_by: Literal["worker"] | None = Field(
        default=None,
        description=(
            "'worker' when the rule was reported by the isolated worker and not verified by "
            "the host (code past the language guard could have written it); None when the "
            "host decided."
        ),
    )


ImageMediaType = Literal["image/png", "image/jpeg", "image/gif", "image/webp"]


class Image(BaseModel):
    """An image a run produced (a matplotlib figure) or a tool read (a PNG file).

    The bytes travel as base64 text so every result stays plain JSON; adapters hand it to
    the model natively where the surface takes images (MCP, LangChain, OpenAI Responses).
    """

    model_config = ConfigDict(frozen=True)

    media_type: ImageMediaType
    width: int = Field(ge=0, description="Width in pixels (0 if unknown).")
    height: int = Field(ge=0, description="Height in pixels (0 if unknown).")
    data_base64: str = Field(description="The image file's bytes, base64-encoded.")
    name: str | None = Field(default=None, description="Where it came from, e.g. 'figure 1'.")


class FileAccessRecord(BaseModel):
    """One file read or write the run's code asked the host for (isolated runs), as the
    audit trail records it."""

    model_config = ConfigDict(frozen=True)

    op: Literal["read", "write"]
    path: str = Field(
        description="The path as the code gave it, relative to the root if it "
        "named the root; cut at 200 characters."
    )
    size_bytes: int = Field(ge=0, description="Bytes read or written (asked to write, if refused).")
    outcome: Literal["ok", "refused", "failed"] = Field(
        description="'refused': the policy said no; 'failed': e.g. no such file."
    )
    rule: str | None = Field(default=None, description="The rule that refused, if any.")


class ExecutionResult(BaseModel):
    """The outcome of one run of AI code. ``Sandbox.run`` returns this and never raises for
    the AI's mistakes: look at ``status``."""

    model_config = ConfigDict(frozen=True)

    status: ExecutionStatus
    result: Any = Field(default=None, description="What the code assigned to `result` (JSON data).")
    stdout: str = Field(default="", description="Captured print output (capped).")
    error: ErrorInfo | None = None
    duration_ms: float = 0.0
    isolation: str = Field(default="none", description="Isolation level the run used.")
    layers: tuple[str, ...] = Field(
        default=(), description="Isolation layers that were actually active for this run."
    )
    images: tuple[Image, ...] = Field(
        default=(), description="Images the run produced (e.g. open matplotlib figures)."
    )
    notice: str | None = Field(
        default=None,
        description="What the model should know about the session's state, e.g. that it was "
        "reset (and why) before or during this run.",
    )
    files: tuple[FileAccessRecord, ...] = Field(
        default=(),
        exclude=True,
        description="File requests the code made (isolated runs; at most 100, in order); for "
        "the audit trail, not part of what the model reads.",
    )
    files_omitted: int = Field(
        default=0, ge=0, exclude=True, description="File requests beyond those in `files`."
    )
    language: Literal["restricted", "python"] = Field(
        default="restricted",
        description='The language the code ran as: "restricted" (RestrictedPython) or "python".',
    )

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class DirEntry(BaseModel):
    """One entry of a directory listing, with a path relative to the sandbox root."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    type: Literal["file", "dir", "symlink", "other"]
    size: int | None = None
    outside_root: bool = Field(
        default=False,
        description="A symbolic link that leads outside the root: it cannot be read.",
    )
    target: str | None = Field(
        default=None, description="Where a symbolic link inside the root leads (root-relative)."
    )
    target_type: Literal["file", "dir", "other", "missing", "refused"] | None = Field(
        default=None,
        description="What a symbolic link inside the root leads to ('refused': the policy's "
        "deny patterns or a link loop keep it off limits).",
    )


class ToolResult(BaseModel):
    """The outcome of ``Sandbox.call``: what every adapter hands back to the model."""

    model_config = ConfigDict(frozen=True)

    tool: str
    ok: bool
    content: str = Field(description="Text for the model to read.")
    data: Any = Field(default=None, description="Structured result (JSON data).")
    error: ErrorInfo | None = None
    images: tuple[Image, ...] = Field(
        default=(), description="Images for the model to see, where its surface takes them."
    )
    files: tuple[FileAccessRecord, ...] = Field(
        default=(),
        exclude=True,
        description="run_python: the file requests its code made (see ExecutionResult.files).",
    )
    files_omitted: int = Field(
        default=0, ge=0, exclude=True, description="File requests beyond those in `files`."
    )
