"""``heater.yaml``: a repository's own settings, versioned with it.

The one place that names the file, its settings, the default entry point
and how the ``entrypoint`` setting is read; validation, the catalog and the
diff all read them from here. The settings::

    description: text           shown in the catalog over the template's own
    keywords: [text, ...]       for search
    metadata: {key: value}      free key/value, shown in the catalog
    icon: text                  an http(s) URL or a path in the repository
    maintainers: [name | {name, email, url}, ...]
    entrypoint: path            the template callers deploy (template.yaml)
    versioning: {enforce: bool} refuse version tags that bump too little
    validation: {warn: [rule, ...]}  Heat checks that only warn here (a type
                                a plugin provides on the operator's cloud)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pygit2

from heater.errors import InvalidInput
from heater.names import check_repo_path, closest
from heater.templates.yamlload import YamlError, load_yaml

METADATA_FILE = "heater.yaml"
DEFAULT_ENTRYPOINT = "template.yaml"


def read_metadata(tree: pygit2.Tree) -> dict[str, Any]:
    """``heater.yaml`` at ``tree`` as a mapping; empty when it is missing or
    unreadable (validation reports that; the diff carries on without it)."""
    try:
        entry = tree[METADATA_FILE]
    except KeyError:
        return {}
    if not isinstance(entry, pygit2.Blob):
        return {}
    try:
        data = load_yaml(entry.data, METADATA_FILE).data
    except YamlError:
        return {}
    return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}


def parse_entrypoint(value: Any) -> str:
    """The entry point named by an ``entrypoint`` setting, or InvalidInput
    saying why it cannot be one."""
    if not isinstance(value, str):
        raise InvalidInput("entrypoint must be a file path", code="invalid_entrypoint")
    return check_repo_path(value)


def entrypoint(tree: pygit2.Tree) -> str:
    """The path of the template callers deploy, per ``heater.yaml``."""
    value = read_metadata(tree).get("entrypoint")
    if value is None:
        return DEFAULT_ENTRYPOINT
    try:
        return parse_entrypoint(value)
    except InvalidInput:
        return DEFAULT_ENTRYPOINT


Keys = tuple[str | int, ...]


@dataclass(frozen=True)
class SettingProblem:
    """Something wrong in ``heater.yaml``; ``keys`` locate it in the file."""

    keys: Keys
    reason: str


# A setting's check: None when the value is right, else where in it the
# first wrong part is (() for the value itself).
Check = Callable[[Any], Keys | None]


def _of_type(kind: type) -> Check:
    return lambda value: None if isinstance(value, kind) else ()


def _list_of(item: Check) -> Check:
    def check(value: Any) -> Keys | None:
        if not isinstance(value, list):
            return ()
        for index, entry in enumerate(value):
            inner = item(entry)
            if inner is not None:
                return (index, *inner)
        return None
    return check


MAINTAINER_FIELDS = frozenset({"name", "email", "url"})
# A catalog shows the icon as an image link: no javascript:, data: or file:.
ICON_SCHEMES = frozenset({"http", "https"})


def is_safe_icon(value: object) -> bool:
    """Whether ``value`` is an ``http(s)`` URL with a host, or a relative path
    that stays inside the repository; never another scheme. Whitespace and
    control characters are refused outright, since URL parsers drop some of
    them (``java\tscript:``)."""
    if not isinstance(value, str) or not value or any(c.isspace() or c < " " or c == "\x7f"
                                                      for c in value):
        return False
    parts = urlsplit(value)
    if parts.scheme or value.startswith("//"):
        return parts.scheme.lower() in ICON_SCHEMES and bool(parts.hostname) \
            and not parts.username and not parts.password
    try:
        check_repo_path(value)
    except InvalidInput:
        return False
    return ":" not in value.split("/", 1)[0]  # "javascript:x" has a scheme too


def _icon(value: Any) -> Keys | None:
    return None if is_safe_icon(value) else ()


def _maintainer(value: Any) -> Keys | None:
    if isinstance(value, str):
        return None
    if not isinstance(value, dict):
        return ()
    extra = [str(k) for k in value if str(k) not in MAINTAINER_FIELDS]
    return (extra[0],) if extra else None


def _versioning(value: Any) -> Keys | None:
    if not isinstance(value, dict):
        return ()
    for key, inner in value.items():
        if str(key) != "enforce" or not isinstance(inner, bool):
            return (str(key),)
    return None


def _validation(value: Any) -> Keys | None:
    # Imported here: the rule names belong to the checker, which imports
    # this module's neighbours.
    from heater.templates.heatcheck import Rule

    if not isinstance(value, dict):
        return ()
    for key, inner in value.items():
        if str(key) != "warn" or not isinstance(inner, list):
            return (str(key),)
        known = {rule.value for rule in Rule}
        for index, rule in enumerate(inner):
            if rule not in known:
                return (str(key), index)
    return None


def lowered_rules(settings: dict[str, Any]) -> frozenset[str]:
    """The Heat checks ``heater.yaml`` lowers to warnings (already checked)."""
    value = settings.get("validation")
    warn = value.get("warn") if isinstance(value, dict) else None
    return frozenset(str(rule) for rule in warn) if isinstance(warn, list) else frozenset()


# Each setting: its check, and what the message says it must be.
SETTINGS: dict[str, tuple[Check, str]] = {
    "description": (_of_type(str), "a string"),
    "keywords": (_list_of(_of_type(str)), "a list of strings"),
    "metadata": (_of_type(dict), "a mapping of keys to values"),
    "icon": (_icon, "an http: or https: URL, or a path inside the repository"),
    "maintainers": (_list_of(_maintainer),
                    "a list of names or of mappings with name, email and url"),
    # Its value is checked by parse_entrypoint, which says more.
    "entrypoint": (lambda _value: None, "a file path"),
    "versioning": (_versioning, "a mapping {enforce: true|false} (a YAML boolean, "
                                "not a quoted string)"),
    "validation": (_validation, "a mapping {warn: [rule, ...]} naming rules of the "
                                "Heat checks (see the README), such as unknown-resource-type"),
}


def check_settings(data: Any) -> list[SettingProblem]:
    """Every problem with the loaded ``heater.yaml`` ``data``: only known
    settings, each of the right type (an empty file has none)."""
    if data is None:
        return []
    if not isinstance(data, dict):
        return [SettingProblem((), f"{METADATA_FILE} must be a mapping of settings: "
                                   + ", ".join(SETTINGS))]
    problems: list[SettingProblem] = []
    for key, value in data.items():
        name = str(key)
        known = SETTINGS.get(name)
        if known is None:
            hint = closest(name, SETTINGS) or \
                f"; known settings: {', '.join(SETTINGS)}"
            problems.append(SettingProblem((name,), f"unknown setting {name!r}{hint}"))
        else:
            where = known[0](value)
            if where is not None:
                problems.append(SettingProblem(
                    (name, *where), f"{_unknown_rule(name, value, where)}{name} must be "
                                    f"{known[1]}"))
    return problems


def _unknown_rule(name: str, value: Any, where: Keys) -> str:
    """For a misspelled rule in ``validation: {warn: [...]}``, its name and
    the rule nearest it, before the message says what the setting takes."""
    from heater.templates.heatcheck import Rule  # see _validation

    if name != "validation" or len(where) != 2:
        return ""
    rule = str(value[where[0]][where[1]])
    return f"unknown rule {rule!r}{closest(rule, (r.value for r in Rule))}; "

