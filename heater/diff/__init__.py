"""Diffs: a general structural diff engine, the text diff of two commits,
the HOT-aware summary, and the compatibility verdict.

Modules, from general to specific:

* :mod:`~heater.diff.structural` — mappings and keyed lists; also for image
  manifests (``diff(before, after, keyed_lists=[KeyedList(("packages",), "name")])``).
* :mod:`~heater.diff.text` — per-file patches equal to ``git diff``.
* :mod:`~heater.diff.semantic` — parameters, resources, outputs... of HOT files;
  with :mod:`~heater.diff.getfile` (an included file's content is part of the
  value that includes it) and :mod:`~heater.diff.replacement` (update in
  place, replacement or refusal, from Heat's resource schemas).
* :mod:`~heater.diff.verdict` — major/minor/patch and version bumps.
* :mod:`~heater.diff.compare` — all of the above for two refs.
* :mod:`~heater.diff.policy` — ``check_version_bump`` for new version tags.
"""

from heater.diff.compare import Comparison, RefComparison, compare_commits, compare_refs
from heater.diff.policy import VersionBumpTooSmall, check_version_bump
from heater.diff.structural import MISSING, Change, KeyedList, Op, diff
from heater.diff.verdict import Impact, VersionCheck

__all__ = [
    "MISSING",
    "Change",
    "Comparison",
    "Impact",
    "KeyedList",
    "Op",
    "RefComparison",
    "VersionBumpTooSmall",
    "VersionCheck",
    "check_version_bump",
    "compare_commits",
    "compare_refs",
    "diff",
]
