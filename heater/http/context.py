"""Per-request access to the registry and the caller, for blueprints."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flask import current_app, g, request

from heater.auth.tokens import Caller
from heater.catalog.indexer import Catalog
from heater.errors import (
    InvalidInput,
    InvalidValue,
    MissingField,
    UnknownField,
    UnsupportedMediaType,
)
from heater.http.credentials import credentials_from_environ, note_caller
from heater.http.publicurl import base_url
from heater.names import RepoId, closest, nearest
from heater.registry import Registry


def registry() -> Registry:
    reg = current_app.extensions["heater"]
    assert isinstance(reg, Registry)
    return reg


def catalog() -> Catalog:
    cat = current_app.extensions["heater_catalog"]
    assert isinstance(cat, Catalog)
    return cat


def caller() -> Caller:
    """The authenticated caller (``None`` when anonymous); a bad token is 401."""
    if "heater_caller" not in g:
        credentials = credentials_from_environ(request.environ)
        g.heater_caller = note_caller(request.environ, registry().authenticate(credentials))
    result: Caller = g.heater_caller
    return result


def repo_id(namespace: str, name: str) -> RepoId:
    return RepoId(namespace, name)


def json_body(fields: Collection[str] | None = None) -> dict[str, Any]:
    """The request's JSON object, or a 4xx that says what is wrong with it;
    with ``fields``, a field not among them is refused with the closest
    one (a typo must not be silently dropped). No body at all reads as
    ``{}``, so that the first required field is named as missing."""
    if not request.content_length and "chunked" not in request.headers.get(
            "Transfer-Encoding", "").lower():
        return {}
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as Content-Type: application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the parser recurses once per level of nesting
        raise InvalidInput("the body is nested too deeply", code="invalid_json") from None
    if data is None:
        raise InvalidInput("the body is not valid JSON", code="invalid_json")
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", code="invalid_json")
    if fields is not None:
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise UnknownField(unknown[0], nearest(unknown[0], fields), "field",
                               f"unknown field {unknown[0]!r}{closest(unknown[0], fields)}; "
                               f"expected {', '.join(sorted(fields))}")
    return data


def required_args(names: tuple[str, ...], forms: str) -> dict[str, str]:
    """The query parameters ``names``, each required and non-empty, else 400
    ``missing_field`` naming the first one missing; ``forms`` says what a
    value may be."""
    values = {name: request.args.get(name, "") for name in names}
    for name, value in values.items():
        if not value:
            raise MissingField(name, f"the query parameter {name!r} is required ({forms})")
    return values


def format_arg(formats: tuple[str, ...]) -> str:
    """``?format=``: one of ``formats`` (the first by default), else 400
    ``invalid_value``."""
    fmt = request.args.get("format", formats[0])
    if fmt not in formats:
        raise InvalidValue("format", f"format must be one of {', '.join(formats)}, not {fmt!r}")
    return fmt


def clone_url(repo: RepoId) -> str:
    return f"{base_url()}/{repo.namespace}/{repo.name}.git"
