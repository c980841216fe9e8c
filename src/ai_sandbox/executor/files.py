"""``open()`` inside the sandbox: in-memory file objects backed by the path layer.

The AI's code never gets a real file object or descriptor. Reading fetches the whole content
through ``FileAccess.read_bytes`` when the file is opened; writing buffers in memory (capped at
``max_file_bytes``) and hands the content to ``FileAccess.write_bytes`` on ``close()`` (or at
the end of ``with``, or at the end of the run for files left open).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from ai_sandbox.exceptions import ResourceLimitExceeded, SecurityError
from ai_sandbox.executor.context import BENIGN_FS_RULES, RunContext

__all__ = ["SandboxFile", "make_open"]

_NOT_FOUND_RULES = frozenset({"not_found"})


def _fs_call(ctx: RunContext, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the path layer, remembering a refusal that is not an ordinary mistake."""
    try:
        return fn(*args)
    except SecurityError as exc:
        if exc.rule not in BENIGN_FS_RULES:
            ctx.note(exc)
        raise


def _exists(ctx: RunContext, path: str) -> bytes | None:
    """The current content of ``path``, or None if it does not exist."""
    try:
        data: bytes = _fs_call(ctx, ctx.fs.read_bytes, path)
    except FileNotFoundError:
        return None
    except SecurityError as exc:
        if exc.rule in _NOT_FOUND_RULES:
            return None
        raise
    return data


class SandboxFile:
    """A file opened by the AI's code: read from memory, or written on close."""

    __slots__ = (
        "_ai_append",
        "_ai_binary",
        "_ai_buffer",
        "_ai_closed",
        "_ai_ctx",
        "_ai_encoding",
        "_ai_errors",
        "_ai_size",
        "_ai_writing",
        "mode",
        "name",
    )

    def __init__(
        self,
        ctx: RunContext,
        path: str,
        mode: str,
        *,
        binary: bool,
        writing: bool,
        append: bool,
        content: bytes | None,
        encoding: str,
        errors: str,
        newline: str | None,
    ) -> None:
        self._ai_ctx = ctx
        self.name = path
        self.mode = mode
        self._ai_binary = binary
        self._ai_writing = writing
        self._ai_append = append
        self._ai_encoding = encoding
        self._ai_errors = errors
        self._ai_closed = False
        self._ai_size = 0
        self._ai_buffer: Any
        if writing:
            self._ai_buffer = io.BytesIO() if binary else io.StringIO(newline="\n")
        elif binary:
            self._ai_buffer = io.BytesIO(content or b"")
        else:
            self._ai_buffer = io.TextIOWrapper(
                io.BytesIO(content or b""), encoding=encoding, errors=errors, newline=newline
            )

    # -- state -------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._ai_closed

    @property
    def encoding(self) -> str | None:
        return None if self._ai_binary else self._ai_encoding

    def readable(self) -> bool:
        return not self._ai_writing

    def writable(self) -> bool:
        return self._ai_writing

    def seekable(self) -> bool:
        return not self._ai_writing

    def _check(self, writing: bool) -> None:
        if self._ai_closed:
            raise ValueError("I/O operation on closed file.")
        if writing != self._ai_writing:
            raise io.UnsupportedOperation("not writable" if writing else "not readable")

    # -- reading -----------------------------------------------------------------------------
    def read(self, size: int | None = -1) -> Any:
        self._check(False)
        return self._ai_buffer.read(size)

    def readline(self, size: int | None = -1) -> Any:
        self._check(False)
        return self._ai_buffer.readline(size)

    def readlines(self, hint: int = -1) -> list[Any]:
        self._check(False)
        lines: list[Any] = self._ai_buffer.readlines(hint)
        return lines

    def seek(self, offset: int, whence: int = 0) -> int:
        self._check(False)
        position: int = self._ai_buffer.seek(offset, whence)
        return position

    def tell(self) -> int:
        self._check(False)
        position: int = self._ai_buffer.tell()
        return position

    def __iter__(self) -> SandboxFile:
        self._check(False)
        return self

    def __next__(self) -> Any:
        self._check(False)
        line = self._ai_buffer.readline()
        if not line:
            raise StopIteration
        return line

    # -- writing -----------------------------------------------------------------------------
    def write(self, data: Any) -> int:
        self._check(True)
        if self._ai_binary:
            if not isinstance(data, bytes | bytearray):
                raise TypeError(f"a bytes-like object is required, not {type(data).__name__!r}")
            size = len(data)
        else:
            if not isinstance(data, str):
                raise TypeError(f"write() argument must be str, not {type(data).__name__}")
            size = len(data) if data.isascii() else len(data.encode(self._ai_encoding, "replace"))
        limit = self._ai_ctx.policy.max_file_bytes
        if self._ai_size + size > limit:
            self._ai_writing = False  # the file is abandoned: nothing is saved on close
            self._ai_closed = True
            raise ResourceLimitExceeded(
                "file_size", f"refusing to write more than {limit} bytes to {self.name!r}"
            )
        self._ai_size += size
        written: int = self._ai_buffer.write(data)
        return written

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._ai_closed:
            raise ValueError("I/O operation on closed file.")

    def __copy__(self) -> SandboxFile:
        return self  # a handle on one open file (and the run's context), not a value

    def __deepcopy__(self, memo: Any) -> SandboxFile:
        return self

    def close(self) -> None:
        """Close; a file opened for writing is saved through the path layer now."""
        if self._ai_closed:
            return
        self._ai_closed = True
        if not self._ai_writing:
            return
        value = self._ai_buffer.getvalue()
        data = value if self._ai_binary else value.encode(self._ai_encoding, self._ai_errors)
        if self._ai_append:
            data = (_exists(self._ai_ctx, self.name) or b"") + data
        _fs_call(self._ai_ctx, self._ai_ctx.fs.write_bytes, self.name, bytes(data))

    def __enter__(self) -> SandboxFile:
        if self._ai_closed:
            raise ValueError("I/O operation on closed file.")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<sandbox file {self.name!r} mode={self.mode!r}>"


