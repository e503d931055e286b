"""The HOT-aware summary of a changed template or environment file.

Each :class:`Entry` is one fact a reader (or a page) can point at: a
section, a name in it, what happened, the path in the document, and its
:class:`~heater.diff.verdict.Impact` with the reason. The rules:

Entry point (the template callers deploy):
  parameters  removed: major; added without a default: major; added with
              one: minor; type changed: major; constraints narrowed: major,
              widened: minor; default removed: major, added: minor;
              anything else (default value, label, description, hidden): patch
  outputs     removed: major; added: minor; changed: patch
Any template:
  resources   type changed (Heat replaces it): major; removed (the stack
              update deletes it): major; added: minor; a changed property
              for which Heat's schema says it replaces the resource, or
              refuses the update (immutable; see
              :mod:`heater.diff.replacement`): major, ``replaced`` or
              ``refused``, each cause listed; any other change (Heat
              updates in place): patch, with the changed paths listed;
              each entry says, for every changed property (and a changed
              type), what Heat does about it (``updates``)
  get_file    the content of an included file is part of the value that
              includes it (:mod:`heater.diff.getfile`): when only the
              content changed, each resource property that includes the
              file is an entry of its own ("via get_file <file>"), judged
              as a change of that property; a file that is gone: major
              (Heat cannot read it). The comparison adds the templates
              that include a changed file even when their text is unchanged.
  conditions  added: minor; removed or changed: patch
  parameter_groups, description: patch
  heat_template_version  raised (needs a newer Heat): minor; lowered: patch
Nested templates: parameter and output changes are capped at minor, since
their caller is the parent template, which changes with them.
Environments: a key added to a section: minor; removed or changed: patch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from heater.diff.getfile import FileRef, included_file
from heater.diff.replacement import Outcome, UpdateImpact, property_change, type_change
from heater.diff.structural import MISSING, Change, KeyedList, Op, Path, diff, same
from heater.diff.verdict import Impact
from heater.templates.hot import KNOWN_VERSIONS, FileKind, Template, classify
from heater.templates.yamlload import jsonable

# Release names Heat accepts for heat_template_version, as the dates they stand for.
_RELEASE_DATES = {"newton": "2016-10-14", "ocata": "2017-02-24", "pike": "2017-09-01",
                  "queens": "2018-03-02", "rocky": "2018-08-31", "wallaby": "2021-04-16"}
_CONSTRAINT_KINDS = ("range", "length", "modulo", "allowed_values", "allowed_pattern",
                     "custom_constraint")
_GROUPS_BY_LABEL = (KeyedList((), "label"),)  # the list is the root of its diff


@dataclass(frozen=True)
class Cause:
    """A change that makes Heat replace a resource, or refuse to update it."""

    path: Path
    because: str


@dataclass(frozen=True)
class Update:
    """What Heat does about one changed property (or type) of a resource."""

    path: Path
    outcome: Outcome
    because: str

    def as_json(self) -> dict[str, Any]:
        return {"path": jsonable(list(self.path)), "outcome": str(self.outcome),
                "because": self.because}


@dataclass(frozen=True)
class Entry:
    section: str
    name: str | None
    change: str  # "added" | "removed" | "changed" | "replaced" | "refused"
    path: Path
    impact: Impact
    reason: str
    before: Any = MISSING
    after: Any = MISSING
    changes: tuple[Change, ...] = ()
    # Set on "replaced" and "refused" resource entries.
    causes: tuple[Cause, ...] = ()
    # Set on changed resources: every changed property's outcome.
    updates: tuple[Update, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"section": self.section, "name": self.name,
                               "change": self.change, "path": jsonable(list(self.path)),
                               "impact": str(self.impact), "reason": self.reason}
        if self.before is not MISSING:
            out["before"] = jsonable(self.before)
        if self.after is not MISSING:
            out["after"] = jsonable(self.after)
        if self.changes:
            out["changed_paths"] = [jsonable(list(c.relative_to(self.path)))
                                    for c in self.changes]
            out["changes"] = [c.as_json() for c in self.changes]
        if self.updates:
            out["updates"] = [u.as_json() for u in self.updates]
        return out


@dataclass
class FileSummary:
    """The semantic changes of one file; ``role`` is ``entrypoint``,
    ``nested`` or ``environment``."""

    path: str
    old_path: str | None
    kind: str
    role: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def impact(self) -> Impact:
        return max((e.impact for e in self.entries), default=Impact.NONE)

    def causes(self, change: str) -> list[dict[str, Any]]:
        """Why each resource whose entries are ``change`` (``replaced`` or
        ``refused``) is so, one item per cause."""
        return [{"resource": e.name, "path": jsonable(list(c.path)), "because": c.because}
                for e in self.entries if e.change == change for c in e.causes]

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "old_path": self.old_path, "file_kind": self.kind,
                "role": self.role, "impact": str(self.impact),
                "entries": [e.as_json() for e in self.entries],
                "replaced": self.causes("replaced"), "refused": self.causes("refused")}


def summarize(old: Any, new: Any, *, entrypoint: bool) -> tuple[str, list[Entry]]:
    """The kind of file (template or environment) and its entries; ``old``
    or ``new`` is :data:`MISSING` when the file does not exist (as a
    template or environment) on that side."""
    old_kind = classify(old) if old is not MISSING else FileKind.OTHER
    new_kind = classify(new) if new is not MISSING else FileKind.OTHER
    kind = new_kind if new_kind is not FileKind.OTHER else old_kind
    if kind is FileKind.OTHER:
        return kind.value, []
    if old_kind is not new_kind:
        return kind.value, _file_entries(old_kind, new_kind, entrypoint)
    if kind is FileKind.TEMPLATE:
        return kind.value, template_entries(Template.from_data(old), Template.from_data(new),
                                            entrypoint=entrypoint)
    return kind.value, environment_entries(old, new)


def _file_entries(old: FileKind, new: FileKind, entrypoint: bool) -> list[Entry]:
    entries = []
    if old is not FileKind.OTHER:
        major = old is FileKind.TEMPLATE and entrypoint
        entries.append(Entry("file", None, "removed", (), Impact.MAJOR if major else Impact.PATCH,
                             "the entry point is gone or no longer a template" if major
                             else f"no longer a {old.value}"))
    if new is not FileKind.OTHER:
        entries.append(Entry("file", None, "added", (), Impact.MINOR, f"a new {new.value}"))
    return entries


# -- templates ---------------------------------------------------------------

def template_entries(old: Template, new: Template, *, entrypoint: bool) -> list[Entry]:
    entries: list[Entry] = []
    entries += _version_entries(old.version, new.version)
    if old.description != new.description:
        entries.append(Entry("description", None, "changed", ("description",), Impact.PATCH,
                             "description changed", old.description, new.description))
    cap = Impact.MAJOR if entrypoint else Impact.MINOR
    entries += _capped(_parameter_entries(old.parameters, new.parameters), cap)
    for change in diff(old.parameter_groups, new.parameter_groups, keyed_lists=_GROUPS_BY_LABEL,
                       path=("parameter_groups",)):
        entries.append(_plain("parameter_groups", change, Impact.PATCH,
                              "parameter groups only change how a form is laid out"))
    entries += _resource_entries(old.resources, new.resources)
    entries += _capped(_named_entries("outputs", old.outputs, new.outputs, _output_rules), cap)
    entries += _named_entries("conditions", old.conditions, new.conditions, _condition_rules)
    return entries


def _capped(entries: Iterable[Entry], cap: Impact) -> list[Entry]:
    out = []
    for entry in entries:
        if entry.impact > cap:
            entry = Entry(entry.section, entry.name, entry.change, entry.path, cap,
                          entry.reason + " (in a nested template, whose parent is its caller)",
                          entry.before, entry.after, entry.changes)
        out.append(entry)
    return out


def _plain(section: str, change: Change, impact: Impact, reason: str) -> Entry:
    name = str(change.path[1]) if len(change.path) > 1 else None
    return Entry(section, name, change.op.value, change.path, impact, reason,
                 change.before, change.after)


def _version_entries(old: str | None, new: str | None) -> list[Entry]:
    if old == new:
        return []
    raised = _version_date(new) > _version_date(old)
    return [Entry("heat_template_version", None, "changed", ("heat_template_version",),
                  Impact.MINOR if raised else Impact.PATCH,
                  "a newer template version needs a newer Heat" if raised
                  else "template version changed", old, new)]


def _version_date(version: str | None) -> str:
    if version is None or version not in KNOWN_VERSIONS:
        return ""
    return _RELEASE_DATES.get(version, version)


def _parameter_entries(old: dict[str, dict[str, Any]],
                       new: dict[str, dict[str, Any]]) -> list[Entry]:
    entries = []
    for name, spec in old.items():
        if name not in new:
            entries.append(Entry("parameters", name, "removed", ("parameters", name),
                                 Impact.MAJOR, "callers that pass it are refused", before=spec))
    for name, spec in new.items():
        path = ("parameters", name)
        if name not in old:
            if "default" in spec:
                entries.append(Entry("parameters", name, "added", path, Impact.MINOR,
                                     "new parameter with a default", after=spec))
            else:
                entries.append(Entry("parameters", name, "added", path, Impact.MAJOR,
                                     "new parameter without a default: callers must pass it",
                                     after=spec))
            continue
        before = old[name]
        for attribute in [*before, *(k for k in spec if k not in before)]:
            a, b = before.get(attribute, MISSING), spec.get(attribute, MISSING)
            if same(a, b):
                continue
            impact, reason = _attribute_impact(attribute, a, b)
            change = "added" if a is MISSING else "removed" if b is MISSING else "changed"
            entries.append(Entry("parameters", name, change, (*path, attribute), impact,
                                 reason, a, b))
    return entries


def _attribute_impact(attribute: str, old: Any, new: Any) -> tuple[Impact, str]:
    if attribute == "type":
        return Impact.MAJOR, "type changed: values callers pass may no longer fit"
    if attribute == "constraints":
        return constraints_impact(old, new)
    if attribute == "default":
        if new is MISSING:
            return Impact.MAJOR, "default removed: callers that relied on it must now pass it"
        if old is MISSING:
            return Impact.MINOR, "default added: callers may now leave it out"
        return Impact.PATCH, "default value changed"
    return Impact.PATCH, f"{attribute} changed"


def constraints_impact(old: Any, new: Any) -> tuple[Impact, str]:
    """MAJOR if ``new`` may refuse a value ``old`` accepted, MINOR if it only
    accepts more, PATCH if only descriptions changed. A change that cannot
    be judged (a new pattern, a custom constraint) counts as narrowing."""
    narrowed = widened = False
    olds, news = _constraints_by_kind(old), _constraints_by_kind(new)
    for kind in [*olds, *(k for k in news if k not in olds)]:
        a, b = olds.get(kind, []), news.get(kind, [])
        narrowed |= len(b) > len(a)
        widened |= len(a) > len(b)
        for x, y in zip(a, b, strict=False):
            n, w = _compare_constraint(kind, x, y)
            narrowed |= n
            widened |= w
    if narrowed:
        return Impact.MAJOR, "constraints narrowed: values accepted before may be refused"
    if widened:
        return Impact.MINOR, "constraints widened: more values are accepted"
    return Impact.PATCH, "constraint descriptions changed"


def _constraints_by_kind(value: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for constraint in value if isinstance(value, list) else []:
        if not isinstance(constraint, dict):
            out.setdefault(repr(constraint), []).append(constraint)
            continue
        kinds = [k for k in constraint if k != "description"] or ["description"]
        for kind in kinds:
            out.setdefault(str(kind), []).append(constraint[kind])
    return out


def _compare_constraint(kind: str, old: Any, new: Any) -> tuple[bool, bool]:
    """(narrowed, widened) for two constraints of one kind."""
    if same(old, new):
        return False, False
    if kind in ("range", "length") and isinstance(old, dict) and isinstance(new, dict):
        try:
            return _bounds(old, new)
        except TypeError:
            return True, False
    if kind == "allowed_values" and isinstance(old, list) and isinstance(new, list):
        return (any(v not in new for v in old), any(v not in old for v in new))
    return True, False


def _bounds(old: dict[str, Any], new: dict[str, Any]) -> tuple[bool, bool]:
    narrowed = widened = False
    for bound, sign in (("min", 1), ("max", -1)):
        a, b = old.get(bound), new.get(bound)
        if a == b:
            continue
        if a is None:
            narrowed = True
        elif b is None:
            widened = True
        elif (b - a) * sign > 0:  # a higher min or a lower max
            narrowed = True
        else:
            widened = True
    return narrowed, widened


def _resource_entries(old: dict[str, dict[str, Any]],
                      new: dict[str, dict[str, Any]]) -> list[Entry]:
    entries = []
    for name, spec in old.items():
        if name not in new:
            entries.append(Entry("resources", name, "removed", ("resources", name), Impact.MAJOR,
                                 "the stack update deletes it", before=spec))
    for name, spec in new.items():
        path = ("resources", name)
        if name not in old:
            entries.append(Entry("resources", name, "added", path, Impact.MINOR,
                                 "new resource", after=spec))
            continue
        changes = tuple(diff(old[name], spec, path=path))
        if not changes:
            continue
        old_type, new_type = old[name].get("type"), spec.get("type")
        moved = type_change(old_type, new_type) if not same(old_type, new_type) else None
        if moved is not None and moved.outcome is Outcome.REPLACE:
            entries.append(Entry("resources", name, "replaced", path, Impact.MAJOR,
                                 moved.because, old_type, new_type, changes,
                                 (Cause((*path, "type"), moved.because),),
                                 (Update((*path, "type"), moved.outcome, moved.because),)))
        else:
            entries += _changed_resource(name, old[name], spec, changes)
    return entries


def _changed_resource(name: str, old: dict[str, Any], new: dict[str, Any],
                      changes: tuple[Change, ...]) -> list[Entry]:
    """The changes written in the template, as one entry for the resource;
    then one entry per property that includes a file whose content changed."""
    entries = []
    rtype, old_props, new_props = new.get("type"), _properties_of(old), _properties_of(new)
    written = tuple(c for c in changes if included_file(c) is None)
    if written:
        path = ("resources", name)
        judged: list[tuple[Path, UpdateImpact]] = [
            ((*path, "properties", p), property_change(rtype, p, old_props, new_props))
            for p in _touched(written, old, new)]
        if not same(old.get("type"), rtype):  # a type Heat substitutes in place
            judged.insert(0, ((*path, "type"), type_change(old.get("type"), rtype)))
        entries.append(_heat_entry(name, path, judged, "", written))
    by_node: dict[Path, list[tuple[Change, FileRef]]] = {}
    for change in changes:
        if (file := included_file(change)) is not None:
            # The property that includes the file (its node, outside properties).
            node = change.path[:4] if change.path[2:3] == ("properties",) else change.path
            by_node.setdefault(node, []).append((change, file))
    for node, included in by_node.items():
        files = ", ".join(sorted({f.path for _, f in included}))
        found = tuple(c for c, _ in included)
        if any(f.blob is None for _, f in included):
            entries.append(Entry("resources", name, "changed", node, Impact.MAJOR,
                                 f"via get_file {files}, which is gone: Heat cannot read it, "
                                 "so the template no longer deploys", changes=found))
            continue
        prop = node[3] if len(node) > 3 and node[2] == "properties" else None
        impact = property_change(rtype, prop, old_props, new_props) if prop is not None \
            else UpdateImpact(Outcome.UPDATE, "Heat updates the resource in place")
        entries.append(_heat_entry(name, node, [(node, impact)],
                                   f"via get_file {files}, whose content changed", found))
    return entries


def _heat_entry(name: str, path: Path, judged: list[tuple[Path, UpdateImpact]],
                prefix: str, changes: tuple[Change, ...]) -> Entry:
    """One entry for what Heat does about the changes of a resource at
    ``judged`` (property paths, each with its outcome): it refuses the
    update if any property is immutable, replaces the resource if any
    change needs it, and updates it in place otherwise."""
    updates = tuple(Update(p, i.outcome, i.because) for p, i in judged)
    for outcome, change in ((Outcome.REFUSE, "refused"), (Outcome.REPLACE, "replaced")):
        causes = tuple(Cause(p, i.because) for p, i in judged if i.outcome is outcome)
        if causes:
            what = prefix or f"{', '.join(str(c.path[-1]) for c in causes)} changed"
            return Entry("resources", name, change, path, Impact.MAJOR,
                         f"{what}: {causes[0].because}", changes=changes, causes=causes,
                         updates=updates)
    because = judged[0][1].because if len(judged) == 1 else "Heat updates the resource in place"
    return Entry("resources", name, "changed", path, Impact.PATCH,
                 f"{prefix or 'resource definition changed'}: {because}", changes=changes,
                 updates=updates)


def _properties_of(spec: dict[str, Any]) -> dict[str, Any]:
    props = spec.get("properties")
    return props if isinstance(props, dict) else {}


def _touched(changes: Iterable[Change], old: dict[str, Any], new: dict[str, Any]) -> list[Any]:
    """The names of the properties that ``changes`` (of one resource) touch,
    in order; every differing one when the whole properties mapping changed."""
    out: list[Any] = []
    old_props, new_props = _properties_of(old), _properties_of(new)
    for change in changes:
        below = change.path[2:]
        if below[:1] != ("properties",):
            continue
        names = [below[1]] if len(below) > 1 else [
            k for k in [*old_props, *(k for k in new_props if k not in old_props)]
            if not same(old_props.get(k, MISSING), new_props.get(k, MISSING))]
        out += [n for n in names if n not in out]
    return out


Rules = Callable[[str], tuple[Impact, str]]


def _output_rules(change: str) -> tuple[Impact, str]:
    return {"removed": (Impact.MAJOR, "callers that read it get nothing"),
            "added": (Impact.MINOR, "new output")}.get(change, (Impact.PATCH, "output changed"))


def _condition_rules(change: str) -> tuple[Impact, str]:
    return {"added": (Impact.MINOR, "new condition")}.get(change,
                                                          (Impact.PATCH, f"condition {change}"))


def _named_entries(section: str, old: dict[str, Any], new: dict[str, Any],
                   rules: Rules) -> list[Entry]:
    """One entry per name added, removed or changed in a mapping section."""
    entries = []
    for name, value in old.items():
        if name not in new:
            impact, reason = rules("removed")
            entries.append(Entry(section, name, "removed", (section, name), impact, reason,
                                 before=value))
    for name, value in new.items():
        path = (section, name)
        if name not in old:
            impact, reason = rules("added")
            entries.append(Entry(section, name, "added", path, impact, reason, after=value))
            continue
        changes = tuple(diff(old[name], value, path=path))
        if changes:
            impact, reason = rules("changed")
            files = sorted({f.path for c in changes if (f := included_file(c)) is not None})
            if files:
                reason += f" (via get_file {', '.join(files)})"
            entries.append(Entry(section, name, "changed", path, impact, reason,
                                 changes=changes))
    return entries


# -- environments --------------------------------------------------------------

def environment_entries(old: Any, new: Any) -> list[Entry]:
    entries = []
    for change in diff(old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}):
        section = str(change.path[0]) if change.path else "environment"
        if change.op is Op.ADDED and len(change.path) == 1 and isinstance(change.after, dict):
            # A whole new section: one entry per key, so each can be pointed at.
            for key, value in change.after.items():
                entries.append(Entry(section, str(key), "added", (*change.path, key),
                                     Impact.MINOR, "added to the environment", after=value))
            continue
        impact = Impact.MINOR if change.op is Op.ADDED else Impact.PATCH
        entries.append(_plain(section, change, impact, f"environment entry {change.op.value}"))
    return entries
