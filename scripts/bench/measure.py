"""What the benchmarks measure: wall time in alternating rounds, and the CPU
time and resident memory of a server's process group."""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

RSS_INTERVAL = 0.05  # seconds between two looks at a group's memory


@dataclass
class Samples:
    """Figures per side (seconds, unless said otherwise), in the order they were taken."""

    seconds: dict[str, list[float]] = field(default_factory=dict)

    def add(self, side: str, value: float) -> None:
        self.seconds.setdefault(side, []).append(value)

    def median(self, side: str) -> float:
        return statistics.median(self.seconds[side])

    def percentile(self, side: str, percent: float) -> float:
        """The nearest-rank percentile: the smallest sample that ``percent`` % of
        the samples do not exceed."""
        ordered = sorted(self.seconds[side])
        rank = max(1, math.ceil(len(ordered) * percent / 100))
        return ordered[rank - 1]

    def minimum(self, side: str) -> float:
        return min(self.seconds[side])

    def ratio(self, side: str, baseline: str) -> float:
        """The ratio of the medians."""
        return self.median(side) / self.median(baseline)

    def paired_ratio(self, side: str, baseline: str) -> float:
        """The median of the ratios of samples taken in the same round, next to
        each other: less sensitive to load that drifts from round to round."""
        pairs = zip(self.seconds[side], self.seconds[baseline], strict=True)
        return statistics.median(a / b for a, b in pairs)

    def row(self, side: str) -> str:
        return " ".join(f"{v:.2f}" for v in self.seconds[side])


def interleaved(sides: Sequence[str], rounds: int,
                measure: Callable[[str], Mapping[str, float]]) -> dict[str, Samples]:
    """``rounds`` measurements per side, alternating sides and flipping the
    order every round, so that drift in the machine's load hits both alike.
    ``measure(side)`` gives figures by metric name; the result is the samples
    of each metric."""
    metrics: dict[str, Samples] = {}
    for number in range(rounds):
        order = list(sides) if number % 2 == 0 else list(reversed(sides))
        for side in order:
            for metric, value in measure(side).items():
                metrics.setdefault(metric, Samples()).add(side, value)
    return metrics


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed:`` ... ``elapsed()`` is the block's wall time."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def _group_stats(pgid: int) -> Iterator[list[str]]:
    """The fields of /proc/<pid>/stat from the state (field 3) on, for every
    process of group ``pgid``: ``fields[n - 3]`` is field n of proc(5)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        # The command name (field 2) may hold spaces; the rest follows its ')'.
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # field 5, pgrp
            yield fields


def group_cpu_seconds(pgid: int) -> float:
    """User + system time of every process in group ``pgid``, with the children
    each has waited for (so a git process that ended counts, via its parent)."""
    ticks = sum(sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
                for fields in _group_stats(pgid))
    return ticks / os.sysconf("SC_CLK_TCK")


def group_rss(pgid: int) -> list[int]:
    """The resident memory, in bytes, of each process in group ``pgid`` now."""
    page = os.sysconf("SC_PAGE_SIZE")
    return [int(fields[21]) * page for fields in _group_stats(pgid)]  # field 24, rss


class PeakRss:
    """``with PeakRss(pgid) as peak:`` samples the group's memory in the
    background while the block runs; afterwards ``peak.total`` is the largest
    sum over the group seen, ``peak.largest`` the largest single process."""

    def __init__(self, pgid: int, interval: float = RSS_INTERVAL) -> None:
        self.pgid = pgid
        self.interval = interval
        self.total = 0
        self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def sample(self) -> None:
        sizes = group_rss(self.pgid)
        if sizes:
            self.total = max(self.total, sum(sizes))
            self.largest = max(self.largest, max(sizes))

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakRss:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
