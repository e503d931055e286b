"""Validation of every name a user can send: the only place these rules live.

Repository names, git ref names and file paths inside a repository are
checked here before they are used to build a path on disk or to call git.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from heater.errors import InvalidValue

# \Z rather than $, which would also match before a trailing newline.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")
RESERVED = frozenset({"api", "static", "ui", "-", "healthz", "metrics"})

# Longest path inside a repository we accept; git itself allows more, but no
# template needs it and it bounds the work done on hostile input.
MAX_PATH_LENGTH = 1024
MAX_REF_LENGTH = 255

# A blob id names a file below the blob directory: no separators, no dots.
_BLOB_ID_RE = re.compile(r"^[0-9a-z][0-9a-z-]{2,127}\Z")
# Build ids are UUIDs in canonical form (lower-case, hyphenated).
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# git check-ref-format forbids these anywhere in a ref.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
# A full SHA-1 or SHA-256 object id: a ref component spelled like one would
# let a branch or tag stand in for the commit a URL names by SHA.
_FULL_SHA_RE = re.compile(r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$")
# Names git refuses for a branch (check-ref-format --branch) and a tag:
# both read as the current commit.
_RESERVED_SHORT_REFS = frozenset({"HEAD", "@"})
_CREATABLE_PREFIXES = ("refs/heads/", "refs/tags/")
# Bytes that are not UTF-8, as decoding with errors="surrogateescape" leaves
# them (a pushed ref name is any bytes git accepts), and lone surrogates.
_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidName(InvalidValue):
    """A malformed name; ``kind`` (``namespace``, ``name``, ``ref``...) is
    the field it was sent as."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        super().__init__(kind, f"invalid {kind} {shown!r}: {reason}")
        self.kind = kind
        self.value = value
        self.reason = reason


