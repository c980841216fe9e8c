"""``SandboxPolicy``: the one configuration value, immutable, with safe defaults.

Units are in the field names (``timeout_s``, ``memory_limit_mb``) so a policy file reads
unambiguously. Every default is the safe choice; loosening one is an explicit act.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ai_sandbox.exceptions import ConfigurationError
from ai_sandbox.executor.importable import never_importable_reason
from ai_sandbox.pathlayer.patterns import DEFAULT_DENY_PATTERNS, HOST_EXECUTED_PATTERNS

__all__ = [
    "DEFAULT_ALLOWED_IMPORTS",
    "DEFAULT_DENY_PATTERNS",
    "HOST_EXECUTED_PATTERNS",
    "IsolationLevel",
    "Language",
    "SandboxPolicy",
]

#: Modules the AI's code may import by default: pure data work, no I/O, no introspection.
DEFAULT_ALLOWED_IMPORTS: frozenset[str] = frozenset(
    {
        "bisect",
        "collections",
        "datetime",
        "decimal",
        "fractions",
        "heapq",
        "itertools",
        "json",
        "math",
        "random",
        "re",
        "statistics",
        "string",
        "textwrap",
        # widened for everyday code (issue 10); each one's dangerous corners are closed in
        # ai_sandbox.executor (modules.py, replacements.py, guards.py)
        "abc",
        "array",
        "base64",
        "calendar",
        "cmath",
        "collections.abc",
        "contextlib",
        "copy",
        "csv",
        "dataclasses",
        "difflib",
        "enum",
        "functools",
        "hashlib",
        "numbers",
        "operator",
        "pprint",
        "queue",
        "time",
        "typing",
        "unicodedata",
        "uuid",
        "zlib",
    }
)

# DEFAULT_DENY_PATTERNS (secrets refused even inside the root) and HOST_EXECUTED_PATTERNS
# (files host tools later run, for write-enabled policies) live in ai_sandbox.pathlayer.patterns.

#: Most modules ``preload`` may list.
_MAX_PRELOAD = 256

IsolationLevel = Literal["strict", "process", "none"]

#: What the AI's code may be: RestrictedPython (checked source, guarded objects) or full CPython.
Language = Literal["restricted", "python"]


class SandboxPolicy(BaseModel):
    """What the sandbox allows. Frozen: build a new one with ``policy.model_copy(update=...)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    isolation: IsolationLevel = Field(
        default="strict",
        description=(
            '"strict": every OS layer this platform should have, or refuse to start; '
            '"process": a separate killable process with rlimits and whatever layers exist; '
            '"none": in-process, RestrictedPython only (trusted code and tests).'
        ),
    )
    timeout_s: float = Field(default=5.0, gt=0, le=3600, description="Wall-clock limit per run.")
    memory_limit_mb: int = Field(
        default=256, ge=32, le=65536, description="Address-space limit of the worker process."
    )
    max_output_bytes: int = Field(
        default=64 * 1024, ge=0, le=64 * 1024 * 1024, description="Cap on captured print output."
    )
    max_result_bytes: int = Field(
        default=1024 * 1024, ge=64, le=256 * 1024 * 1024, description="Cap on the JSON result."
    )
    max_file_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=0,
        le=1024 * 1024 * 1024,
        description="Cap per file read/write.",
    )
    max_open_files: int = Field(
        default=64, ge=16, le=4096, description="RLIMIT_NOFILE of a worker."
    )
    max_path_length: int = Field(default=1024, ge=16, le=4096, description="Longest path accepted.")
    allowed_imports: frozenset[str] = Field(
        default=DEFAULT_ALLOWED_IMPORTS, description="Top-level modules the code may import."
    )
    allow_writes: bool = Field(
        default=False, description="Whether tools and open() may create or change files."
    )
    deny_patterns: tuple[str, ...] = Field(
        default=DEFAULT_DENY_PATTERNS, description="Paths refused even inside the root."
    )
    write_deny_patterns: tuple[str, ...] = Field(
        default=(),
        description=(
            "Paths refused for writing only (still readable), e.g. HOST_EXECUTED_PATTERNS: "
            "files that host tools later execute (conftest.py, CI workflows, Makefile, .pth)."
        ),
    )
    allow_hardlinks: bool = Field(
        default=False,
        description="Allow regular files with more than one hard link (e.g. pnpm stores).",
    )
    allow_mount_crossing: bool = Field(
        default=False,
        description=(
            "Allow paths into other file systems mounted beneath the root (bind mounts, tmpfs, "
            "FUSE, volumes). Pseudo file systems (proc, sysfs, ...) are refused regardless."
        ),
    )
    pool_size: int = Field(
        default=2, ge=0, le=64, description="Pre-forked, locked-down workers kept waiting."
    )
    read_page_lines: int = Field(
        default=2000,
        ge=1,
        le=1_000_000,
        description="Most lines one read_file call returns (the model pages with offset/limit).",
    )
    read_page_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Most bytes of text one read_file call returns.",
    )
    list_max_entries: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Most entries one list_directory call returns (recursive listings stop there).",
    )
    list_max_depth: int = Field(
        default=5,
        ge=0,
        le=64,
        description="Deepest `recursive` level a list_directory call may ask for.",
    )
    session_idle_s: float = Field(
        default=900.0,
        gt=0,
        le=7 * 24 * 3600,
        description="A session unused this long ends (its Python state with it); its next run "
        "starts clean and says so.",
    )
    session_lifetime_s: float = Field(
        default=4 * 3600.0,
        gt=0,
        le=30 * 24 * 3600,
        description="A session this old ends (its Python state with it); its next run starts "
        "clean and says so.",
    )
    language: Language = Field(
        default="restricted",
        description=(
            '"restricted": RestrictedPython and its guards, then the OS layers (any isolation); '
            '"python": full CPython, any installed module, only the OS layers '
            '(isolation="strict" only).'
        ),
    )
    preload: tuple[str, ...] = Field(
        default=(),
        description=(
            "Modules the zygote imports once, before lockdown; every worker inherits them "
            '(e.g. ("numpy", "pandas", "matplotlib")).'
        ),
    )
    max_images: int = Field(
        default=8, ge=0, le=64, description="Most images (open figures) one run returns."
    )
    max_image_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        le=32 * 1024 * 1024,
        description="Largest PNG one returned image may be.",
    )
    max_write_bytes_total: int = Field(
        default=64 * 1024 * 1024,
        ge=0,
        le=64 * 1024 * 1024 * 1024,
        description='Total bytes one run may write beneath the root (language="python").',
    )

    @field_validator("allowed_imports", mode="before")
    @classmethod
    def _to_frozenset(cls, value: object) -> object:
        if isinstance(value, list | tuple | set):
            return frozenset(value)
        return value

    @field_validator("preload", mode="before")
    @classmethod
    def _to_tuple(cls, value: object) -> object:
        if isinstance(value, set | frozenset):
            return tuple(sorted(value))
        if isinstance(value, list):
            return tuple(value)
        return value

    @field_validator("preload")
    @classmethod
    def _check_preload(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name or not all(part.isidentifier() for part in name.split(".")):
                raise ValueError(f"preload: not a module name: {name!r}")
        if len(value) > _MAX_PRELOAD:
            raise ValueError(f"preload lists {len(value)} modules; at most {_MAX_PRELOAD}")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _check_language(self) -> SandboxPolicy:
        if self.language == "python" and self.isolation != "strict":
            # Full CPython has no language guard: the OS layers are the only boundary, so
            # only the level that requires every one of them may run it (fail closed).
            raise ValueError(
                f'language="python" needs isolation="strict" (got isolation={self.isolation!r}): '
                "full Python has no language guard, so every OS layer must hold it; use "
                'language="restricted" with isolation="process" or "none"'
            )
        return self

    @field_validator("allowed_imports")
    @classmethod
    def _check_module_names(cls, value: frozenset[str]) -> frozenset[str]:
        for name in value:
            if not name or not all(part.isidentifier() for part in name.split(".")):
                raise ValueError(f"not a module name: {name!r}")
            if any(part.startswith("_") for part in name.split(".")):
                raise ValueError(f"private modules cannot be allowed: {name!r}")
        for name in sorted(value):
            reason = never_importable_reason(name)
            if reason is not None:
                raise ConfigurationError(
                    f"allowed_imports names {name!r}, which is never importable in the "
                    f"sandbox: {reason}. Remove it from allowed_imports"
                    + (
                        " (`import sys` always gives a read-only sys of constants)"
                        if name == "sys"
                        else ""
                    )
                )
        return value
