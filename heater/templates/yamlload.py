"""Loading untrusted YAML within limits.

Templates come from anyone with push rights and are parsed by the server,
so parsing is bounded before anything is built:

1. size: at most :data:`MAX_YAML_BYTES` (Heat's own ``max_template_size``);
2. a first pass over libyaml's event stream (iterative, so deep nesting
   cannot exhaust the C stack) bounds nesting depth and the number of nodes
   the document *expands* to, counting every alias as the size of what it
   refers to: a "billion laughs" document is refused after a few thousand
   events instead of being walked later;
3. only then is the document composed and constructed, with the C safe
   loader; timestamps stay strings, as in Heat's own loader, so that
   ``heat_template_version: 2018-08-31`` reads as written.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from heater.errors import InvalidInput

MAX_YAML_BYTES = 512 * 1024
# Heat templates nest a few levels; generated ones a few dozen.
MAX_DEPTH = 100
# The largest corpus template expands to a few thousand nodes.
MAX_EXPANDED_NODES = 200_000
# No Heat property needs more; past 4,300 decimal digits Python refuses to
# read or print an integer (a hex one is read, then breaks every JSON answer).
MAX_INT_DIGITS = 1000
_INT_BOUND = 10 ** MAX_INT_DIGITS


class YamlError(InvalidInput):
    """A YAML document that cannot be accepted; ``line`` is 1-based or None."""

    code = "invalid_yaml"

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class _Loader(yaml.CSafeLoader):
    """The C safe loader, with timestamps read as plain strings (as Heat does)."""


def _timestamp_as_str(loader: yaml.CSafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_str)


def _bounded_int(loader: yaml.CSafeLoader, node: yaml.Node) -> Any:
    """An integer of at most :data:`MAX_INT_DIGITS` digits, or a refusal
    naming its line."""
    try:
        value = loader.construct_yaml_int(node)  # type: ignore[arg-type]
    except ValueError:  # past Python's own limit for decimal strings
        value = None
    if value is None or abs(value) >= _INT_BOUND:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer longer than {MAX_INT_DIGITS} digits", node.start_mark)
    return value


_Loader.add_constructor("tag:yaml.org,2002:int", _bounded_int)


@dataclass
class YamlDocument:
    """A loaded document with the positions of its nodes, for messages."""

    path: str
    data: Any
    root: yaml.Node | None

    def line_of(self, *keys: str | int) -> int | None:
        """The 1-based line of the entry at ``keys`` (mapping keys, list
        indexes): the line of its key, or of its nearest ancestor that exists."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for key in keys:
            found = _child(node, key)
            if found is None:
                break
            node, mark_node = found
            line = mark_node.start_mark.line + 1
        return line


def _child(node: yaml.Node | None, key: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """The child at ``key`` and the node whose position names it (its key)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                return value_node, key_node
    elif (isinstance(node, yaml.SequenceNode) and isinstance(key, int)
          and 0 <= key < len(node.value)):
        return node.value[key], node.value[key]
    return None


def load_yaml(content: bytes, path: str) -> YamlDocument:
    """Parse one YAML document from ``content``, or raise :class:`YamlError`."""
    if len(content) > MAX_YAML_BYTES:
        raise YamlError(path, None, f"larger than {MAX_YAML_BYTES // 1024} KiB "
                                    f"({len(content)} bytes)")
    if b"\x00" in content:
        raise YamlError(path, None, "contains a NUL byte; YAML files are text")
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise YamlError(path, line, "is not valid UTF-8") from None
    _check_bounds(content, path)
    loader = _Loader(content)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise _as_yaml_error(exc, path) from None
    finally:
        loader.dispose()
    return YamlDocument(path, data, root)


def _check_bounds(content: bytes, path: str) -> None:
    loader = _Loader(content)
    expanded = 0
    anchor_size: dict[str, int] = {}
    # (anchor, expanded count when the collection started)
    stack: list[tuple[str | None, int]] = []
    # Every event of every template indexed or pushed passes here: compared
    # by exact type (the C parser makes no subclasses), read until the end
    # of the stream without a check_event() per event.
    get_event = loader.get_event
    try:
        while True:
            event: Any = get_event()  # its type is compared below
            kind = type(event)
            if kind is _SCALAR:
                expanded += 1
                if event.anchor:
                    anchor_size[event.anchor] = 1
            elif kind is _ALIAS:
                expanded += anchor_size.get(event.anchor or "", 1)
            elif kind in _STARTS:
                expanded += 1
                stack.append((event.anchor, expanded - 1))
                if len(stack) > MAX_DEPTH:
                    raise YamlError(path, _line(event),
                                    f"nested deeper than {MAX_DEPTH} levels")
            elif kind in _ENDS:
                if stack:
                    anchor, start = stack.pop()
                    if anchor:
                        anchor_size[anchor] = expanded - start
                continue
            elif kind is _STREAM_END or event is None:
                return
            else:
                continue
            if expanded > MAX_EXPANDED_NODES:
                raise YamlError(path, _line(event),
                                f"expands to more than {MAX_EXPANDED_NODES} nodes "
                                "(aliases counted in full); refusing a possible YAML bomb")
    except yaml.YAMLError as exc:
        raise _as_yaml_error(exc, path) from None
    finally:
        loader.dispose()


_SCALAR = yaml.ScalarEvent
_ALIAS = yaml.AliasEvent
_STARTS = frozenset({yaml.MappingStartEvent, yaml.SequenceStartEvent})
_ENDS = frozenset({yaml.MappingEndEvent, yaml.SequenceEndEvent})
_STREAM_END = yaml.StreamEndEvent


def _as_yaml_error(exc: yaml.YAMLError, path: str) -> YamlError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or ""
        # libyaml 0.2.6 and later have a nesting limit of their own, which
        # its scanner may reach before our count of events does: one refusal,
        # one message, whichever fires first.
        if "nesting depth" in problem:
            return YamlError(path, line, f"nested deeper than {MAX_DEPTH} levels")
        return YamlError(path, line, f"invalid YAML: {problem}")
    return YamlError(path, None, f"invalid YAML: {exc}")


def _line(event: yaml.Event | None) -> int | None:
    mark = event.start_mark if event is not None else None
    return mark.line + 1 if mark is not None else None


def jsonable(value: Any) -> Any:
    """``value`` (as the safe loader builds it) made JSON-serialisable:
    ``!!binary`` bytes as base64 text (their YAML spelling), sets as sorted
    lists, non-finite floats and other odd scalars as text, mapping keys as
    text (``true``, ``null`` spelt as JSON would), and values that know their
    JSON form (an ``as_json()`` method) as that."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    as_json = getattr(value, "as_json", None)
    return jsonable(as_json()) if callable(as_json) else str(value)


def _key(key: Any) -> str:
    # Text always: JSON allows nothing else, and sorting mixed keys fails.
    return json.dumps(key) if key is None or isinstance(key, bool) else str(key)
