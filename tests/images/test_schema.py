"""The manifest schema: what is accepted, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from heater.errors import InvalidInput, MissingField, UnknownField
from heater.images.schema import InvalidManifest, package_manager, validate
from tests.conftest import Server
from tests.images_helpers import UBUNTU_MANIFEST, auth


def with_(**changes: Any) -> dict[str, Any]:
    return {**UBUNTU_MANIFEST, **changes}


def test_a_realistic_manifest_is_valid() -> None:
    assert validate(with_(version="1.0.0", description="base image")) is not None


@pytest.mark.parametrize(("manifest", "field"), [
    (with_(disk_format="qcow3"), "$.disk_format"),
    (with_(container_format="zip"), "$.container_format"),
    ({k: v for k, v in UBUNTU_MANIFEST.items() if k != "os"}, "$.os"),
    (with_(os={"distro": "ubuntu"}), "$.os.version"),
    (with_(packages=[{"name": "bash", "version": "5.1"}, {"name": "zlib"}]),
     "$.packages[1].version"),
    (with_(packages=[{"name": "bash", "version": 5}]), "$.packages[0].version"),
    (with_(packages={"bash": "5.1"}), "$.packages"),
    (with_(properties={"x": 1}), "$.properties.x"),
    (with_(size=12), "$.size"),
    (with_(image_id="chosen-by-me"), "$.image_id"),
    (with_(version="one"), "$.version"),
    ([], "$"),
])
def test_errors_name_the_field(manifest: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate(manifest)
    assert caught.value.path == field  # type: ignore[attr-defined]
    assert caught.value.details()["field"] == (field.removeprefix("$.") if field != "$" else "$")
    assert field in caught.value.message


def test_package_manager_is_declared_or_guessed() -> None:
    assert package_manager(with_()) == "dpkg"
    assert package_manager(with_(os={"distro": "rocky", "version": "9"})) == "rpm"
    assert package_manager(with_(package_manager="rpm")) == "rpm"


def test_schema_errors_are_400_naming_the_field(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    bad = with_(packages=[{"name": "bash"}])
    response = requests.post(f"{server.url}/api/v1/images/{ns}/img/builds", json=bad,
                             headers=auth(token), timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("missing_field", "packages[0].version")
    assert "$.packages[0].version" in error["message"]
    # nothing was created by a refused build
    assert requests.get(f"{server.url}/api/v1/images/{ns}/img", timeout=10).status_code == 404


def test_every_mistake_is_named_at_once() -> None:
    bad = {**with_(packages=[{"name": "bash"}], disk_format="floppy"), "colour": "red"}
    del bad["container_format"]
    with pytest.raises(InvalidInput) as refused:
        validate(bad)
    for field in ("$.packages[0].version", "$.disk_format", "$.colour", "$.container_format"):
        assert field in refused.value.message
    many = with_(packages=[{"name": f"p{i}"} for i in range(30)])
    with pytest.raises(InvalidInput, match=r"^manifest field \$\.packages\[0\]\.version.*"
                       r"\$\.packages\[9\]\.version: [^;]*; and 20 more$"):
        validate(many)


def test_a_template_name_cannot_take_builds(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    created = requests.post(f"{server.url}/api/v1/templates", headers=auth(token),
                            json={"namespace": ns, "name": "web"}, timeout=10)
    assert created.status_code == 201
    response = requests.post(f"{server.url}/api/v1/images/{ns}/web/builds",
                             json=UBUNTU_MANIFEST, headers=auth(token), timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "repository_not_found"


def test_each_missing_field_is_named_as_itself() -> None:
    with pytest.raises(MissingField) as refused:
        validate({"disk_format": "qcow2"})
    assert refused.value.details() == {"field": "container_format"}
    assert refused.value.message == (
        "manifest field $.container_format: 'container_format' is a required property; "
        "$.os: 'os' is a required property; $.packages: 'packages' is a required property")


def test_each_kind_of_mistake_has_its_code() -> None:
    with pytest.raises(UnknownField) as unknown:
        validate({**with_(), "pakages": []})
    assert unknown.value.details() == {"field": "pakages", "did_you_mean": "packages"}
    with pytest.raises(MissingField) as missing:
        validate({})
    assert missing.value.details() == {"field": "disk_format"}
    with pytest.raises(InvalidManifest) as wrong:
        validate(with_(disk_format="qcow3"))
    assert (wrong.value.code, wrong.value.details()) == ("invalid_value", {"field": "disk_format"})
