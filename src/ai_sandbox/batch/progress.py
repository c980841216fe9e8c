"""Progress of a batch: a bar redrawn in place on a terminal, plain lines otherwise.

On a terminal the bar shows done/total, the rate and the time left; in a log (not a tty) a
line is printed at most every ``interval_s`` seconds, so a CI log or ``nohup.out`` stays
readable. The summary at the end counts programs per status.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TextIO

__all__ = ["Progress"]

_STATUSES = ("ok", "error", "rejected", "timeout", "limit")
_BAR = 24


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """Counts finished programs and shows how far a batch is."""

    def __init__(
        self,
        stream: TextIO,
        *,
        total: int,
        skipped: int = 0,
        tty: bool | None = None,
        interval_s: float = 5.0,
    ) -> None:
        self._stream = stream
        self.total = total
        self.skipped = skipped
        self.bad_lines = 0
        self.counts: Counter[str] = Counter()
        self._tty = stream.isatty() if tty is None else tty
        self._interval = 0.1 if self._tty else interval_s
        self._start = time.monotonic()
        self._last = 0.0

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._start

    def rate(self) -> float:
        """Programs finished per second in this run."""
        elapsed = self.elapsed_s
        return self.done / elapsed if elapsed > 0 else 0.0

    def add(self, status: str) -> None:
        self.counts[status] += 1
        self._maybe_show()

    def bad_line(self) -> None:
        self.bad_lines += 1

    def _maybe_show(self) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self.show()

    def _remaining(self) -> int:
        return max(0, self.total - self.skipped - self.bad_lines - self.done)

    def show(self) -> None:
        rate = self.rate()
        left = self._remaining()
        eta = _clock(left / rate) if rate > 0 else "?"
        goal = max(self.done, self.total - self.skipped - self.bad_lines)
        part = min(1.0, self.done / goal) if goal else 1.0
        failed = self.done - self.counts["ok"]
        text = (
            f"{self.done}/{goal} ({part:.0%}) {rate:,.0f}/s ETA {eta} "
            f"ok {self.counts['ok']} not ok {failed}"
        )
        if self._tty:
            filled = int(part * _BAR)
            self._stream.write(f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {text}\x1b[K")
        else:
            self._stream.write(f"batch: {text}\n")
        self._stream.flush()

    def finish(self) -> None:
        """Show the final state (and end the bar's line on a terminal)."""
        self.show()
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def summary(self) -> str:
        """Counts per status, skipped and bad lines, and the rate: the batch's last words."""
        per_status = ", ".join(f"{name} {self.counts[name]}" for name in _STATUSES)
        others = sorted(set(self.counts) - set(_STATUSES))
        if others:
            per_status += ", " + ", ".join(f"{name} {self.counts[name]}" for name in others)
        return (
            f"{self.done} programs run in {self.elapsed_s:.1f} s ({self.rate():,.1f}/s): "
            f"{per_status}; {self.skipped} already done (skipped), {self.bad_lines} bad lines"
        )
