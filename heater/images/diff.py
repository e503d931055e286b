"""What changed between two image manifests: packages added, removed,
upgraded and downgraded (ordered as the image's package manager orders
versions), and changes to os, formats and properties.

os and properties go through the general structural diff engine
(:mod:`heater.diff.structural`); the package comparison (architectures,
several installed versions, the package manager's version order) is
specific to images and stays here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from heater.diff import structural
from heater.images.pkgversions import COMPARATORS, Comparator
from heater.images.schema import package_manager

Package = tuple[str, str]  # (name, arch); arch is "" when not given


def _index(packages: object) -> dict[Package, list[str]]:
    found: dict[Package, list[str]] = defaultdict(list)
    if isinstance(packages, list):
        for item in packages:
            if isinstance(item, dict) and "name" in item and "version" in item:
                found[(str(item["name"]), str(item.get("arch", "")))].append(str(item["version"]))
    return found


def _entry(key: Package, **fields: str) -> dict[str, str]:
    entry = {"name": key[0], **({"arch": key[1]} if key[1] else {})}
    entry.update(fields)
    return entry


def diff_packages(old: object, new: object, compare: Comparator) -> dict[str, list[dict[str, str]]]:
    """Package changes, each list sorted by name.

    A package installed in several versions at once (kernels) is compared
    as a set: versions only on one side are added or removed.
    """
    before, after = _index(old), _index(new)
    result: dict[str, list[dict[str, str]]] = {
        "added": [], "removed": [], "upgraded": [], "downgraded": []}
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key, []), after.get(key, [])
        if len(was) == 1 and len(now) == 1:
            order = compare(was[0], now[0])
            if order < 0:
                result["upgraded"].append(_entry(key, **{"from": was[0], "to": now[0]}))
            elif order > 0:
                result["downgraded"].append(_entry(key, **{"from": was[0], "to": now[0]}))
            continue
        for version in sorted(set(was) - set(now)):
            result["removed"].append(_entry(key, version=version))
        for version in sorted(set(now) - set(was)):
            result["added"].append(_entry(key, version=version))
    return result


def diff_mapping(old: object, new: object) -> dict[str, Any]:
    """Keys added, removed and changed between two JSON objects, each
    group sorted by key; a key whose value changed anywhere below it is
    changed as a whole."""
    a = old if isinstance(old, Mapping) else {}
    b = new if isinstance(new, Mapping) else {}
    result: dict[str, dict[str, Any]] = {"added": {}, "removed": {}, "changed": {}}
    for change in structural.diff(a, b):
        key = change.path[0]
        if len(change.path) == 1 and change.op is not structural.Op.CHANGED:
            result[change.op.value][key] = b[key] if key in b else a[key]
        else:
            result["changed"][key] = {"from": a[key], "to": b[key]}
    return {group: dict(sorted(items.items())) for group, items in result.items()}


_SCALARS = ("image_id", "status", "disk_format", "container_format", "size", "hashes",
            "version")


def diff_manifests(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The changes from ``old`` to ``new``; packages are ordered with the
    newer manifest's package manager."""
    manager = package_manager(dict(new))
    return {
        "package_manager": manager,
        "packages": diff_packages(old.get("packages"), new.get("packages"),
                                  COMPARATORS[manager]),
        "os": diff_mapping(old.get("os"), new.get("os")),
        "properties": diff_mapping(old.get("properties"), new.get("properties")),
        "fields": {k: {"from": old.get(k), "to": new.get(k)} for k in _SCALARS
                   if old.get(k) != new.get(k)},
    }
