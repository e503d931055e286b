"""Pairing removed and added files as renames, the way ``git diff`` does.

libgit2 finds renames with its own similarity measure and pairs other files
than git near the threshold, so Heater pairs them itself, following git's
``diffcore-rename`` for ``git diff`` defaults (``-M50%``, no copies, no
break): exact renames first, then files whose base names are unique on
both sides at a higher bar (75%), then the best-scoring pairs of the rest,
each destination keeping its four best candidates, ties going to the
candidate with the same base name. Scores are git's (:mod:`heater.diff.similarity`).

Not modelled: a deleted file identical to several added ones, which git
prints as copies plus one rename (each source is used once here). Bounded
by size, count and work (:data:`MAX_SCORED_BYTES`, :data:`RENAME_LIMIT`,
:data:`MAX_SCORING_STEPS`); past
the bounds, files that git would still pair show as removed and added, and
the result says so.
"""

from __future__ import annotations

import posixpath
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from heater.diff.similarity import (
    MAX_SCORE,
    copied_bytes,
    score_of,
    spans,
    too_different_in_size,
)

MINIMUM_SCORE = MAX_SCORE // 2  # git's default -M50%
# A unique base name on both sides is a strong hint; git asks for halfway
# between the minimum and a perfect score.
BASENAME_SCORE = MINIMUM_SCORE + (MAX_SCORE - MINIMUM_SCORE) // 2
CANDIDATES_PER_DESTINATION = 4
# Beyond RENAME_LIMIT**2 candidate pairs, only exact and same-name renames
# are looked for. git's default diff.renameLimit is 1000; scoring a pair
# costs more here, so the bound is lower.
RENAME_LIMIT = 100
# Files larger than this, or content past this total, are not scored (they
# still pair when identical): hashing spans in Python costs about a second
# per 2 MiB of distinct lines, so the total bounds the time it takes.
MAX_SCORED_FILE_BYTES = 1024 * 1024
MAX_SCORED_BYTES = 4 * 1024 * 1024
# Span comparisons in the matrix (about a second of work); files that share
# many lines with many others could otherwise take long.
MAX_SCORING_STEPS = 4_000_000


@dataclass(frozen=True)
class Side:
    """A removed (source) or added (destination) file."""

    path: str
    oid: str
    mode: int

    @property
    def basename(self) -> str:
        return posixpath.basename(self.path)

    @property
    def regular(self) -> bool:
        return stat.S_ISREG(self.mode)


@dataclass(frozen=True)
class Rename:
    source: int        # index into the sources
    destination: int   # index into the destinations
    score: int         # 0..MAX_SCORE


@dataclass
class Renames:
    """The renames found, by destination; ``limited`` when a size or count
    bound left some files unscored (git might pair more of them)."""

    pairs: list[Rename]
    limited: bool = False


class _Scorer:
    """Scores with fingerprints computed once per blob, sizes read first,
    within the bounds on bytes read and on work done."""

    def __init__(self, read: Callable[[str], bytes], size: Callable[[str], int]) -> None:
        self._read = read
        self._size = size
        self._sizes: dict[str, int] = {}
        self._spans: dict[str, Counter[int] | None] = {}
        self._budget = MAX_SCORED_BYTES
        self.steps = MAX_SCORING_STEPS
        self.limited = False

    def size(self, oid: str) -> int:
        if oid not in self._sizes:
            self._sizes[oid] = self._size(oid)
        return self._sizes[oid]

    def affords(self, sides: list[Side]) -> bool:
        """Whether the files of ``sides`` that may be scored all fit in
        what is left to read (all or none: a matrix with half its files
        unscored pairs badly; a file too large is left out on its own)."""
        needed = {side.oid: self.size(side.oid) for side in sides
                  if side.regular and side.oid not in self._spans}
        return self._budget >= sum(size for size in needed.values()
                                   if size <= MAX_SCORED_FILE_BYTES)

    def fingerprint(self, side: Side) -> Counter[int] | None:
        """The side's spans; None for what git does not score (not a
        regular file) or what is past the bounds."""
        if not side.regular:
            return None
        if side.oid not in self._spans:
            size = self.size(side.oid)
            if size > MAX_SCORED_FILE_BYTES or size > self._budget:
                self.limited = True
                self._spans[side.oid] = None
            else:
                self._budget -= size
                self._spans[side.oid] = spans(self._read(side.oid))
        return self._spans[side.oid]

    def finish(self, src: Side, dst: Side, copied: int, minimum: int) -> int:
        """The score of a pair whose copied bytes are known."""
        if not (src.regular and dst.regular):
            return 0
        old_size, new_size = self.size(src.oid), self.size(dst.oid)
        if too_different_in_size(old_size, new_size, minimum):
            return 0
        return score_of(copied, old_size, new_size)

    def __call__(self, src: Side, dst: Side, minimum: int) -> int:
        if not (src.regular and dst.regular) or too_different_in_size(
                self.size(src.oid), self.size(dst.oid), minimum):
            return 0
        old, new = self.fingerprint(src), self.fingerprint(dst)
        if old is None or new is None:
            return 0
        return self.finish(src, dst, copied_bytes(old, new), minimum)


