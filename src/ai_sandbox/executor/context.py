"""Per-run state shared by the guards: captured output, open files and the first refusal.

One :class:`RunContext` lives as long as a namespace (one run, or a whole session) and is
``reset()`` before every run. The guards close over it, so functions the AI defined in an earlier
run of a session print into the current run's output.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, runtime_checkable

from ai_sandbox.exceptions import SecurityError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ai_sandbox.policy import SandboxPolicy

__all__ = [
    "AI_FILENAME",
    "BENIGN_FS_RULES",
    "SANDBOX_CLASS_MARKER",
    "FileAccess",
    "OutputCollector",
    "OutputStream",
    "RunContext",
    "ai_line",
]

#: The filename the AI's code is compiled under; tracebacks are searched for it.
AI_FILENAME = "<ai-code>"

#: Set on every class the AI's code defines (by ``__metaclass__``); their instances are writable.
SANDBOX_CLASS_MARKER = "_ai_sandbox_class_"

#: Path-layer refusals that are ordinary mistakes, not attacks (they do not reject the run).
BENIGN_FS_RULES = frozenset({"not_found", "is_directory", "not_a_directory", "not_text", "race"})


@runtime_checkable
class FileAccess(Protocol):
    """What ``open()`` inside the sandbox goes through (``ai_sandbox.security.SafeFS`` and the
    worker's ``ChannelFS`` implement it; ``ai_sandbox.security`` re-exports it)."""

    def read_bytes(self, path: str) -> bytes: ...

    def write_bytes(self, path: str, data: bytes) -> int: ...


def ai_line(start: Any = None) -> int | None:
    """The line of the AI's code being run, found by walking the stack (or a traceback)."""
    if start is not None and hasattr(start, "tb_frame"):
        line: int | None = None
        tb = start
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == AI_FILENAME:
                line = tb.tb_lineno
            tb = tb.tb_next
        return line
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == AI_FILENAME:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


class OutputCollector:
    """The one place ``print`` writes to, capped at ``limit`` bytes with a visible marker."""

    __slots__ = ("_chunks", "_kept", "_limit", "_seen", "_sink")

    def __init__(self, limit: int, sink: Callable[[str], None] | None = None) -> None:
        self._limit = limit
        self._chunks: list[str] = []
        self._kept = 0
        self._seen = 0
        self._sink = sink  # also gets each piece kept, as it is printed (streaming output)

    def write(self, text: str) -> int:
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        self._seen += size
        room = self._limit - self._kept
        if room <= 0:
            return len(text)
        if size > room:
            text = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
            size = room
        self._chunks.append(text)
        self._kept += size
        if self._sink is not None:
            self._sink(text)
        return len(text)

    def flush(self) -> None:
        return None

    def text(self) -> str:
        """Everything printed, truncated to the limit with a marker saying so."""
        joined = "".join(self._chunks)
        if self._seen <= self._limit:
            return joined
        marker = (
            f"\n[output truncated: {self._seen} bytes printed, "
            f"only {self._limit} kept (max_output_bytes)]\n"
        )
        room = self._limit - len(marker)
        if room <= 0:
            return marker[: max(self._limit, 0)] if self._limit else ""
        kept = joined.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
        return kept + marker


class OutputStream:
    """``sys.stdout``/``sys.stderr`` in the sandbox: writes go to the run's captured output."""

    __slots__ = ("_ai_ctx",)

    def __init__(self, ctx: RunContext) -> None:
        self._ai_ctx = ctx

    def write(self, text: str) -> int:
        """Write ``text`` to the run's output."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        return self._ai_ctx.output.write(text)

    def writelines(self, lines: Any) -> None:
        """Write each string of ``lines``."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Nothing to flush: the output is kept in memory."""

    def isatty(self) -> bool:
        """Not a terminal."""
        return False

    def __copy__(self) -> OutputStream:
        return self  # a handle on the run's output, not a value

    def __deepcopy__(self, memo: Any) -> OutputStream:
        return self


class RunContext:
    """Everything a run's guards share; reset before each run."""

    def __init__(self, policy: SandboxPolicy, fs: FileAccess) -> None:
        self.policy = policy
        self.fs = fs
        self.output = OutputCollector(policy.max_output_bytes, getattr(fs, "output_sink", None))
        self.open_files: list[Any] = []
        self.violation: tuple[SecurityError, int | None] | None = None
        #: When the current run started (``time.monotonic``): ``time.sleep`` stays within it.
        self.started = time.monotonic()

    def reset(self) -> None:
        self.started = time.monotonic()
        self.output = OutputCollector(
            self.policy.max_output_bytes, getattr(self.fs, "output_sink", None)
        )
        self.open_files = []
        self.violation = None

    def note(self, exc: SecurityError, line: int | None = None) -> None:
        """Remember the first refusal: a run that was refused anything reports ``rejected``
        even if the AI's code caught the exception."""
        if self.violation is None:
            self.violation = (exc, line if line is not None else ai_line())

    def refuse(self, reason: str, rule: str) -> NoReturn:
        """Raise (and remember) a ``SecurityError`` for the AI's code."""
        exc = SecurityError(reason, rule=rule)
        self.note(exc)
        raise exc
