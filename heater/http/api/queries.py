"""Query parameters an endpoint does not take are refused, naming the
closest one it does (``?visbility=private`` must not create a public
image). What each endpoint takes is read from the OpenAPI document, the one
place it is written down."""

from __future__ import annotations

import re

from flask import Flask, request

from heater.errors import UnknownField
from heater.http.api.openapi import query_parameters
from heater.names import nearest

_RULE_VARIABLE = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def documented_path(rule: str) -> str:
    """A Flask rule (``/api/v1/builds/<build_id>``) as the document spells its path."""
    return _RULE_VARIABLE.sub(r"{\1}", rule)


def refuse_unknown_parameters() -> None:
    """400 ``unknown_field`` for a query parameter the operation does not document."""
    rule = request.url_rule
    if rule is None or not request.path.startswith("/api/"):
        return
    taken = query_parameters()
    path, method = documented_path(rule.rule), request.method.lower()
    known = taken.get((path, method))
    if known is None and method == "head":
        known = taken.get((path, "get"))
    if known is None:  # not an operation of the document (OPTIONS...)
        return
    for name in request.args:
        if name not in known:
            raise UnknownField(name, nearest(name, known), "query parameter")


def init_app(app: Flask) -> None:
    app.before_request(refuse_unknown_parameters)
