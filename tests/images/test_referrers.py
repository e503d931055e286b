"""The referrers of an image build: template releases that name it by id."""

from __future__ import annotations

import requests

from heater.images.referrers import places
from tests.conftest import Server
from tests.images_helpers import auth, push

BUILD = "0b7f6a52-3c1e-4d8e-9f6a-1b2c3d4e5f60"


def test_places_are_parameter_defaults_and_properties() -> None:
    document = {
        "parameters": {"image": {"type": "string", "default": BUILD},
                       "other": {"type": "string", "default": "cirros"}},
        "resources": {
            "server": {"type": "OS::Nova::Server",
                       "properties": {"image": BUILD, "flavor": "m1.small"}},
            "group": {"type": "OS::Heat::ResourceGroup",
                      "properties": {"resource_def": {"properties": {
                          "block_device_mapping_v2": [{"image": BUILD}]}}}},
            "note": {"type": "OS::Heat::Value", "metadata": {"image": BUILD}},
        },
        "outputs": {"image": {"value": BUILD}},
    }
    assert places(document, BUILD) == [
        "parameters.image.default",
        "resources.server.properties.image",
        "resources.group.properties.resource_def.properties.block_device_mapping_v2.0.image",
    ]
    assert places(["not", "a", "template"], BUILD) == []


def _template(image: str) -> str:
    return ("heat_template_version: 2018-08-31\n"
            "parameters:\n"
            f"  image: {{type: string, default: {image}}}\n"
            "resources:\n"
            "  server:\n"
            "    type: OS::Nova::Server\n"
            "    properties: {image: {get_param: image}, flavor: m1.small}\n")


def test_referrers_are_the_readable_releases_naming_the_build(server: Server, ns: str) -> None:
    writer = server.token("writer", ns)
    build_id = push(server, writer, f"{ns}/disk", b"image bytes")
    other = push(server, writer, f"{ns}/disk", b"other bytes")

    def template(name: str, image: str, visibility: str = "public") -> None:
        created = requests.post(f"{server.url}/api/v1/templates", headers=auth(writer),
                                timeout=30, json={"namespace": ns, "name": name,
                                                  "visibility": visibility,
                                                  "files": {"template.yaml": _template(image)}})
        assert created.status_code == 201, created.text
        tagged = requests.post(f"{server.url}/api/v1/templates/{ns}/{name}/versions",
                               headers=auth(writer), timeout=30,
                               json={"version": "1.0.0", "ref": "main"})
        assert tagged.status_code == 201, tagged.text

    template("web", build_id)
    template("db", other)
    template("hidden", build_id, "private")
    # Named on main only, in no release: not a referrer.
    unreleased = requests.post(f"{server.url}/api/v1/templates", headers=auth(writer),
                               timeout=30, json={"namespace": ns, "name": "draft",
                                                 "files": {"template.yaml": _template(build_id)}})
    assert unreleased.status_code == 201, unreleased.text

    url = f"{server.url}/api/v1/builds/{build_id}/referrers"
    anonymous = requests.get(url, timeout=30)
    assert anonymous.status_code == 200, anonymous.text
    web = {"repository": {"namespace": ns, "name": "web"}, "version": "1.0.0",
           "path": "template.yaml", "where": "parameters.image.default"}
    assert [{k: v for k, v in r.items() if k != "commit"}
            for r in anonymous.json()["referrers"]] == [web]
    mine = requests.get(url, headers=auth(writer), timeout=30).json()["referrers"]
    assert [r["repository"]["name"] for r in mine] == ["hidden", "web"]
    assert all(len(r["commit"]) == 40 for r in mine)

    missing = requests.get(f"{server.url}/api/v1/builds/{BUILD}/referrers", timeout=30)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "build_not_found")
