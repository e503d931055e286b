"""Checking a live response against what the OpenAPI document says of it:
the status is documented for the operation, the JSON body matches the
documented schema (``$ref`` s resolved in the document), and documented
headers that are present match theirs."""

from __future__ import annotations

from typing import Any

import jsonschema
import requests
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from heater.http.api.openapi import document

DOCUMENT_URI = "urn:heater:openapi"
# Documents stored as sent (manifest.json), not shaped by the API.
FILE_FORMATS = {"ImageManifest", "StoredManifest"}


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _follow(node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A response or header object, following one ``$ref``; with its pointer when referred."""
    ref = node.get("$ref")
    if ref is None:
        return node, None
    found: Any = document()
    for part in ref.removeprefix("#/").split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    return found, ref.removeprefix("#")


def _validate(instance: object, pointer: str) -> None:
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, DRAFT202012.create_resource(document()))
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.validate(instance)


def conforms(response: requests.Response, path: str, method: str | None = None) -> Any:
    """Assert that ``response`` is what ``path`` (as documented, with
    ``{placeholders}``) documents; the decoded JSON body, if any."""
    method = (method or response.request.method or "GET").lower()
    operation = document()["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], (
        f"{method.upper()} {path}: {status} is not documented: {response.text[:300]}")
    answer, answer_pointer = _follow(operation["responses"][status])
    answer_pointer = answer_pointer or _pointer("paths", path, method, "responses", status)
    for name, header in (answer.get("headers") or {}).items():
        if name in response.headers:
            spec, spec_pointer = _follow(header)
            pointer = spec_pointer or f"{answer_pointer}{_pointer('headers', name)}"
            value: object = response.headers[name]
            if spec["schema"].get("type") == "integer":
                value = int(response.headers[name])
            _validate(value, f"{pointer}/schema")
    content = answer.get("content") or {}
    mimetype = response.headers.get("Content-Type", "").split(";")[0]
    if method == "head" or response.status_code == 304:
        return None
    assert mimetype in content, f"{method.upper()} {path} {status}: {mimetype} not documented"
    if mimetype != "application/json":
        return None
    body = response.json()
    pointer = f"{answer_pointer}{_pointer('content', mimetype, 'schema')}"
    _validate(body, pointer)
    schema, _ = _follow({"$ref": "#" + pointer})
    in_schema_order(body, schema, f"{method.upper()} {path}")
    return body


def in_schema_order(instance: Any, schema: dict[str, Any], where: str) -> None:
    """Assert that every object of ``instance`` lists its keys in the order
    of the properties of its schema (the one key order of the API). A
    manifest is kept as it was sent: its keys are the sender's order."""
    schema, pointer = _follow(schema)
    if pointer is not None and pointer.rsplit("/", 1)[-1] in FILE_FORMATS:
        return
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives:
        for alternative in alternatives:
            option, _ = _follow(alternative)
            if isinstance(instance, dict) and set(instance) <= set(option.get("properties", {})):
                in_schema_order(instance, alternative, where)
                return
        return
    properties = schema.get("properties")
    if isinstance(instance, dict) and properties:
        order = [key for key in properties if key in instance]
        assert [key for key in instance if key in properties] == order, (where, list(instance))
        for key in order:
            in_schema_order(instance[key], properties[key], f"{where}.{key}")
    elif isinstance(instance, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, value in instance.items():
            in_schema_order(value, schema["additionalProperties"], f"{where}.{key}")
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            in_schema_order(item, schema["items"], f"{where}[]")
