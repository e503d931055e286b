"""A large HOT template for the benchmarks, made from the corpus's own.

Real templates are small (the corpus's largest is 8 KB); a generated
stack of a few hundred resources is what a large one looks like. So the
large template is many corpus templates side by side: each copy keeps its
parameters, resources, outputs and conditions under names with a prefix of
its own (``t007_server``), and every reference among them (``get_param``,
``get_resource``, ``get_attr``, ``depends_on``, ``condition``) is renamed
with it, so that the result still passes validation as each part did.
Only templates that stand alone take part (no nested template or
``get_file`` to a file the result would lack, no environment needed), and
the copies are taken in corpus order, so the same corpus always gives the
same template.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from heater.templates.heatcheck import check_template
from heater.templates.hot import KNOWN_VERSIONS, FileKind, classify, references
from heater.templates.yamlload import MAX_YAML_BYTES, load_yaml

KiB = 1024
LARGE_BYTES = 458 * KiB  # under MAX_YAML_BYTES, as a large real template must be
VERSION = "2021-04-16"  # the newest: every function of the older ones that it kept
SECTIONS = ("parameters", "resources", "outputs", "conditions")
_RENAMED_CALLS = {"get_param": "parameters", "get_resource": "resources",
                  "get_attr": "resources", "get_condition": "conditions"}


def corpus_dir(corpus: Path) -> Path:
    return corpus / "heat-templates" / "hot"


def standalone_templates(corpus: Path) -> list[tuple[str, dict[str, Any]]]:
    """The corpus templates (path, document) that are whole on their own and
    that Heat's checks accept (errors only; warnings are part of real life)
    once their version is :data:`VERSION`."""
    found = []
    root = corpus_dir(corpus)
    for path in sorted(root.rglob("*.yaml")):
        name = str(path.relative_to(root))
        data = load_yaml(path.read_bytes(), name).data
        if classify(data) is not FileKind.TEMPLATE or str(
                data.get("heat_template_version")) not in KNOWN_VERSIONS:
            continue
        if references(data, name) or not isinstance(data.get("resources"), dict):
            continue
        data = {**data, "heat_template_version": VERSION}
        if all(f.severity == "warning" for f in check_template(data)):
            found.append((name, data))
    return found


def large_template(corpus: Path, size: int = LARGE_BYTES) -> bytes:
    """A template of about ``size`` bytes (never more) from copies of the
    standalone corpus templates, in turn."""
    if size > MAX_YAML_BYTES:
        raise ValueError(f"{size} bytes is over the YAML limit of {MAX_YAML_BYTES}")
    parts = standalone_templates(corpus)
    if not parts:
        raise RuntimeError(f"no standalone template in {corpus_dir(corpus)}")
    head = {"heat_template_version": VERSION,
            "description": f"{len(parts)} corpus templates, copied until {size} bytes"}
    # Dumping the whole on every copy would be quadratic: sizes of the parts
    # dumped alone add up to within a few bytes per copy of the whole's.
    chosen: list[dict[str, Any]] = []
    estimate = len(_dump(_merged(head, [])))
    copy = misses = 0
    while misses < len(parts):  # until no template fits any more
        part = _prefixed(parts[copy % len(parts)][1], f"t{copy:03d}_")
        copy += 1
        grows = len(_dump(part))
        if estimate + grows > size:
            misses += 1
            continue
        chosen.append(part)
        estimate += grows
        misses = 0
    text = _dump(_merged(head, chosen))
    while len(text) > size:
        chosen.pop()
        text = _dump(_merged(head, chosen))
    return text


def changed_copy(template: bytes, release: str, resources: int = 3) -> bytes:
    """``template`` as the next ``release`` would change it: ``resources`` of
    its resources get a new value in their metadata, the last one is removed
    (with the outputs that name it) and a volume is added."""
    data = load_yaml(template, "template.yaml").data
    names = list(data["resources"])
    step = max(1, len(names) // (resources + 1))
    for name in names[step::step][:resources]:
        data["resources"][name].setdefault("metadata", {})["release"] = release
    removed = names[-1]
    data["resources"].pop(removed)
    data["outputs"] = {k: v for k, v in data["outputs"].items() if removed not in repr(v)}
    data["resources"][f"volume_{release}"] = {"type": "OS::Cinder::Volume",
                                               "properties": {"size": 1}}
    return _dump(data)


def _dump(data: dict[str, Any]) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False,
                          width=100).encode()


def _merged(head: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {**head, **{section: {name: body for part in parts
                                 for name, body in part.get(section, {}).items()}
                       for section in SECTIONS}}


def _prefixed(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The sections of ``data`` with every defined name, and every reference
    to one, prefixed."""
    defined = {section: set(map(str, data.get(section) or {})) for section in SECTIONS}

    def rename(section: str, name: Any) -> Any:
        return prefix + name if isinstance(name, str) and name in defined[section] else name

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (call, args), = value.items()
                if call in _RENAMED_CALLS:
                    section = _RENAMED_CALLS[call]
                    if isinstance(args, list) and args:
                        return {call: [rename(section, args[0]), *map(walk, args[1:])]}
                    return {call: rename(section, args)}
            return {key: _renamed_key(key, item, rename, walk) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return {section: {prefix + str(name): walk(body)
                      for name, body in (data.get(section) or {}).items()}
            for section in SECTIONS}


def _renamed_key(key: Any, value: Any, rename: Callable[[str, Any], Any],
                 walk: Callable[[Any], Any]) -> Any:
    if key == "depends_on":
        return [rename("resources", v) for v in value] if isinstance(value, list) \
            else rename("resources", value)
    if key == "condition" and isinstance(value, str):
        return rename("conditions", value)
    return walk(value)
