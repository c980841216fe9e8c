"""The policy as the zygote and its workers hold it: plain data, no pydantic.

Every worker is forked from the zygote, and fork (and exit) cost grows with the parent's
memory; pydantic alone is two thirds of it. So the host, which validated its
:class:`~ai_sandbox.policy.SandboxPolicy`, sends ``model_dump(mode="json")`` and the zygote
rebuilds the same fields here, checking each one's type (fail closed on anything odd).
:class:`PolicyView` is what the isolation modules read; both classes satisfy it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["PolicyView", "WorkerPolicy"]


class PolicyView(Protocol):
    """The policy fields the worker machinery reads (``SandboxPolicy`` has them all)."""

    @property
    def isolation(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def memory_limit_mb(self) -> int: ...
    @property
    def max_output_bytes(self) -> int: ...
    @property
    def max_result_bytes(self) -> int: ...
    @property
    def max_file_bytes(self) -> int: ...
    @property
    def max_open_files(self) -> int: ...
    @property
    def max_path_length(self) -> int: ...
    @property
    def allowed_imports(self) -> frozenset[str]: ...
    @property
    def allow_writes(self) -> bool: ...
    @property
    def language(self) -> str: ...
    @property
    def preload(self) -> tuple[str, ...]: ...
    @property
    def max_images(self) -> int: ...
    @property
    def max_image_bytes(self) -> int: ...
    @property
    def max_write_bytes_total(self) -> int: ...


@dataclass(frozen=True, slots=True)
class WorkerPolicy:
    """Every field of ``SandboxPolicy``, same names and meaning (a test keeps them in step)."""

    isolation: str
    timeout_s: float
    memory_limit_mb: int
    max_output_bytes: int
    max_result_bytes: int
    max_file_bytes: int
    max_open_files: int
    max_path_length: int
    allowed_imports: frozenset[str]
    allow_writes: bool
    deny_patterns: tuple[str, ...]
    allow_hardlinks: bool
    write_deny_patterns: tuple[str, ...]
    allow_mount_crossing: bool
    pool_size: int
    read_page_lines: int
    read_page_bytes: int
    list_max_entries: int
    list_max_depth: int
    session_idle_s: float
    session_lifetime_s: float
    language: str = "restricted"
    preload: tuple[str, ...] = ()
    max_images: int = 0
    max_image_bytes: int = 0
    max_write_bytes_total: int = 0

    @classmethod
    def from_json(cls, data: Any) -> WorkerPolicy:
        """Rebuild the policy the host dumped; ``ValueError`` naming the first bad field."""
        if not isinstance(data, dict):
            raise ValueError("the policy must be a JSON object")
        return cls(
            isolation=_field(data, "isolation", str),
            timeout_s=float(_field(data, "timeout_s", (int, float))),
            memory_limit_mb=_field(data, "memory_limit_mb", int),
            max_output_bytes=_field(data, "max_output_bytes", int),
            max_result_bytes=_field(data, "max_result_bytes", int),
            max_file_bytes=_field(data, "max_file_bytes", int),
            max_open_files=_field(data, "max_open_files", int),
            max_path_length=_field(data, "max_path_length", int),
            allowed_imports=frozenset(_strings(data, "allowed_imports")),
            allow_writes=_field(data, "allow_writes", bool),
            deny_patterns=tuple(_strings(data, "deny_patterns")),
            allow_hardlinks=_field(data, "allow_hardlinks", bool),
            write_deny_patterns=tuple(_strings(data, "write_deny_patterns")),
            allow_mount_crossing=_field(data, "allow_mount_crossing", bool),
            pool_size=_field(data, "pool_size", int),
            read_page_lines=_field(data, "read_page_lines", int),
            read_page_bytes=_field(data, "read_page_bytes", int),
            list_max_entries=_field(data, "list_max_entries", int),
            list_max_depth=_field(data, "list_max_depth", int),
            session_idle_s=float(_field(data, "session_idle_s", (int, float))),
            session_lifetime_s=float(_field(data, "session_lifetime_s", (int, float))),
            language=_language(data),
            preload=tuple(_strings(data, "preload")),
            max_images=_field(data, "max_images", int),
            max_image_bytes=_field(data, "max_image_bytes", int),
            max_write_bytes_total=_field(data, "max_write_bytes_total", int),
        )


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    # bool is an int subclass: only accept it where a bool is wanted.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"policy field {name!r} is missing or has the wrong type")
    return value


def _strings(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"policy field {name!r} must be a list of strings")
    return value


def _language(data: dict[str, Any]) -> str:
    value = data.get("language")
    if value not in ("restricted", "python"):
        raise ValueError("policy field 'language' must be 'restricted' or 'python'")
    return str(value)
