"""Time as Heater records and shows it: UTC, RFC 3339 with ``Z``, to the
second (``2026-12-04T17:30:00Z``), so that every time reads the same and
times compare as text."""

from __future__ import annotations

import datetime as dt


def _z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def now() -> str:
    """The current time."""
    return _z(dt.datetime.now(dt.UTC))


def utc_iso(timestamp: int) -> str:
    """A Unix time (git's, in seconds)."""
    return _z(dt.datetime.fromtimestamp(timestamp, dt.UTC))


def to_utc(iso: str) -> str:
    """An ISO 8601 time with an offset (as stored before times were
    written with ``Z``, or as git gives them) in the one form."""
    return _z(dt.datetime.fromisoformat(iso))
