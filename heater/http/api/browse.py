"""Browsing without cloning, for templates and images alike:
``.../tree/<ref>[/<path>]``, ``.../branches`` and ``.../tags`` under
``/api/v1/templates/<ns>/<name>`` and ``/api/v1/images/<ns>/<name>``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from heater.http.context import caller, registry
from heater.names import RepoId
from heater.repos.browse import Browse
from heater.repos.store import Kind

bp = Blueprint("browse_api", __name__)

_PREFIXES = {Kind.TEMPLATE: "/api/v1/templates", Kind.IMAGE: "/api/v1/images"}


def _browse(kind: Kind) -> Browse:
    return Browse(registry(), kind)


def _routes(kind: Kind) -> None:
    prefix = _PREFIXES[kind]

    def tree(namespace: str, name: str, ref_path: str) -> Response:
        found = _browse(kind).tree(caller(), RepoId(namespace, name), ref_path)
        return jsonify({"ref": found.resolved.as_json(), "path": found.path,
                        "tree": [entry.as_json() for entry in found.entries]})

    def branches(namespace: str, name: str) -> Response:
        listed, default = _browse(kind).branches(caller(), RepoId(namespace, name))
        return jsonify({"default_branch": default, "branches": listed})

    def tags(namespace: str, name: str) -> Response:
        return jsonify({"tags": _browse(kind).tags(caller(), RepoId(namespace, name))})

    # merge_slashes=False: "a//b" names no directory, it is not another URL for "a/b".
    bp.add_url_rule(f"{prefix}/<namespace>/<name>/tree/<path:ref_path>",
                    f"{kind.value}_tree", tree, merge_slashes=False)
    bp.add_url_rule(f"{prefix}/<namespace>/<name>/branches", f"{kind.value}_branches", branches)
    bp.add_url_rule(f"{prefix}/<namespace>/<name>/tags", f"{kind.value}_tags", tags)


for _kind in _PREFIXES:
    _routes(_kind)
