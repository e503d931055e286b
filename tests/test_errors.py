"""The error table: every code a client can see is defined once, with one
category and so one status, whichever module raises it."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import pytest
from werkzeug import exceptions as http_exceptions

import heater
from heater.errors import CODES, STATUS, HeaterError, NotFound, status_of


def heater_modules() -> list[ModuleType]:
    return [importlib.import_module(info.name)
            for info in pkgutil.walk_packages(heater.__path__, "heater.")
            if not info.name.endswith("__main__")]


MODULES = heater_modules()


def subclasses(cls: type[HeaterError]) -> Iterator[type[HeaterError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def class_definitions() -> dict[str, list[type[HeaterError]]]:
    """Every class that sets ``code`` itself, by code."""
    found: dict[str, list[type[HeaterError]]] = {}
    classes: set[type[HeaterError]] = {HeaterError, *subclasses(HeaterError)}
    for cls in classes:
        if "code" in vars(cls):
            found.setdefault(cls.code, []).append(cls)
    return found


def keyword_uses() -> Iterator[tuple[str, str, type | None]]:
    """``(code, where, raised)`` for every ``code="..."`` argument in the
    package; ``raised`` is the class called, when it can be resolved."""
    for module in MODULES:
        source = inspect.getsource(module)
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg != "code" or (isinstance(keyword.value, ast.Name)
                                             and keyword.value.id == "code"):
                    continue  # not a code= argument, or one passed on
                code = keyword.value.value if isinstance(keyword.value, ast.Constant) else None
                assert isinstance(code, str), (
                    f"{module.__name__}:{node.lineno}: an error code is a literal, "
                    "so that it can be found")
                raised: object = None
                if isinstance(node.func, ast.Name):
                    raised = vars(module).get(node.func.id)
                yield (code, f"{module.__name__}:{node.lineno}",
                       raised if isinstance(raised, type) else None)


def test_each_code_is_defined_by_one_class_only() -> None:
    twice = {code: sorted(c.__qualname__ for c in classes)
             for code, classes in class_definitions().items() if len(classes) > 1}
    assert twice == {}


def test_every_class_code_is_in_the_table_under_its_category() -> None:
    wrong = {f"{cls.__module__}.{cls.__qualname__}": code
             for code, classes in class_definitions().items() for cls in classes
             if code not in CODES or not issubclass(cls, CODES[code])}
    assert wrong == {}, "add the code to heater.errors.CODES, under the class's category"


def test_every_keyword_code_is_in_the_table_and_owned_by_no_class() -> None:
    owned = class_definitions()
    uses = list(keyword_uses())
    assert uses, "the search found no code= arguments at all"
    wrong = []
    for code, where, raised in uses:
        if code not in CODES:
            wrong.append(f"{where}: {code} is not in heater.errors.CODES")
        elif raised is not None and not issubclass(raised, CODES[code]):
            wrong.append(f"{where}: {code} raised as {raised.__name__}, listed as "
                         f"{CODES[code].__name__}")
        if code in owned:
            wrong.append(f"{where}: {code} belongs to {owned[code][0].__qualname__}; raise it")
    assert wrong == []


def test_the_table_lists_only_codes_in_use() -> None:
    used = set(class_definitions()) | {code for code, _where, _raised in keyword_uses()}
    assert set(CODES) - used == set()


def test_every_category_has_a_status() -> None:
    assert set(CODES.values()) <= set(STATUS)


def test_framework_errors_never_reuse_a_code_with_another_status() -> None:
    # The JSON handler names a framework error (no route, bad method...)
    # after its HTTP name; such a name must not mean another status here.
    clashes = []
    for status, cls in http_exceptions.default_exceptions.items():
        code = cls().name.lower().replace(" ", "_")
        if code in CODES and STATUS[CODES[code]] != status:
            clashes.append((code, status, STATUS[CODES[code]]))
    assert clashes == []


@pytest.mark.parametrize(("error", "status"), [
    (NotFound("x", code="unknown_ref"), 404),
    (HeaterError("x"), 400),
    (NotFound("x", code="not_in_the_table"), 404),
])
def test_status_of(error: HeaterError, status: int) -> None:
    assert status_of(error) == status
