"""The resource graph of a template: edges from what Heat orders on,
nested templates as groups, and the changes between two sides."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from heater.templates.graph import Graph, Node, Status, mark_changes, template_graph
from heater.templates.graphsvg import GraphvizMissing, render_svg, to_dot
from tests.http.web.support import MONITORING, WEB_V1, WEB_V2
from tests.services.debian import ensure_packages


def tree_of(tmp_path: Path, files: dict[str, str]) -> pygit2.Tree:
    git = pygit2.init_repository(str(tmp_path), bare=True)
    builder = git.TreeBuilder()
    for path, text in files.items():
        builder.insert(path, git.create_blob(text.encode()), pygit2.enums.FileMode.BLOB)
    tree = git.get(builder.write())
    assert isinstance(tree, pygit2.Tree)
    return tree


def test_edges_follow_depends_on_get_resource_get_attr_and_get_param(tmp_path: Path) -> None:
    graph = template_graph(tree_of(tmp_path, {"template.yaml": WEB_V1,
                                              "monitoring.yaml": MONITORING}),
                           "template.yaml")
    assert {n.id for n in graph.resources()} == {
        "r:port", "r:volume", "r:server", "r:monitoring", "r:monitoring/alarm"}
    assert {("r:volume", "r:server"), ("r:port", "r:server"), ("r:server", "r:monitoring"),
            ("p:network", "r:port"), ("p:image", "r:server"), ("p:flavor", "r:server"),
            ("r:server", "o:address")} <= graph.edges
    assert [(g.id, g.path) for g in graph.groups] == [("r:monitoring", "monitoring.yaml")]
    nested = next(n for n in graph.nodes if n.id == "r:monitoring/alarm")
    assert nested.group == "r:monitoring" and nested.type == "OS::Aodh::Alarm"


def test_a_template_that_cannot_be_read_has_an_empty_graph(tmp_path: Path) -> None:
    graph = template_graph(tree_of(tmp_path, {"template.yaml": "resources: [\n"}),
                           "template.yaml")
    assert graph.nodes == [] and graph.edges == set()


def test_nesting_itself_stops(tmp_path: Path) -> None:
    loop = "heat_template_version: 2018-08-31\nresources:\n  again: {type: template.yaml}\n"
    graph = template_graph(tree_of(tmp_path, {"template.yaml": loop}), "template.yaml")
    assert [n.id for n in graph.resources()] == ["r:again"]


def test_changes_are_marked_on_both_sides(tmp_path: Path) -> None:
    old = template_graph(tree_of(tmp_path / "a", {"template.yaml": WEB_V1}),
                         "template.yaml")
    added = WEB_V2 + "  extra:\n    type: OS::Heat::None\n"
    new = template_graph(tree_of(tmp_path / "b", {
        "template.yaml": added.replace("outputs:", "resources_moved:")}), "template.yaml")
    mark_changes(old, new)
    status = {n.id: n.status for n in new.resources()}
    assert status["r:port"] is Status.CHANGED and status["r:volume"] is Status.SAME
    assert {n.id: n.status for n in old.resources()}["r:port"] is Status.CHANGED


def test_dot_text_escapes_names() -> None:
    graph = Graph("t.yaml", [Node('r:a"b', 'a"b\\', "resource", "OS::Heat::None")])
    assert 'label="a\\"b\\\\\\nOS::Heat::None"' in to_dot(graph)


def test_svg_has_a_node_per_resource(tmp_path: Path) -> None:
    ensure_packages("graphviz", program="dot")
    graph = template_graph(tree_of(tmp_path, {"template.yaml": WEB_V1}), "template.yaml")
    svg = render_svg(graph, "Resources <of> web")
    assert svg.count('class="node resource same"') == 4
    assert "<title>Resources &lt;of> web</title>" in svg
    assert "<script" not in svg


def test_without_graphviz_the_graph_says_so(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    graph = template_graph(tree_of(tmp_path, {"template.yaml": WEB_V1}), "template.yaml")
    monkeypatch.setenv("PATH", str(tmp_path))  # a server without dot
    with pytest.raises(GraphvizMissing, match="Debian package graphviz"):
        render_svg(graph, "t")
