"""A progress bar for long transfers."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal; of
    bytes (with the rate), or with ``unit`` of things counted (``n/total
    unit``)."""

    def __init__(self, label: str, total: int, unit: str | None = None) -> None:
        self.label = label
        self.total = total
        self.unit = unit
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
        if self.unit is None:
            rate = self.done / max(now - self.started, 1e-6) / 2**20
            tail = f"{rate:8.1f} MiB/s"
        else:
            tail = f"{self.done}/{self.total} {self.unit}"
        sys.stderr.write(f"\r{self.label} [{bar:<{width}}] {fraction:6.1%} {tail}")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()
