"""The general structural diff engine."""

from __future__ import annotations

import json
from typing import Any

from heater.diff.structural import MISSING, Change, KeyedList, Op, diff, same

PACKAGES = (KeyedList(("packages",), "name"),)


def ops(changes: list[Change]) -> list[tuple[str, tuple[Any, ...]]]:
    return [(c.op.value, c.path) for c in changes]


def test_equal_documents_have_no_changes() -> None:
    doc = {"a": [1, {"b": None}], "c": {"d": "x"}}
    assert diff(doc, {"c": {"d": "x"}, "a": [1, {"b": None}]}) == []


def test_mappings_added_removed_changed_with_paths() -> None:
    changes = diff({"os": {"distro": "ubuntu", "version": "22.04"}, "gone": 1},
                   {"os": {"distro": "ubuntu", "version": "24.04"}, "new": {"x": 1}})
    assert changes == [
        Change(Op.REMOVED, ("gone",), 1, MISSING),
        Change(Op.CHANGED, ("os", "version"), "22.04", "24.04"),
        Change(Op.ADDED, ("new",), MISSING, {"x": 1}),
    ]
    assert changes[0].as_json() == {"op": "removed", "path": ["gone"], "before": 1}
    assert changes[2].as_json() == {"op": "added", "path": ["new"], "after": {"x": 1}}


def test_keyed_lists_pair_items_by_name() -> None:
    before = {"packages": [{"name": "openssl", "version": "3.0.2"},
                           {"name": "bash", "version": "5.1"}]}
    after = {"packages": [{"name": "curl", "version": "8.0"},
                          {"name": "openssl", "version": "3.0.13"}]}
    changes = diff(before, after, keyed_lists=PACKAGES)
    # Removals first, then the rest in the new document's order.
    assert ops(changes) == [("removed", ("packages", "bash")),
                            ("added", ("packages", "curl")),
                            ("changed", ("packages", "openssl", "version"))]
    assert changes[2].before == "3.0.2" and changes[2].after == "3.0.13"
    # Reordering a keyed list is no change.
    assert diff(before, {"packages": before["packages"][::-1]}, keyed_lists=PACKAGES) == []


def test_patterns_match_any_key_and_depth_is_exact() -> None:
    rules = (KeyedList(("groups", "*", "members"), "id"),)
    before = {"groups": {"g": {"members": [{"id": 1, "role": "a"}]}}}
    after = {"groups": {"g": {"members": [{"id": 1, "role": "b"}]}}}
    assert ops(diff(before, after, keyed_lists=rules)) == [
        ("changed", ("groups", "g", "members", 1, "role"))]
    # A diff of a subtree in place: patterns are relative to where it starts.
    nested = diff(before["groups"], after["groups"], keyed_lists=(
        KeyedList(("*", "members"), "id"),), path=("groups",))
    assert ops(nested) == [("changed", ("groups", "g", "members", 1, "role"))]


def test_unkeyable_lists_are_one_value() -> None:
    # Duplicate key, missing key, non-mapping item: the whole list changed.
    for old, new in (([{"name": "a"}, {"name": "a"}], [{"name": "a"}]),
                     ([{"name": "a"}], [{"version": "1"}]),
                     ([{"name": "a"}], ["a"])):
        assert ops(diff({"packages": old}, {"packages": new}, keyed_lists=PACKAGES)) == [
            ("changed", ("packages",))]
    assert ops(diff({"l": [1, 2]}, {"l": [2, 1]})) == [("changed", ("l",))]


def test_types_matter() -> None:
    assert ops(diff({"n": 1}, {"n": True})) == [("changed", ("n",))]
    assert ops(diff({"n": 1}, {"n": 1.0})) == [("changed", ("n",))]
    assert ops(diff({"n": {"a": 1}}, {"n": [1]})) == [("changed", ("n",))]
    assert not same([1], [True]) and same({"a": [1]}, {"a": [1]})


def test_deep_documents_do_not_recurse() -> None:
    before: Any = "leaf"
    after: Any = "other"
    for _ in range(5000):
        before, after = {"k": before}, {"k": after}
    [change] = diff(before, after)
    assert len(change.path) == 5000 and change.after == "other"


def test_json_form_holds_only_json() -> None:
    change = Change(Op.CHANGED, ("k",), {b"raw": {1, 2}}, {"when": complex(1, 2)})
    assert json.loads(json.dumps(change.as_json())) == {
        "op": "changed", "path": ["k"], "before": {"b'raw'": [1, 2]},
        "after": {"when": "(1+2j)"}}
