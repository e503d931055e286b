"""Time as Heater records it: UTC, ISO 8601, to the second, so that every
stored time reads the same and times compare as text."""

from __future__ import annotations

import datetime as dt


def now() -> str:
    """The current time."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def utc_iso(timestamp: int) -> str:
    """A Unix time (git's, in seconds)."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat()
