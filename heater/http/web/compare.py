"""Comparing two refs of a template: the HOT-aware summary and verdict
first, then the file diffs; and the resource graph as SVG, alone or as
either side of a comparison (resources coloured by what changed)."""

from __future__ import annotations

from flask import Response, request

from heater.auth.policy import WrongKind
from heater.catalog.listing import InvalidListing
from heater.errors import MissingField
from heater.http.context import registry
from heater.http.web.base import bp, page, web_caller
from heater.http.web.image import image_compare
from heater.names import RepoId
from heater.templates.graphsvg import render_svg
from heater.templates.pages import TemplatePages
from heater.templates.service import Templates

VIEWS = ("unified", "split")
SIDES = ("from", "to")
# The SVG is a document of its own: its stylesheet is inline, nothing else is.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _choice(name: str, choices: tuple[str, ...]) -> str:
    value = request.args.get(name) or choices[0]
    if value not in choices:
        raise InvalidListing(name, f"must be one of {', '.join(choices)}, not {value!r}")
    return value


@bp.get("/<repo:namespace>/<repo:name>/compare")
def compare_page(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    old, new = request.args.get("from", ""), request.args.get("to", "")
    view = _choice("view", VIEWS)
    if not (old and new):
        try:
            info, versions, branches, _default = TemplatePages(registry()).refs(
                web_caller(), repo)
        except WrongKind:
            return page("image_compare.html", title=f"Compare · {repo}", repo=repo,
                        old=None, new=None, changes=None, from_ref=old, to_ref=new)
        return page("compare.html", title=f"Compare · {repo}", repo=repo, result=None,
                    info=info, versions=versions, branches=branches, from_ref=old,
                    to_ref=new, view=view)
    try:
        info, result = Templates(registry()).diff(web_caller(), repo, old, new)
    except WrongKind:
        return image_compare(repo, old, new)
    return page("compare.html", title=f"Compare {old}…{new} · {repo}", repo=repo,
                info=info, result=result.as_json(), versions=[], branches=[],
                from_ref=old, to_ref=new, view=view)


@bp.get("/<repo:namespace>/<repo:name>/graph.svg")
def graph_svg(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    pages = TemplatePages(registry())
    if request.args.get("side"):
        side = _choice("side", SIDES)
        old, new = request.args.get("from", ""), request.args.get("to", "")
        if not (old and new):
            raise MissingField("from" if not old else "to",
                               "a side of a comparison needs from and to")
        graphs = pages.compared_graphs(web_caller(), repo, old, new)
        graph = graphs[SIDES.index(side)]
        title = f"{repo} at {old if side == 'from' else new}, compared"
    else:
        resolved, graph = pages.graph(web_caller(), repo, request.args.get("ref") or None)
        title = f"{repo} at {resolved.ref} ({resolved.sha[:12]})"
    svg = render_svg(graph, f"Resources of {title}")
    return Response(svg, mimetype="image/svg+xml",
                    headers={"Content-Security-Policy": SVG_CSP})
