"""Compatibility levels and whether a version bump is large enough for them.

A diff's verdict is the highest :class:`Impact` of its entries: ``major``
when something that worked with ``from`` breaks, ``minor`` for additions,
``patch`` for any other change, ``none`` when nothing changed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from heater.repos.versions import Version


class Impact(enum.IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def __str__(self) -> str:
        return self.name.lower()


def bump_between(old: Version, new: Version) -> Impact:
    """Which part of the version ``new`` raised over ``old`` (pre-release
    and build parts aside); NONE when ``new`` is not above ``old`` there."""
    old_core = (old.major, old.minor, old.patch)
    new_core = (new.major, new.minor, new.patch)
    if new_core <= old_core:
        return Impact.NONE
    if new.major != old.major:
        return Impact.MAJOR
    if new.minor != old.minor:
        return Impact.MINOR
    return Impact.PATCH


def allows(old: Version, bump: Impact) -> Impact:
    """The largest change a ``bump`` over ``old`` may carry.

    Below 1.0.0 the scheme shifts down one place (as Cargo and npm read
    semver): 0.1.0 -> 0.2.0 may break callers, 0.1.0 -> 0.1.1 may add.
    """
    if old.major == 0 and bump in (Impact.MINOR, Impact.PATCH):
        return Impact(bump + 1)
    return bump


@dataclass(frozen=True)
class VersionCheck:
    """Whether going from version ``old`` to ``new`` is a large enough bump
    for a diff whose verdict is ``required``."""

    old: Version
    new: Version
    required: Impact

    @property
    def bump(self) -> Impact:
        return bump_between(self.old, self.new)

    @property
    def sufficient(self) -> bool:
        if self.required is Impact.NONE:
            return True
        return allows(self.old, self.bump) >= self.required

    def as_json(self) -> dict[str, object]:
        return {"from": str(self.old), "to": str(self.new), "bump": str(self.bump),
                "required": str(self.required), "sufficient": self.sufficient}
