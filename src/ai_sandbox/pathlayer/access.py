"""The seed's path functions: :func:`safe_path_access` (which file?) and :func:`safe_open`.

Both build a :class:`~ai_sandbox.pathlayer.safefs.SafeFS` for one call. ``safe_path_access``
returns a path, so whatever the caller does with it later is a second resolution that can be
raced (CWE-367); ``safe_open`` returns a file object opened on the very fd that was checked.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from ai_sandbox.exceptions import ConfigurationError, ResourceLimitExceeded, SecurityError
from ai_sandbox.pathlayer.errors import refuse, shorten
from ai_sandbox.pathlayer.names import to_text
from ai_sandbox.pathlayer.safefs import SafeFS
from ai_sandbox.policy import SandboxPolicy

__all__ = ["OPEN_MODES", "safe_open", "safe_path_access"]

#: The modes :func:`safe_open` accepts (``t`` may be spelled out: ``"rt"``, ``"wt"``, ``"at"``).
OPEN_MODES: Final = frozenset({"r", "rb", "w", "wb", "a", "ab", "rt", "wt", "at"})


def _filesystem(
    root: str | os.PathLike[str] | None,
    policy: SandboxPolicy | None,
    use_openat2: bool | None = False,
) -> SafeFS:
    try:
        base = Path.cwd() if root is None else Path(root)
    except TypeError:
        raise ConfigurationError(
            f"the root must be a path (str or os.PathLike), not {type(root).__name__}"
        ) from None
    return SafeFS(base, policy or SandboxPolicy(), _use_openat2=use_openat2)


def safe_path_access(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str] | None = None,
    *,
    policy: SandboxPolicy | None = None,
) -> Path:
    """The absolute, fully resolved path that ``path`` names beneath ``root``.

    ``root`` defaults to the current directory and ``policy`` to ``SandboxPolicy()``. A path
    that does not exist yet is allowed when its nearest existing parent is inside the root. An
    existing file must be a regular file with a single hard link (unless the policy's
    ``allow_hardlinks``), so opening the returned path cannot lead outside through a hard link.
    Raises :class:`SecurityError` (with ``reason``, ``path`` and ``rule``) otherwise.

    This is a point-in-time answer: the path can be swapped (a symlink put in its place) before
    the caller opens it. To open a file, use :func:`safe_open`, which cannot be raced.
    """
    with _filesystem(root, policy) as fs:
        return fs.resolve_for_opening(path)


def safe_open(
    path: str | os.PathLike[str],
    mode: str = "r",
    *,
    root: str | os.PathLike[str] | None = None,
    policy: SandboxPolicy | None = None,
    encoding: str = "utf-8",
    _use_openat2: bool | None = None,
) -> IO[Any]:
    """Open the file ``path`` names beneath ``root``, race-free; returns a file object.

    The checks of :func:`safe_path_access` are made on the very file descriptor that is
    returned (resolution beneath the root's fd with ``openat2`` or an ``O_NOFOLLOW`` walk), so a
    symlink or directory swapped in between cannot lead outside. Prefer it to opening the path
    that :func:`safe_path_access` returns.

    Modes: ``"r"``/``"rb"`` read a regular file (refused if it is over ``max_file_bytes`` when
    opened). ``"w"``/``"wb"`` and ``"a"``/``"ab"`` need ``policy.allow_writes`` and write
    *atomically*: the content is kept in memory (at most ``max_file_bytes``) and replaces the
    file on ``close()`` (temp file, fsync, rename; ``"a"`` starts from the current content). An
    exception inside a ``with`` block discards the write and leaves the file untouched. Text
    modes use ``encoding`` (UTF-8 by default). ``_use_openat2`` (private, for tests) is passed
    to :class:`SafeFS`.
    """
    if not isinstance(mode, str) or mode not in OPEN_MODES:
        raise ConfigurationError(
            f"safe_open mode must be one of {sorted(OPEN_MODES)}, not {mode!r}"
        )
    fs = _filesystem(root, policy, _use_openat2)
    binary = "b" in mode
    if mode[0] == "r":
        try:
            reader = fs.open_binary(path)
        finally:
            fs.close()
        return reader if binary else io.TextIOWrapper(reader, encoding=encoding)
    try:
        writer = _AtomicWriter(fs, to_text(path), append=mode[0] == "a")
    except BaseException:
        fs.close()
        raise
    return writer if binary else _AtomicTextWriter(writer, encoding=encoding)


class _AtomicWriter(io.BytesIO):
    """Bytes kept in memory (capped), written atomically through ``SafeFS`` on ``close()``."""

    def __init__(self, fs: SafeFS, raw: str, *, append: bool) -> None:
        if not fs.policy.allow_writes:
            raise refuse("writes_disabled", raw)
        self._fs = fs
        self._raw = raw
        self._cap = fs.policy.max_file_bytes
        self.discard = False
        fs.check_write(raw)  # refuse a bad path now, not only at close (which checks it again)
        initial = b""
        if append:
            try:
                initial = fs.read_bytes(raw)
            except SecurityError as exc:  # only "not there yet" starts from empty
                if exc.rule != "not_found":
                    raise
        super().__init__(initial)
        self.seek(0, io.SEEK_END)

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if max(self.tell() + size, len(self.getbuffer())) > self._cap:
            raise ResourceLimitExceeded(
                "file_size",
                f"{shorten(self._raw)!r} would be over {self._cap} bytes (max_file_bytes)",
            )
        return super().write(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self.discard:
                self._fs.write_bytes(self._raw, self.getvalue())
        finally:
            super().close()
            self._fs.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard = True
        self.close()


class _AtomicTextWriter(io.TextIOWrapper):
    """Text over :class:`_AtomicWriter`; an exception in a ``with`` block discards the write."""

    def __init__(self, writer: _AtomicWriter, *, encoding: str) -> None:
        super().__init__(writer, encoding=encoding)
        self._writer = writer

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._writer.discard = True
        self.close()
