"""Printed output as it happens: the host's side of a worker's ``output`` frames.

A job that asks for streaming (``"stream": true``) makes the worker send what the code prints
in ``{"type": "output", "job": <id>, "text": <str>}`` frames while it runs (batched, see
``worker._OutputStream``). The frames are untrusted like every other: :class:`OutputRelay`
checks the job id and the type, holds their total to ``max_output_bytes`` (a worker that sends
more broke the protocol), makes the text valid Unicode and hands it to the caller's callback.
The complete output still arrives in the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ai_sandbox.exceptions import WorkerError
from ai_sandbox.executor.inputs import replace_lone_surrogates

__all__ = ["OutputCallback", "OutputRelay"]

#: What receives printed output as it happens (``Sandbox.run(..., on_output=...)``).
OutputCallback = Callable[[str], None]


class OutputRelay:
    """Delivers one job's ``output`` frames to ``callback`` (``None``: checked and dropped).

    An exception from the callback stops further deliveries for this job (the run goes on:
    the host's callback is not the worker's business) and is kept in :attr:`error`.
    """

    __slots__ = ("_callback", "_job", "_limit", "_sent", "error")

    def __init__(self, callback: OutputCallback | None, job_id: str, limit_bytes: int) -> None:
        self._callback = callback
        self._job = job_id
        self._limit = limit_bytes
        self._sent = 0
        self.error: Exception | None = None

    def deliver(self, message: dict[str, Any]) -> None:
        """Check one ``output`` frame and pass its text on. ``WorkerError`` if it is forged
        (another job), malformed, or over the output budget."""
        if message.get("job") != self._job:
            raise WorkerError("the worker sent output for another job (a stale or forged frame)")
        text = message.get("text")
        if not isinstance(text, str):
            raise WorkerError("the worker sent a malformed output frame")
        size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        self._sent += size
        if self._sent > self._limit:
            raise WorkerError("the worker streamed more output than max_output_bytes allows")
        if self._callback is None or self.error is not None or not text:
            return
        try:
            self._callback(replace_lone_surrogates(text))
        except Exception as exc:  # the host's own callback: stop calling it, keep running
            self.error = exc
