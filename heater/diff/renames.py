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
by size and count (:data:`MAX_SCORED_BYTES`, :data:`RENAME_LIMIT`); past
the bounds, files that git would still pair show as removed and added, and
the result says so.
"""

from __future__ import annotations

import posixpath
import stat
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from heater.diff.similarity import MAX_SCORE, score, spans, too_different_in_size

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
# still pair when identical): reading and hashing are bounded by size.
MAX_SCORED_FILE_BYTES = 1024 * 1024
MAX_SCORED_BYTES = 16 * 1024 * 1024


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
    """Scores with fingerprints computed once per blob, sizes read first."""

    def __init__(self, read: Callable[[str], bytes], size: Callable[[str], int]) -> None:
        self._read = read
        self._size = size
        self._sizes: dict[str, int] = {}
        self._spans: dict[str, Counter[int]] = {}
        self._budget = MAX_SCORED_BYTES
        self.limited = False

    def size(self, oid: str) -> int:
        if oid not in self._sizes:
            self._sizes[oid] = self._size(oid)
        return self._sizes[oid]

    def __call__(self, src: Side, dst: Side, minimum: int) -> int:
        if not (src.regular and dst.regular):
            return 0
        old_size, new_size = self.size(src.oid), self.size(dst.oid)
        if too_different_in_size(old_size, new_size, minimum):
            return 0
        old_spans, new_spans = self._fingerprint(src.oid), self._fingerprint(dst.oid)
        if old_spans is None or new_spans is None:
            return 0
        return score(old_spans, new_spans, old_size, new_size)

    def _fingerprint(self, oid: str) -> Counter[int] | None:
        if oid not in self._spans:
            size = self.size(oid)
            if size > MAX_SCORED_FILE_BYTES or size > self._budget:
                self.limited = True
                return None
            self._budget -= size
            self._spans[oid] = spans(self._read(oid))
        return self._spans[oid]


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
    if len(left_sources) * len(left_destinations) > RENAME_LIMIT ** 2:
        return Renames(sorted(renames, key=lambda r: r.destination), limited=True)
    candidates: list[tuple[int, int, int, int]] = []  # (score, name_score, dst, src)
    for dst in left_destinations:
        best: list[tuple[int, int, int, int]] = []
        for src in left_sources:
            value = scorer(sources[src], destinations[dst], MINIMUM_SCORE)
            same_name = int(sources[src].basename == destinations[dst].basename)
            _record_if_better(best, (value, same_name, dst, src))
        candidates.extend(best)
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
