"""Drawing a :class:`~heater.templates.graph.Graph` as SVG with Graphviz.

Graphviz's ``dot`` program (the Debian package ``graphviz``) lays the
graph out; it is optional for ``heater serve``: without it
:class:`GraphvizMissing` says so and pages show the resource table alone.
Colours are not in the drawing: every node and cluster carries classes
(``resource``, ``parameter``, ``output``, ``added``, ``removed``,
``changed``) and the SVG carries a small stylesheet of its own for them,
light and dark.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from heater.errors import Unavailable
from heater.templates.graph import Graph, Node

# dot on a few hundred nodes takes well under a second; one that does not
# finish is stopped rather than holding a worker.
DOT_TIMEOUT = 10.0
MAX_SVG_BYTES = 8 * 1024 * 1024
MAX_LABEL = 48

STYLE = """
svg { font-family: system-ui, sans-serif; }
.node polygon, .node ellipse, .node path { fill: #ffffff; stroke: #5b6472; }
.node text { fill: #1c2330; }
.edge path { stroke: #8a93a3; }
.edge polygon { fill: #8a93a3; stroke: #8a93a3; }
.cluster polygon { fill: #f4f6fa; stroke: #b9c0cc; }
.cluster text { fill: #4a5261; }
.parameter polygon, .parameter path { fill: #eef4ff; stroke: #3d6fd1; }
.output polygon, .output path { fill: #f0faf2; stroke: #2f8a4b; }
.added polygon, .added path { fill: #dcf5e3; stroke: #1c7c3b; stroke-width: 2; }
.removed polygon, .removed path { fill: #fde2e1; stroke: #b3261e; stroke-width: 2; }
.changed polygon, .changed path { fill: #fff3cd; stroke: #9a6b00; stroke-width: 2; }
@media (prefers-color-scheme: dark) {
  .node polygon, .node ellipse, .node path { fill: #1d2430; stroke: #8d97a8; }
  .node text, .cluster text { fill: #e6e9ef; }
  .cluster polygon { fill: #151b24; stroke: #475164; }
  .parameter polygon, .parameter path { fill: #17253f; stroke: #7ea6f5; }
  .output polygon, .output path { fill: #14291b; stroke: #64c283; }
  .added polygon, .added path { fill: #173d24; stroke: #64c283; }
  .removed polygon, .removed path { fill: #4a1917; stroke: #f08a84; }
  .changed polygon, .changed path { fill: #3f3212; stroke: #e8bf5a; }
}
"""


class GraphvizMissing(Unavailable):
    """``dot`` is not installed: the picture cannot be drawn."""

    code = "graphviz_missing"

    def __init__(self) -> None:
        super().__init__("the resource graph needs Graphviz's dot program "
                         "(the Debian package graphviz), which this server lacks")


class GraphvizFailed(Unavailable):
    code = "graphviz_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Graphviz could not draw the graph: {reason}")


def dot_program() -> str | None:
    return shutil.which("dot")


def _quote(text: str) -> str:
    """A DOT string: quotes and backslashes escaped, newlines as such."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def _node(node: Node, index: dict[str, int]) -> str:
    label = _short(node.name) if not node.type else f"{_short(node.name)}\n{_short(node.type)}"
    shape = {"parameter": "cds", "output": "note"}.get(node.kind, "box")
    classes = f"{node.kind} {node.status}"
    return (f"n{index[node.id]} [label={_quote(label)} shape={shape} "
            f"class={_quote(classes)} tooltip={_quote(node.id)}];")


def to_dot(graph: Graph) -> str:
    """The DOT text of ``graph``: parameters left, outputs right, each
    nested template a cluster inside the resource that nests it."""
    index = {node.id: i for i, node in enumerate(graph.nodes)}
    children: dict[str | None, list[Node]] = {}
    for node in graph.nodes:
        children.setdefault(node.group, []).append(node)
    groups = {g.id: g for g in graph.groups}
    lines = ["digraph template {", "rankdir=LR; bgcolor=transparent;",
             'graph [fontname="sans-serif" fontsize=11];',
             'node [fontname="sans-serif" fontsize=11 style=rounded];',
             'edge [arrowsize=0.7];']

    def emit(group: str | None, depth: int) -> None:
        for node in children.get(group, []):
            nested = groups.get(node.id)
            if nested is None:
                lines.append("  " * depth + _node(node, index))
                continue
            # The nesting resource and what its template holds, boxed together.
            lines.append(f"subgraph cluster_{index[node.id]} {{")
            lines.append(f'label={_quote(_short(nested.path))}; class="group";')
            lines.append("  " * depth + _node(node, index))
            emit(node.id, depth + 1)
            lines.append("}")

    emit(None, 1)
    for source, target in sorted(graph.edges):
        if source in index and target in index:
            lines.append(f"  n{index[source]} -> n{index[target]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)


def render_svg(graph: Graph, title: str) -> str:
    """The SVG document of ``graph``, with its stylesheet and ``title``."""
    dot = dot_program()
    if dot is None:
        raise GraphvizMissing()
    try:
        done = subprocess.run([dot, "-Tsvg"], input=to_dot(graph).encode(),
                              capture_output=True, timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise GraphvizFailed(f"it took more than {DOT_TIMEOUT:.0f} s") from None
    if done.returncode != 0 or len(done.stdout) > MAX_SVG_BYTES:
        raise GraphvizFailed(done.stderr.decode(errors="replace")[-500:] or "too large")
    svg = _PROLOG.sub("", done.stdout.decode(), count=1)
    # dot's own <title> is the graph's DOT name; say what it shows instead.
    head, sep, rest = svg.partition(">")
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{head}{sep}<title>{escaped}</title>'
            f"<style>{STYLE}</style>{rest}")
