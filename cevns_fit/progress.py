"""Progress reports on stderr: a tqdm bar on a terminal, a plain periodic line otherwise.

A log file or a CI console gets no carriage-return bars: :class:`LineProgress` writes one line
such as ``scan: 40/100 pt (40 %), 12 s elapsed, ~18 s left`` at most every ``every_s`` seconds
and a last line when done.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["LineProgress", "progress"]


class LineProgress:
    """The interface of the tqdm bar used here (``update``, ``close``), as plain lines."""

    def __init__(
        self,
        total: int,
        *,
        initial: int = 0,
        desc: str = "",
        unit: str = "it",
        file: TextIO | None = None,
        every_s: float = 10.0,
        clock=time.monotonic,
    ):
        self.total, self.n, self.desc, self.unit = total, initial, desc, unit
        self.file = file if file is not None else sys.stderr
        self.every_s, self._clock = every_s, clock
        self._start = self._last = clock()
        self._initial = initial
        self._closed = False

    def _line(self) -> str:
        elapsed = self._clock() - self._start
        pct = 100.0 * self.n / self.total if self.total else 100.0
        text = f"{self.desc}: {self.n}/{self.total} {self.unit} ({pct:.0f} %), {elapsed:.0f} s"
        done = self.n - self._initial
        if 0 < done and self.n < self.total:
            left = elapsed / done * (self.total - self.n)
            text += f", ~{left:.0f} s left"
        return text

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        if now - self._last >= self.every_s and self.n < self.total:
            self._last = now
            print(self._line(), file=self.file, flush=True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            print(self._line(), file=self.file, flush=True)


def progress(total: int, *, initial: int = 0, desc: str = "", unit: str = "it", enabled=True):
    """A progress reporter on stderr: tqdm on a terminal, :class:`LineProgress` otherwise,
    nothing (a disabled tqdm) when ``enabled`` is false."""
    from tqdm import tqdm

    if enabled and not sys.stderr.isatty():
        return LineProgress(total, initial=initial, desc=desc, unit=unit, file=sys.stderr)
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not enabled,
    )
