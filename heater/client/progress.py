"""A progress bar for long transfers."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self.visible = sys.stderr.isatty()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.visible and (now - self._drawn > 0.1 or self.done >= self.total):
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        fraction = self.done / self.total if self.total else 1.0
        width = 30
        bar = "#" * int(fraction * width)
        rate = self.done / max(now - self.started, 1e-6) / 2**20
        sys.stderr.write(f"\r{self.label} [{bar:<{width}}] {fraction:6.1%} {rate:8.1f} MiB/s")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()
