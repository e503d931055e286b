"""A template's resources and how they depend on each other, as a graph.

Edges follow what Heat orders on: ``depends_on``, ``get_resource`` and
``get_attr`` (the resource named is created first, so the edge runs from
it to the one that uses it); parameters lead into the resources that read
them (``get_param``) and resources into the outputs that read them. A
resource whose ``type`` is a template of the repository (a nested
template, also inside a ResourceGroup's ``resource_def`` or an
AutoScalingGroup's ``resource``) holds that template's resources as a
group, read the same way, to a bounded depth.

The graph is data; :mod:`heater.templates.graphsvg` draws it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from heater.templates.hot import Template, references
from heater.templates.parsed import mapping_at

# Deeper or wider nesting is drawn as the resource alone: a picture of
# hundreds of nested templates helps nobody, and reading them costs.
MAX_DEPTH = 3
MAX_NESTED = 30


class Status(enum.StrEnum):
    """How a resource compares with the other side of a comparison."""

    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass
class Node:
    id: str  # unique in the graph: the group's path, then the name
    name: str
    kind: str  # "resource" | "parameter" | "output"
    type: str = ""
    group: str | None = None  # the id of the nested resource holding it
    status: Status = Status.SAME
    definition: Any = None  # what a comparison compares


@dataclass
class Group:
    id: str  # the id of the resource whose type is the nested template
    path: str  # the nested template's file


@dataclass
class Graph:
    entrypoint: str
    nodes: list[Node] = field(default_factory=list)
    edges: set[tuple[str, str]] = field(default_factory=set)
    groups: list[Group] = field(default_factory=list)

    def resources(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "resource"]


def template_graph(tree: pygit2.Tree, entrypoint: str, repo_path: Path | None = None) -> Graph:
    """The graph of the template at ``entrypoint`` in ``tree`` (empty when
    it cannot be read: the template page lists the problems); large
    documents are read as parsed in the repository at ``repo_path``."""
    def load(path: str) -> dict[Any, Any] | None:
        return mapping_at(tree, path, repo_path)

    graph = Graph(entrypoint)
    data = load(entrypoint)
    if data is None:
        return graph
    template = Template.from_data(data)
    for name in template.parameters:
        graph.nodes.append(Node(f"p:{name}", name, "parameter"))
    _add_resources(graph, load, entrypoint, data, None, 0, {entrypoint})
    for name, spec in template.outputs.items():
        node_id = f"o:{name}"
        graph.nodes.append(Node(node_id, name, "output", definition=spec))
        for used in _resources_used(spec.get("value")):
            if f"r:{used}" in _ids(graph):
                graph.edges.add((f"r:{used}", node_id))
    return graph


def mark_changes(old: Graph, new: Graph) -> None:
    """Set each resource's :class:`Status` on both sides of a comparison:
    ``added`` (only in ``new``), ``removed`` (only in ``old``), ``changed``
    (its definition differs)."""
    before = {n.id: n for n in old.resources()}
    after = {n.id: n for n in new.resources()}
    for node_id, node in after.items():
        if node_id not in before:
            node.status = Status.ADDED
        elif before[node_id].definition != node.definition:
            node.status = before[node_id].status = Status.CHANGED
    for node_id, node in before.items():
        if node_id not in after:
            node.status = Status.REMOVED


def _ids(graph: Graph) -> set[str]:
    return {n.id for n in graph.nodes}


def _add_resources(graph: Graph, load: Callable[[str], Any], path: str, data: Any,
                   group: str | None, depth: int, seen: set[str]) -> None:
    template = Template.from_data(data)
    prefix = f"{group}/" if group else "r:"
    nested = {r.keys[1]: r.resolved for r in references(data, path)
              if r.kind == "type" and r.resolved is not None and len(r.keys) > 1}
    for name, spec in template.resources.items():
        node_id = f"{prefix}{name}"
        graph.nodes.append(Node(node_id, name, "resource", str(spec.get("type", "")),
                                group, definition=spec))
        for param in _params_used(spec):
            if group is None and param in template.parameters:
                graph.edges.add((f"p:{param}", node_id))
        for used in sorted(_resources_used(spec) | _depends_on(spec)):
            if used in template.resources and used != name:
                graph.edges.add((f"{prefix}{used}", node_id))
        target = nested.get(name)
        if (target is not None and depth < MAX_DEPTH and target not in seen
                and len(graph.groups) < MAX_NESTED):
            child = load(target)
            if child is not None:
                graph.groups.append(Group(node_id, target))
                _add_resources(graph, load, target, child, node_id, depth + 1,
                               seen | {target})


def _depends_on(spec: dict[str, Any]) -> set[str]:
    value = spec.get("depends_on")
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {v for v in value if isinstance(v, str)}
    return set()


def _calls(node: Any, function: str) -> Iterator[Any]:
    """The argument of every ``{function: argument}`` below ``node``."""
    stack = [node]
    while stack:  # iterative: the depth of a document never matters here
        value = stack.pop()
        if isinstance(value, dict):
            if len(value) == 1 and function in value:
                yield value[function]
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _first(argument: Any) -> str | None:
    """The name a call names: the argument itself, or its first item."""
    if isinstance(argument, list) and argument:
        argument = argument[0]
    return argument if isinstance(argument, str) else None


def _resources_used(node: Any) -> set[str]:
    found = {_first(a) for a in _calls(node, "get_resource")}
    found |= {_first(a) for a in _calls(node, "get_attr")}
    return {name for name in found if name is not None}


def _params_used(node: Any) -> set[str]:
    return {name for name in map(_first, _calls(node, "get_param")) if name is not None}
