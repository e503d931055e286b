"""Semantic versions: parsing, precedence, and the versions of a repository.

A version is a tag ``vMAJOR.MINOR.PATCH[-pre][+build]`` or the same without
the ``v``; both spellings name one version, so only one tag may carry it.
A version is written without the ``v`` (``str(Version)``) everywhere
Heater shows or stores one; a tag Heater makes is always :func:`tag_name`'s
``v``-prefixed spelling, however the version was asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Any

import pygit2

from heater.clock import utc_iso
from heater.errors import Conflict, InvalidValue
from heater.git.identity import actor
from heater.git.objects import peel_commit
from heater.repos.lifecycle import event, read_state

# semver.org 2.0.0, with an optional leading "v"; \Z, since $ also matches
# before a trailing newline.
_SEMVER_RE = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z"
)
MAX_VERSION_LENGTH = 128


class InvalidVersion(InvalidValue):
    def __init__(self, value: str, field: str = "version") -> None:
        super().__init__(
            field,
            f"{value!r} is not a semantic version (expected MAJOR.MINOR.PATCH, "
            "optionally v-prefixed, with -prerelease and +build parts)"
        )
        self.value = value


class VersionExists(Conflict):
    """A version that is taken, by a tag or an image build: versions never
    move."""

    code = "version_exists"

    def __init__(self, version: str, where: str) -> None:
        super().__init__(f"version {version} already exists {where}")
        self.version = version


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        if not isinstance(text, str) or len(text) > MAX_VERSION_LENGTH:
            raise InvalidVersion(str(text)[:MAX_VERSION_LENGTH])
        match = _SEMVER_RE.match(text)
        if not match:
            raise InvalidVersion(text)
        major, minor, patch, pre, build = match.groups()
        return cls(int(major), int(minor), int(patch),
                   tuple(pre.split(".")) if pre else (), build or "")

    @classmethod
    def try_parse(cls, text: str) -> Version | None:
        try:
            return cls.parse(text)
        except InvalidVersion:
            return None

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + self.build
        return text

    def _key(self) -> tuple[object, ...]:
        # A release sorts after its pre-releases; numeric identifiers sort
        # numerically and before alphanumeric ones (semver 2.0.0 section 11).
        # Build metadata does not take part in precedence.
        pre: tuple[tuple[int, int, str], ...] = tuple(
            (0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease
        )
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()


def tag_name(version: str | Version) -> str:
    """The one spelling of the tag Heater makes for ``version`` (``1.2.0``
    or ``v1.2.0`` alike): ``v1.2.0``."""
    parsed = version if isinstance(version, Version) else Version.parse(version)
    return f"v{parsed}"


@dataclass
class TaggedVersion:
    version: Version
    tag: str
    commit: str
    # An annotated tag's tagger (Actor), None for a lightweight tag.
    tagger: dict[str, str | None] | None
    created_at: str | None
    message: str | None
    # How the version was yanked (the lifecycle record), if it was.
    yank: Mapping[str, Any] | None = field(default=None)

    @property
    def yanked(self) -> bool:
        return self.yank is not None

    def as_json(self) -> dict[str, object]:
        return {
            "version": str(self.version),
            "tag": self.tag,
            "commit": self.commit,
            "prerelease": self.version.is_prerelease,
            "tagger": self.tagger,
            "message": self.message,
            "yanked": event(dict(self.yank) if self.yank is not None else None),
            "created_at": self.created_at,
        }


# The ``yanked`` map of a repository's lifecycle state, for callers that
# have read the state already (None: read it here).
Yanked = Mapping[str, Mapping[str, Any]]


def list_versions(git: pygit2.Repository, yanked: Yanked | None = None) -> list[TaggedVersion]:
    """Every semver tag that points (maybe through a tag object) at a commit,
    newest first by semver precedence, with its yank state."""
    if yanked is None:
        yanked = read_state(git).yanked
    found: list[TaggedVersion] = []
    for ref_name in git.references:
        if not ref_name.startswith("refs/tags/"):
            continue
        tagged = _tagged(git, ref_name[len("refs/tags/"):], yanked)
        if tagged is not None:
            found.append(tagged)
    found.sort(key=lambda v: (v.version, v.tag), reverse=True)
    return found


def lookup_version(git: pygit2.Repository, version: Version,
                   yanked: Yanked | None = None) -> TaggedVersion | None:
    """``find_version(list_versions(git), version)``, reading only the tag
    when it is spelled as asked (``v1.2.0`` or ``1.2.0``): raw files are
    read by version far more often than tags are listed."""
    for tag_name in (f"v{version}", str(version)):
        if f"refs/tags/{tag_name}" in git.references:
            if yanked is None:
                yanked = read_state(git).yanked
            tagged = _tagged(git, tag_name, yanked)
            if tagged is not None:
                return tagged
    return find_version(list_versions(git, yanked), version)


def _tagged(git: pygit2.Repository, tag_name: str,
            yanked: Yanked) -> TaggedVersion | None:
    """The version tag ``tag_name`` (None: not a version of a commit)."""
    version = Version.try_parse(tag_name)
    if version is None:
        return None
    target = git.get(git.references[f"refs/tags/{tag_name}"].target)
    tagger = created = message = None
    if isinstance(target, pygit2.Tag):
        if target.tagger is not None:
            tagger = actor(target.tagger)
            created = utc_iso(target.tagger.time)
        message = target.message
    commit = peel_commit(git, target)
    if commit is None:
        return None
    if created is None:
        created = utc_iso(commit.committer.time)
    return TaggedVersion(version, tag_name, str(commit.id), tagger, created, message,
                         yanked.get(str(version)))


def find_version(versions: Sequence[TaggedVersion], version: Version) -> TaggedVersion | None:
    for tagged in versions:
        if tagged.version == version and tagged.version.build == version.build:
            return tagged
    for tagged in versions:
        if tagged.version == version:
            return tagged
    return None


def latest(versions: Sequence[TaggedVersion]) -> TaggedVersion | None:
    """The highest version that is neither a pre-release nor yanked."""
    for tagged in versions:  # already newest first
        if not tagged.version.is_prerelease and not tagged.yanked:
            return tagged
    return None

