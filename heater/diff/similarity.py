"""Git's rename similarity score, as ``git diff`` prints it.

libgit2 pairs renamed files but scores their similarity with its own
algorithm, which prints other percentages than git. The ``similarity
index`` line must match ``git diff`` exactly, so the score is recomputed
here the way git computes it (``diffcore-delta.c`` and
``estimate_similarity`` in ``diffcore-rename.c``): both files are cut into
spans that end at a newline or after 64 bytes (a last span without a
newline is left out), each span hashed; the bytes
of ``new`` whose spans also occur in ``old`` count as copied, and the score
is copied bytes over the larger size.
"""

from __future__ import annotations

import functools
from collections import Counter

MAX_SCORE = 60000
_HASHBASE = 107927
_MASK = 0xFFFFFFFF
# Git treats a file as binary when its first 8000 bytes hold a NUL.
_BINARY_PROBE = 8000
_SPAN = 64


def looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:_BINARY_PROBE]


@functools.lru_cache(maxsize=1 << 16)
def _span_hash(piece: bytes) -> int:
    # Pieces repeat (the same lines in the old and the new file): each
    # distinct one is hashed once.
    accum1 = accum2 = 0
    for c in piece:
        old1 = accum1
        accum1 = ((accum1 << 7) & _MASK) ^ (accum2 >> 25)
        accum2 = ((accum2 << 7) & _MASK) ^ (old1 >> 25)
        accum1 = (accum1 + c) & _MASK
    return ((accum1 + accum2 * 0x61) & _MASK) % _HASHBASE


def _spans(data: bytes) -> Counter[int]:
    """Bytes per span hash, as git's ``hash_chars``: a span ends at a
    newline or after 64 bytes; in text, the CR of a CRLF is not counted."""
    text = not looks_binary(data)
    counts: Counter[int] = Counter()
    *lines, last = data.split(b"\n")
    for line in lines:
        if text and line.endswith(b"\r"):
            line = line[:-1]
        line += b"\n"
        for start in range(0, len(line), _SPAN):
            piece = line[start:start + _SPAN]
            counts[_span_hash(piece)] += len(piece)
    # The last line has no newline: its full spans count, the rest does not.
    for start in range(0, len(last) - _SPAN + 1, _SPAN):
        counts[_span_hash(last[start:start + _SPAN])] += _SPAN
    return counts


def spans(data: bytes) -> Counter[int]:
    """The span fingerprint of ``data``: bytes per span hash."""
    return _spans(data)


def copied_bytes(old_spans: Counter[int], new_spans: Counter[int]) -> int:
    """The bytes of the new file that git counts as copied from the old."""
    return sum(min(count, old_spans[h]) for h, count in new_spans.items() if h in old_spans)


def score_of(copied: int, old_size: int, new_size: int) -> int:
    """Git's similarity score (0 to :data:`MAX_SCORE`) from the copied
    bytes and the two sizes."""
    if not new_size:
        return 0
    return copied * MAX_SCORE // max(old_size, new_size)


def too_different_in_size(old_size: int, new_size: int, minimum: int) -> bool:
    """Git's shortcut: sizes alone show the score cannot reach ``minimum``."""
    largest, smallest = max(old_size, new_size), min(old_size, new_size)
    return largest * (MAX_SCORE - minimum) < (largest - smallest) * MAX_SCORE


def percent(value: int) -> int:
    """A score as the percentage ``git diff`` prints."""
    return value * 100 // MAX_SCORE


def similarity_index(old: bytes, new: bytes) -> int:
    """The percentage ``git diff`` prints as ``similarity index N%``."""
    if old == new:
        return 100
    return percent(score_of(copied_bytes(_spans(old), _spans(new)), len(old), len(new)))
