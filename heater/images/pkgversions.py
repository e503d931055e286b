"""Package version ordering as dpkg and rpm define it.

Both are written from the algorithms' definitions (Debian Policy 5.6.12 and
dpkg's ``verrevcmp``; rpm's ``rpmvercmp`` and ``rpmverCmp``), not from
string comparison: ``1.10 > 1.9``, ``1.0~rc1 < 1.0``, ``1:0.9 > 2.0``.
Each ``compare_*`` returns a negative number, zero or a positive number.
"""

from __future__ import annotations

from collections.abc import Callable

Comparator = Callable[[str, str], int]


# -- dpkg ------------------------------------------------------------------

def _dpkg_order(char: str) -> int:
    """Sort weight of one non-digit character (``""`` is the end of string):
    ``~`` before the end, the end before letters, letters before the rest."""
    if not char or _isdigit(char):
        return 0
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's comparison of an upstream version or a revision."""
    i = j = 0
    while i < len(a) or j < len(b):
        # The non-digit prefixes, character by character.
        while (i < len(a) and not _isdigit(a[i])) or (j < len(b) and not _isdigit(b[j])):
            ac = _dpkg_order(a[i] if i < len(a) else "")
            bc = _dpkg_order(b[j] if j < len(b) else "")
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        # Then the digit runs, as numbers.
        start_a, start_b = i, j
        while i < len(a) and _isdigit(a[i]):
            i += 1
        while j < len(b) and _isdigit(b[j]):
            j += 1
        diff = int(a[start_a:i] or "0") - int(b[start_b:j] or "0")
        if diff:
            return 1 if diff > 0 else -1
    return 0


def _isdigit(char: str) -> bool:
    return "0" <= char <= "9"


def parse_dpkg(version: str) -> tuple[int, str, str]:
    """``[epoch:]upstream[-revision]`` as (epoch, upstream, revision)."""
    epoch = 0
    head, colon, rest = version.partition(":")
    if colon and head and all(_isdigit(c) for c in head):
        epoch, version = int(head), rest
    upstream, dash, revision = version.rpartition("-")
    if not dash:
        upstream, revision = version, ""
    return epoch, upstream, revision


def compare_dpkg(a: str, b: str) -> int:
    """Compare two Debian package versions as ``dpkg --compare-versions`` does."""
    ea, ua, ra = parse_dpkg(a.strip())
    eb, ub, rb = parse_dpkg(b.strip())
    if ea != eb:
        return 1 if ea > eb else -1
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


# -- rpm -------------------------------------------------------------------

def _rpm_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def rpmvercmp(a: str, b: str) -> int:
    """rpm's comparison of one version or release string."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _rpm_alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _rpm_alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        # A tilde sorts before everything, even the end of the string.
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue
        # A caret sorts after the end of the string but before anything else.
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (ca and cb):
            break
        numeric = _isdigit(ca)
        same_kind: Callable[[str], bool] = (
            _isdigit if numeric else (lambda c: c.isascii() and c.isalpha()))
        end_a, end_b = i, j
        while end_a < len(a) and same_kind(a[end_a]):
            end_a += 1
        while end_b < len(b) and same_kind(b[end_b]):
            end_b += 1
        seg_a, seg_b = a[i:end_a], b[j:end_b]
        if not seg_b:  # numeric against alpha: numeric is newer
            return 1 if numeric else -1
        if numeric:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
        i, j = end_a, end_b
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def parse_rpm(evr: str) -> tuple[str | None, str, str | None]:
    """``[epoch:]version[-release]`` as (epoch, version, release)."""
    epoch: str | None = None
    head, colon, rest = evr.partition(":")
    if colon:
        epoch, evr = head, rest
    version, dash, release = evr.rpartition("-")
    if not dash:
        return epoch, evr, None
    return epoch, version, release


def compare_rpm(a: str, b: str) -> int:
    """Compare two ``[epoch:]version[-release]`` strings as rpm does: a
    missing epoch is 0; releases count only when both sides have one."""
    ea, va, ra = parse_rpm(a.strip())
    eb, vb, rb = parse_rpm(b.strip())
    result = rpmvercmp(ea or "0", eb or "0") or rpmvercmp(va, vb)
    if result == 0 and ra is not None and rb is not None:
        result = rpmvercmp(ra, rb)
    return result


COMPARATORS: dict[str, Comparator] = {"dpkg": compare_dpkg, "rpm": compare_rpm}