def _matrix(sources: list[Side], destinations: list[Side], left_sources: list[int],
            left_destinations: list[int],
            scorer: _Scorer) -> list[tuple[int, int, int, int]]:
    """Each destination's best candidates, as (score, same name, dst, src).

    The copied bytes of every pair come from one pass over each
    destination's spans through an index of the sources' spans, so that
    work follows the spans the files share, not sources times destinations.
    """
    postings: dict[int, list[tuple[int, int]]] = {}
    for src in left_sources:
        for span, count in (scorer.fingerprint(sources[src]) or {}).items():
            postings.setdefault(span, []).append((src, count))
    candidates: list[tuple[int, int, int, int]] = []
    for dst in left_destinations:
        copied: dict[int, int] = dict.fromkeys(left_sources, 0)
        for span, count in (scorer.fingerprint(destinations[dst]) or {}).items():
            hits = postings.get(span, ())
            scorer.steps -= len(hits) + 1
            for src, src_count in hits:
                copied[src] += min(count, src_count)
        if scorer.steps < 0:
            scorer.limited = True
            break
        best: list[tuple[int, int, int, int]] = []
        for src in left_sources:
            value = scorer.finish(sources[src], destinations[dst], copied[src], MINIMUM_SCORE)
            same_name = int(sources[src].basename == destinations[dst].basename)
            _record_if_better(best, (value, same_name, dst, src))
        candidates.extend(best)
    return candidates


def find_renames(sources: list[Side], destinations: list[Side],
                 read: Callable[[str], bytes], size: Callable[[str], int]) -> Renames:
    """The renames among ``sources`` (removed files) and ``destinations``
    (added files), both in path order. ``read`` gives a blob's bytes,
    ``size`` its size without reading it."""
    renames: list[Rename] = []
    used: set[int] = set()
    paired: set[int] = set()

    def pair(src: int, dst: int, value: int) -> None:
        renames.append(Rename(src, dst, value))
        used.add(src)
        paired.add(dst)

    _exact(sources, destinations, pair, used)
    scorer = _Scorer(read, size)
    _by_basename(sources, destinations, scorer, pair, used, paired)
    left_sources = [i for i in range(len(sources)) if i not in used]
    left_destinations = [j for j in range(len(destinations)) if j not in paired]
    if len(left_sources) * len(left_destinations) > RENAME_LIMIT ** 2 or \
            not scorer.affords([sources[i] for i in left_sources]
                               + [destinations[j] for j in left_destinations]):
        return Renames(sorted(renames, key=lambda r: r.destination), limited=True)
    candidates = _matrix(sources, destinations, left_sources, left_destinations, scorer)
    # Stable: equal scores keep destination order, then candidate order.
    candidates.sort(key=lambda c: (-c[0], -c[1]))
    for value, _same_name, dst, src in candidates:
        if value < MINIMUM_SCORE:
            break
        if dst in paired or src in used:
            continue
        pair(src, dst, value)
    return Renames(sorted(renames, key=lambda r: r.destination), scorer.limited)


def _exact(sources: list[Side], destinations: list[Side], pair: Callable[[int, int, int], None],
           used: set[int]) -> None:
    by_oid: dict[tuple[str, bool], list[int]] = {}
    for i, src in enumerate(sources):
        by_oid.setdefault((src.oid, src.regular), []).append(i)
    for j, dst in enumerate(destinations):
        free = [i for i in by_oid.get((dst.oid, dst.regular), []) if i not in used]
        if not free:
            continue
        same_name = [i for i in free if sources[i].basename == dst.basename]
        pair((same_name or free)[0], j, MAX_SCORE)


def _by_basename(sources: list[Side], destinations: list[Side], scorer: _Scorer,
                 pair: Callable[[int, int, int], None], used: set[int],
                 paired: set[int]) -> None:
    src_names = Counter(sources[i].basename for i in range(len(sources)) if i not in used)
    dst_index: dict[str, int] = {}
    dst_names: Counter[str] = Counter()
    for j, dst in enumerate(destinations):
        if j not in paired:
            dst_names[dst.basename] += 1
            dst_index[dst.basename] = j
    for i, src in enumerate(sources):
        name = src.basename
        if i in used or src_names[name] != 1 or dst_names[name] != 1:
            continue
        j = dst_index[name]
        value = scorer(src, destinations[j], BASENAME_SCORE)
        if value >= BASENAME_SCORE:
            pair(i, j, value)


def _record_if_better(best: list[tuple[int, int, int, int]],
                      candidate: tuple[int, int, int, int]) -> None:
    """Keep a destination's best candidates: a new one replaces the worst
    only if it is strictly better (higher score, or same score and name)."""
    if len(best) < CANDIDATES_PER_DESTINATION:
        best.append(candidate)
        return
    worst = min(range(len(best)), key=lambda k: (best[k][0], best[k][1], k))
    if (candidate[0], candidate[1]) > (best[worst][0], best[worst][1]):
        best[worst] = candidate
