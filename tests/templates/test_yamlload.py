"""Bounded YAML loading: hostile documents are refused quickly, with a line."""

from __future__ import annotations

import json
import time

import pytest

from heater.templates.yamlload import MAX_YAML_BYTES, YamlError, jsonable, load_yaml


def _laughs(levels: int) -> bytes:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return ("\n".join(lines) + "\n").encode()


def test_billion_laughs_is_refused_fast() -> None:
    started = time.monotonic()
    with pytest.raises(YamlError, match="YAML bomb") as caught:
        load_yaml(_laughs(10), "bomb.yaml")
    assert time.monotonic() - started < 1.0
    assert caught.value.line is not None and caught.value.path == "bomb.yaml"


def test_small_alias_use_is_fine() -> None:
    doc = load_yaml(_laughs(3), "ok.yaml")
    assert len(doc.data["a2"]) == 9


@pytest.mark.parametrize("content, reason", [
    (b"[" * 5000 + b"]" * 5000, "nested deeper"),
    (b"{a: " * 5000 + b"1" + b"}" * 5000, "nested deeper"),
    (b"a: [1, 2\nb: 3\n", "invalid YAML"),
    (b"a: \xff\xfe\n", "not valid UTF-8"),
    (b"a: b\x00c\n", "NUL byte"),
    (b"a: 1\n---\nb: 2\n", "another document"),
    (b"a: !!python/object:os.system echo\n", "invalid YAML"),
])
def test_malformed_documents(content: bytes, reason: str) -> None:
    with pytest.raises(YamlError, match=reason):
        load_yaml(content, "x.yaml")


@pytest.mark.parametrize("content, line", [
    (b"[" * 5000 + b"]" * 5000, 1),
    (b"a:\n" + b"".join(b"  " * i + b"-\n" for i in range(1, 300)), 101),
    (b"{a: " * 5000 + b"1" + b"}" * 5000, 1),
])
def test_deep_nesting_is_refused_with_its_location(content: bytes, line: int) -> None:
    # Whether libyaml's own depth limit or Heater's fires first depends on the
    # libyaml version; the refusal, its wording and its location do not.
    with pytest.raises(YamlError) as refused:
        load_yaml(content, "deep.yaml")
    assert refused.value.path == "deep.yaml"
    assert refused.value.reason == "nested deeper than 100 levels"
    assert refused.value.line == line


def test_size_limit() -> None:
    big = b"a: '" + b"x" * MAX_YAML_BYTES + b"'\n"
    with pytest.raises(YamlError, match="larger than 512 KiB"):
        load_yaml(big, "big.yaml")


def test_timestamps_stay_strings_and_lines_are_known() -> None:
    doc = load_yaml(b"heat_template_version: 2018-08-31\nresources:\n  server:\n"
                    b"    type: OS::Nova::Server\n", "t.yaml")
    assert doc.data["heat_template_version"] == "2018-08-31"
    assert doc.line_of("resources", "server", "type") == 4
    assert doc.line_of("resources", "missing") == 2


def test_any_loaded_value_becomes_strict_json() -> None:
    doc = load_yaml(b"on: 1\n~: 2\n3: [!!binary aGk=, .nan, -.inf, 2018-08-31]\n"
                    b"s: !!set {b, a}\n", "t.yaml").data
    value = jsonable(doc)
    assert value == {"true": 1, "null": 2, "3": ["aGk=", "nan", "-inf", "2018-08-31"],
                     "s": ["a", "b"]}
    json.dumps(value, sort_keys=True, allow_nan=False)  # mixed keys and NaN would fail


@pytest.mark.parametrize("literal", ["9" * 5000, "-" + "9" * 1001, "0x" + "f" * 5000])
def test_an_integer_too_long_to_print_is_refused(literal: str) -> None:
    with pytest.raises(YamlError) as caught:
        load_yaml(f"a: 1\nb: {literal}\n".encode(), "t.yaml")
    assert str(caught.value) == "t.yaml:2: invalid YAML: an integer longer than 1000 digits"


def test_integers_up_to_the_limit_load() -> None:
    doc = load_yaml(f"a: {'9' * 1000}\nb: 0x10\nc: 1_000\n".encode(), "t.yaml")
    assert doc.data == {"a": int("9" * 1000), "b": 16, "c": 1000}