def check_name(value: str, kind: str = "name") -> str:
    """Return ``value`` if it is a valid namespace or repository name."""
    if not isinstance(value, str) or not value:
        raise InvalidName(kind, str(value), "must not be empty")
    if value in RESERVED:
        raise InvalidName(kind, value, "is a reserved word")
    if value.endswith(".git"):
        raise InvalidName(kind, value, "must not end in .git")
    if not NAME_RE.match(value):
        raise InvalidName(
            kind, value,
            "use 1 to 63 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    return value


@dataclass(frozen=True, order=True)
class RepoId:
    """A validated ``<namespace>/<name>``."""

    namespace: str
    name: str

    def as_json(self) -> dict[str, str]:
        """The repository reference one resource gives of another (``RepoRef``)."""
        return {"namespace": self.namespace, "name": self.name}

    def __post_init__(self) -> None:
        check_name(self.namespace, "namespace")
        check_name(self.name, "name")

    @classmethod
    def parse(cls, full: str) -> RepoId:
        parts = full.split("/")
        if len(parts) != 2:
            raise InvalidName("repository", full, "expected <namespace>/<name>")
        return cls(parts[0], parts[1])

    @classmethod
    def from_json(cls, value: object, field: str) -> RepoId:
        """A repository reference sent in a body as ``field``:
        ``{"namespace": ..., "name": ...}`` and nothing else."""
        if (not isinstance(value, dict) or set(value) != {"namespace", "name"}
                or not all(isinstance(v, str) for v in value.values())):
            raise InvalidValue(field, f"{field!r} must be a repository reference "
                               '{"namespace": "...", "name": "..."}')
        return cls(value["namespace"], value["name"])

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def check_ref_name(ref: str) -> str:
    """Validate a full ref name (``refs/heads/main``) as git and Heater require.

    Git's check-ref-format rules, plus: no component may start with ``-`` (so
    that a ref can never be read as a command-line option).
    """
    if not ref or len(ref) > MAX_REF_LENGTH:
        raise InvalidName("ref", ref, f"must be 1 to {MAX_REF_LENGTH} characters")
    if _SURROGATE.search(ref):
        raise InvalidName("ref", ref, "is not valid UTF-8")
    if _REF_FORBIDDEN.search(ref):
        raise InvalidName("ref", ref, "contains a control character, space or one of ~^:?*[\\")
    if ref.startswith("/") or ref.endswith("/") or "//" in ref:
        raise InvalidName("ref", ref, "has an empty path component")
    if ref.endswith(".") or ".." in ref or "@{" in ref or ref == "@":
        raise InvalidName("ref", ref, "contains '..', '@{' or ends with '.'")
    for component in ref.split("/"):
        if component.startswith(".") or component.endswith(".lock"):
            raise InvalidName("ref", ref, "a component starts with '.' or ends with '.lock'")
        if component.startswith("-"):
            raise InvalidName("ref", ref, "a component starts with '-'")
    return ref


def is_full_sha(value: str) -> bool:
    """Whether ``value`` is spelled like a full SHA-1 or SHA-256 object id."""
    return bool(_FULL_SHA_RE.match(value))


def check_new_ref_name(ref: str) -> str:
    """Validate the full name of a branch or tag about to be created or moved.

    :func:`check_ref_name`, and what ``git check-ref-format --branch`` adds
    (no ``HEAD``, no ``@``), and no component spelled like a full SHA: a
    SHA in a URL or an API call must always mean that object, never a ref
    someone pushed under its name.
    """
    check_ref_name(ref)
    prefix = next((p for p in _CREATABLE_PREFIXES if ref.startswith(p)), None)
    short = ref[len(prefix):] if prefix else ref
    if short in _RESERVED_SHORT_REFS:
        raise InvalidName("ref", ref, f"{short!r} is reserved: git reads it as the current commit")
    if any(is_full_sha(component) for component in short.split("/")):
        raise InvalidName("ref", ref, "a component of 40 or 64 hex digits would read as a "
                          "commit SHA")
    return ref


def check_short_ref(ref: str) -> str:
    """Validate a ref as given in a URL or API call (``v1.2.0``, ``main``, a SHA)."""
    if not isinstance(ref, str):
        raise InvalidName("ref", str(ref), "must be a string")
    if ref.startswith("refs/"):
        return check_ref_name(ref)
    try:
        check_ref_name("refs/heads/" + ref)
    except InvalidName as exc:  # say it of the ref as given
        raise InvalidName("ref", ref, exc.reason) from None
    return ref


def check_free_text(value: str, field: str) -> str:
    """Return ``value`` (a message, a reason) if git and JSON can carry it:
    no NUL (git ends a message there, and no argument may hold one) and no
    unpaired surrogate (it has no UTF-8 form)."""
    if "\x00" in value:
        raise InvalidValue(field, f"{field!r} contains a NUL character")
    if _SURROGATE.search(value):
        raise InvalidValue(field, f"{field!r} is not valid Unicode (an unpaired surrogate)")
    return value


def check_repo_path(path: str) -> str:
    """Validate a file path inside a repository tree (``files/init.sh``).

    Relative, ``/``-separated, no empty, ``.``, ``..`` or ``.git``
    components, no control characters: it can only name an entry of a
    tree git accepts.
    """
    if not path:
        raise InvalidName("path", path, "must not be empty")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidName("path", path, f"longer than {MAX_PATH_LENGTH} characters")
    if _CONTROL.search(path):
        raise InvalidName("path", path, "contains a control character")
    if _SURROGATE.search(path):
        raise InvalidName("path", path, "is not valid UTF-8")
    if path.startswith("/") or "\\" in path:
        raise InvalidName("path", path, "must be relative and use '/'")
    for component in path.split("/"):
        if component in ("", ".", ".."):
            raise InvalidName("path", path, "has an empty, '.' or '..' component")
        # git refuses a tree entry named .git (in any case: it would be the
        # repository itself on case-insensitive file systems).
        if component.lower() == ".git":
            raise InvalidName("path", path, "has a '.git' component")
    return path


def check_blob_id(value: str) -> str:
    """Validate the id of a blob (lower-case letters, digits and '-')."""
    if not isinstance(value, str) or not _BLOB_ID_RE.match(value):
        raise InvalidName("blob id", str(value), "use 3 to 128 lower-case letters, digits or '-'")
    return value


def check_uuid(value: str, kind: str = "build id") -> str:
    """Validate a UUID in canonical lower-case hyphenated form."""
    if not isinstance(value, str) or not _UUID_RE.match(value):
        raise InvalidName(kind, str(value), "expected a UUID such as "
                          "'1b4e28ba-2fa1-4d3b-883f-0016d3cca427'")
    return value


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID as :func:`check_uuid` accepts it (a build
    id given where a ref is also allowed)."""
    return bool(_UUID_RE.match(value))


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]{{2,45}}\])"
                      r"(?::[0-9]{1,5})?\Z")


def is_host_port(value: str) -> bool:
    """Whether ``value`` is a plain ``host[:port]`` (a DNS name, an IPv4
    address or a bracketed IPv6 one): what a Host header or a link may hold."""
    return _HOST_RE.match(value) is not None


# -- suggestions for a mistyped name ------------------------------------------

def closest(name: str, candidates: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` for the candidate nearest ``name``, or ''."""
    found = nearest(name, candidates)
    return f" (did you mean {found!r}?)" if found else ""


def nearest(name: str, candidates: Iterable[object]) -> str | None:
    """The candidate nearest ``name``, if one is near enough to be a typo of it."""
    return _closest_match(name, tuple(sorted(str(c) for c in candidates)))


# A large template repeats its mistakes (the same plugin type in every
# resource of a kind): each is matched once.
@functools.lru_cache(maxsize=1024)
def _closest_match(name: str, candidates: tuple[str, ...]) -> str | None:
    """What ``difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)``
    answers, sooner: its full ratio is slow against Heat's hundreds of types,
    so candidates are tried from the highest quick_ratio (an upper bound of
    the ratio) down, until none can equal the best found."""
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(name)
    bounds = []
    for candidate in candidates:
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= _CUTOFF:
            bound = matcher.quick_ratio()
            if bound >= _CUTOFF:
                bounds.append((bound, candidate))
    best: tuple[float, str] | None = None
    for bound, candidate in sorted(bounds, reverse=True):
        if best is not None and bound < best[0]:
            break
        matcher.set_seq1(candidate)
        score = matcher.ratio()
        # Ties go to the greater string, as in get_close_matches.
        if score >= _CUTOFF and (best is None or (score, candidate) > best):
            best = (score, candidate)
    return best[1] if best else None


_CUTOFF = 0.6
