"""A general structural diff of two documents (mappings, lists, scalars).

Used for HOT templates and environments (:mod:`heater.diff.semantic`) and for
image manifests (``os``, ``properties``, ``packages``). The contract:

* :func:`diff` walks ``before`` and ``after`` together and returns one
  :class:`Change` per difference, in document order: at each level, what
  was removed (in ``before``'s order), then the rest (in ``after``'s).
* Mappings are compared key by key: a key only on one side is one ``added``
  or ``removed`` change holding the whole value; a key on both sides is
  compared recursively.
* A list named in ``keyed_lists`` is compared item by item, items matched by
  the value of a key field (``[{"name": "openssl", "version": "3.0"}]`` keyed
  by ``name``): the item's path component is that key value, so
  ``("packages", "openssl", "version")`` is the version of package openssl.
  If any item is not a mapping, lacks the key, or repeats a key value, the
  list falls back to the rule for other lists.
* Every other list is one value: if the two lists differ at all, that is one
  ``changed`` change at the list's path. (Positional diffs of lists mostly
  say "everything moved"; a whole-value change says what happened.)
* Scalars are equal only if they have the same type and value: YAML's
  ``1`` and ``true`` (equal in Python) are a change.

``Change.path`` is a tuple of mapping keys (and keyed-list key values)
leading from the document root to the changed node.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from heater.templates.yamlload import jsonable

Path = tuple[Any, ...]


class Op(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class _Missing:
    """The value on the side where a node does not exist."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """One difference: ``before`` is :data:`MISSING` for an added node,
    ``after`` is :data:`MISSING` for a removed one."""

    op: Op
    path: Path
    before: Any
    after: Any

    def relative_to(self, prefix: Path) -> Path:
        """The path below ``prefix`` (which must be a prefix of ``path``)."""
        assert self.path[: len(prefix)] == prefix
        return self.path[len(prefix):]

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op.value, "path": jsonable(list(self.path))}
        if self.before is not MISSING:
            out["before"] = jsonable(self.before)
        if self.after is not MISSING:
            out["after"] = jsonable(self.after)
        return out


@dataclass(frozen=True)
class KeyedList:
    """Lists at paths matching ``pattern`` are keyed by the field ``key``.

    ``pattern`` is a path whose components are matched with
    :func:`fnmatch.fnmatchcase` against the string form of each path
    component, so ``("packages",)`` names the top-level list and
    ``("*", "packages")`` a list one level down under any key.
    """

    pattern: tuple[str, ...]
    key: str

    def matches(self, path: Path) -> bool:
        return len(path) == len(self.pattern) and all(
            fnmatch.fnmatchcase(str(part), pattern) for part, pattern in zip(path, self.pattern,
                                                                             strict=True))


def diff(before: Any, after: Any, *, keyed_lists: Sequence[KeyedList] = (),
         path: Path = ()) -> list[Change]:
    """Every difference between ``before`` and ``after`` (see the module doc).

    ``path`` is prepended to every change's path, for diffing a subtree
    in place. Iterative, so nesting depth never matters.
    """
    return list(_walk(before, after, tuple(keyed_lists), path))


def same(a: Any, b: Any) -> bool:
    """Deep equality that tells ``1``, ``1.0`` and ``true`` apart."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, Mapping):
            if x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y, strict=True))
        elif x is not y and x != y:
            return False
    return True


def _walk(before: Any, after: Any, rules: tuple[KeyedList, ...],
          root: Path) -> Iterator[Change]:
    # A stack of finished changes and comparisons still to make; children
    # are pushed in reverse so that they come out in document order.
    stack: list[Change | tuple[Any, Any, Path]] = [(before, after, root)]
    while stack:
        item = stack.pop()
        if isinstance(item, Change):
            yield item
            continue
        old, new, path = item
        children: list[Change | tuple[Any, Any, Path]]
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            children = _pair_mapping(old, new, path)
        elif isinstance(old, list) and isinstance(new, list):
            relative = path[len(root):]
            key = next((rule.key for rule in rules if rule.matches(relative)), None)
            old_items, new_items = _index(old, key), _index(new, key)
            if old_items is None or new_items is None:
                if not same(old, new):
                    yield Change(Op.CHANGED, path, old, new)
                continue
            children = _pair_mapping(old_items, new_items, path)
        else:
            if not same(old, new):
                yield Change(Op.CHANGED, path, old, new)
            continue
        stack.extend(reversed(children))


def _pair_mapping(old: Mapping[Any, Any], new: Mapping[Any, Any],
                  path: Path) -> list[Change | tuple[Any, Any, Path]]:
    out: list[Change | tuple[Any, Any, Path]] = []
    for key, value in old.items():
        if key not in new:
            out.append(Change(Op.REMOVED, (*path, key), value, MISSING))
    for key, value in new.items():
        if key in old:
            out.append((old[key], value, (*path, key)))
        else:
            out.append(Change(Op.ADDED, (*path, key), MISSING, value))
    return out


def _index(items: list[Any], key: str | None) -> dict[Any, Any] | None:
    """The list as a mapping from each item's key value, or None if it is not one."""
    if key is None:
        return None
    out: dict[Any, Any] = {}
    for item in items:
        if not isinstance(item, Mapping) or key not in item:
            return None
        value = item[key]
        if isinstance(value, (Mapping, list)) or value in out:
            return None
        out[value] = item
    return out