def _parse_mode(mode: Any) -> tuple[str, bool]:
    """``(kind, binary)`` where kind is one of ``r w a x``."""
    if not isinstance(mode, str):
        raise TypeError(f"open() argument 'mode' must be str, not {type(mode).__name__}")
    if "+" in mode:
        raise ValueError(
            f"mode {mode!r}: read-write modes ('+') are not supported in the sandbox; "
            "open the file once to read and once to write"
        )
    kinds = [c for c in mode if c in "rwax"]
    if len(kinds) != 1 or set(mode) - set("rwaxbt") or len(set(mode)) != len(mode):
        raise ValueError(f"invalid mode: {mode!r}")
    if "b" in mode and "t" in mode:
        raise ValueError("can't have text and binary mode at once")
    return kinds[0], "b" in mode


def make_open(ctx: RunContext) -> Callable[..., SandboxFile]:
    """The sandbox's ``open``: every path goes through ``ctx.fs``."""

    def sandbox_open(
        file: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Any = None,
    ) -> SandboxFile:
        if isinstance(file, int) and not isinstance(file, bool):
            ctx.refuse("open() of a file descriptor is not allowed; pass a path", "open")
        if not isinstance(file, str):
            raise TypeError(
                f"open() expects a path string relative to the project root, "
                f"not {type(file).__name__}"
            )
        if opener is not None or closefd is not True:
            ctx.refuse("open(): the opener and closefd arguments are not allowed", "open")
        kind, binary = _parse_mode(mode)
        if binary and (encoding is not None or errors is not None or newline is not None):
            raise ValueError("binary mode doesn't take an encoding, errors or newline argument")
        if newline not in (None, "", "\n", "\r", "\r\n"):
            raise ValueError(f"illegal newline value: {newline!r}")
        writing = kind != "r"
        if writing and not ctx.policy.allow_writes:
            ctx.refuse(
                f"open({file!r}, {mode!r}): writing files is disabled by the sandbox policy "
                "(allow_writes is off); return the content in `result` instead",
                "writes_disabled",
            )
        content: bytes | None = None
        if kind == "r":
            content = _fs_call(ctx, ctx.fs.read_bytes, file)
        elif kind == "x" and _exists(ctx, file) is not None:
            raise FileExistsError(f"file exists: {file!r}")
        handle = SandboxFile(
            ctx,
            file,
            mode,
            binary=binary,
            writing=writing,
            append=kind == "a",
            content=content,
            encoding=encoding or "utf-8",
            errors=errors or "strict",
            newline=newline,
        )
        if writing:
            ctx.open_files.append(handle)
        return handle

    return sandbox_open
