"""The template API end to end: creation, listing, detail, versions, commits."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from heater.http.app import create_app
from tests.catalog_support import api, listing, now, push, record_lifecycle, reindex
from tests.conftest import HELLO_WORLD, Git, Server


def _post(server: Server, body: object, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{server.url}/api/v1/templates", json=body, headers=headers,
                         timeout=10)


def test_create_returns_clone_url_and_refuses_duplicates(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    created = _post(server, {"namespace": ns, "name": "web"}, token)
    assert created.status_code == 201
    body = created.json()
    assert body["clone_url"] == f"{server.url}/{ns}/web.git"
    assert body["visibility"] == "public" and body["repository_kind"] == "template"
    assert (server.layout.root / "git" / ns / "web.git" / "HEAD").is_file()
    again = _post(server, {"namespace": ns, "name": "web"}, token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "repository_exists"


def test_create_needs_a_writer_of_the_namespace(server: Server, ns: str) -> None:
    anonymous = _post(server, {"namespace": ns, "name": "web"}, None)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    for token in (server.token("reader", ns), server.token("writer", "other")):
        refused = _post(server, {"namespace": ns, "name": "web"}, token)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
    bad = _post(server, {"namespace": ns, "name": "web"}, "heater_0000000000000000_" + "x" * 43)
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_token"
    assert not (server.layout.root / "git" / ns).exists()


def test_bad_bodies_get_clear_errors(server: Server, ns: str) -> None:
    token = server.token("writer", ns)
    cases = [
        ({"namespace": ns, "name": "../etc"}, 400, "invalid_value"),
        ({"namespace": ns, "name": "x.git"}, 400, "invalid_value"),
        ({"namespace": ns, "name": "api"}, 400, "invalid_value"),
        ({"namespace": ns}, 400, "missing_field"),
        ({"namespace": ns, "name": 5}, 400, "invalid_value"),
        ({"namespace": ns, "name": "ok", "visibility": "secret"}, 400, "invalid_value"),
        ({"namespace": ns, "name": "ok", "colour": "red"}, 400, "unknown_field"),
        ({"namespace": ns, "nmae": "ok"}, 400, "unknown_field"),
        (["not", "an", "object"], 400, "invalid_json"),
    ]
    for body, status, code in cases:
        response = _post(server, body, token)
        assert response.status_code == status, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == code and error["message"]
        if code in ("invalid_value", "missing_field"):
            assert isinstance(body, dict)
            assert error["field"] == ("visibility" if "visibility" in body else "name"), error
    typo = _post(server, {"namespace": ns, "nmae": "ok"}, token).json()["error"]
    assert (typo["field"], typo["did_you_mean"]) == ("nmae", "name")
    # No body at all names the first field it lacks.
    empty = requests.post(f"{server.url}/api/v1/templates", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    assert (empty.status_code, empty.json()["error"]) == (400, {
        "code": "missing_field", "field": "namespace", "message": "'namespace' is required "
        "and must be a string"})
    raw = requests.post(f"{server.url}/api/v1/templates", data=b"{not json", timeout=10,
                        headers={"Authorization": f"Bearer {token}",
                                 "Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    form = requests.post(f"{server.url}/api/v1/templates", data={"namespace": ns}, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
    assert form.status_code == 415
    huge = requests.post(f"{server.url}/api/v1/templates", timeout=10,
                         data=b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}',
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["code"]
    assert not (server.layout.root / "git" / ns).exists()


def test_unknown_routes_answer_json(server: Server) -> None:
    response = requests.get(f"{server.url}/api/v1/nothing-here", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


MANIFEST = """description: Web server with nginx
keywords: [web, nginx]
metadata: {owner: platform-team}
maintainers: [alice]
"""


def names(entries: list[dict[str, object]]) -> list[str]:
    return [str(e["name"]) for e in entries]


def test_push_updates_listing_and_detail(server: Server, git: Git, ns: str,
                                         tmp_path: Path) -> None:
    token = server.token("writer", ns)
    sha = push(server, git, tmp_path / "w", f"{ns}/web", token,
               {"template.yaml": HELLO_WORLD, "heater.yaml": MANIFEST})
    [entry] = listing(server, namespace=ns)
    assert entry["name"] == "web" and entry["namespace"] == ns
    assert entry["description"] == "Web server with nginx"
    assert entry["keywords"] == ["web", "nginx"]
    assert entry["latest_version"] is None
    assert entry["heat_template_version"] == "2018-08-31"
    assert entry["clone_url"] == f"{server.url}/{ns}/web.git"
    detail = api(server, "GET", f"/api/v1/templates/{ns}/web").json()
    assert detail["ref"] == {"requested": "latest", "kind": "branch", "name": "main",
                             "commit": sha, "version": None}
    assert detail["versions_count"] == 0
    assert detail["metadata"] == {"owner": "platform-team"}
    assert detail["maintainers"] == [{"name": "alice"}]
    assert [p["name"] for p in detail["parameters"]] == ["image"]
    assert detail["resource_types"] == ["OS::Nova::Server"]
    assert detail["outputs"] == [{"name": "ip", "description": ""}]
    assert detail["raw_url"] == f"{server.url}/{ns}/web/raw/{sha}/template.yaml"
    assert requests.get(detail["raw_url"], timeout=10).text == HELLO_WORLD
    assert detail["created_at"] <= detail["updated_at"] <= now()
    # The next push is visible as soon as it returns.
    push(server, git, tmp_path / "w", f"{ns}/web", token,
         {"heater.yaml": MANIFEST.replace("nginx", "apache")})
    [entry] = listing(server, namespace=ns)
    assert entry["keywords"] == ["web", "apache"]


def test_versions_and_latest(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    work = tmp_path / "w"
    first = push(server, git, work, f"{ns}/app", writer, {"template.yaml": HELLO_WORLD})
    path = f"/api/v1/templates/{ns}/app/versions"
    created = api(server, "POST", path, writer,
                  json={"version": "v1.0.0", "ref": "main", "message": "First"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["version"] == "1.0.0" and body["tag"] == "v1.0.0" and body["commit"] == first
    assert body["tagger"]["name"].startswith(f"writer-{ns}-")
    assert body["tagger"]["email"] is None
    assert body["message"] == "First\n"
    # The listing knows the new version before the response ended.
    assert listing(server, namespace=ns)[0]["latest_version"] == "1.0.0"
    for spelling in ("1.0.0", "v1.0.0", "1.0.0+build.5"):
        again = api(server, "POST", path, writer, json={"version": spelling, "ref": "main"})
        assert again.status_code == 409, spelling
        assert again.json()["error"]["code"] == "version_exists"
    for bad, status, code in (
            ({"version": "1.0", "ref": "main"}, 400, "invalid_value"),
            ({"version": "v2.0.0", "ref": "nope"}, 404, "unknown_ref"),
            ({"ref": "main"}, 400, "missing_field"),
            ({"version": 2, "ref": "main"}, 400, "invalid_value"),
            ({"version": "v2.0.0", "ref": "main", "extra": 1}, 400, "unknown_field")):
        answer = api(server, "POST", path, writer, json=bad)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
    assert api(server, "POST", path, json={"version": "2.0.0", "ref": "main"}).status_code == 401
    reader = server.token("reader", ns)
    assert api(server, "POST", path, reader,
               json={"version": "2.0.0", "ref": "main"}).status_code == 403
    # Later work on main does not change what latest shows; tags pushed by
    # git count as versions too, in semver order.
    second = push(server, git, work, f"{ns}/app", writer,
                  {"template.yaml": HELLO_WORLD.replace("A single server", "Two")},
                  tags=("v1.10.0", "v1.9.0", "v2.0.0-rc.1"))
    versions = api(server, "GET", path).json()["versions"]
    assert [v["version"] for v in versions] == ["2.0.0-rc.1", "1.10.0", "1.9.0", "1.0.0"]
    assert versions[0]["prerelease"] is True
    detail = api(server, "GET", f"/api/v1/templates/{ns}/app").json()
    assert detail["latest_version"] == "1.10.0"
    assert detail["ref"] == {"requested": "latest", "kind": "tag", "name": "v1.10.0",
                             "commit": second, "version": "1.10.0"}
    assert detail["versions_count"] == 4
    old = api(server, "GET", f"/api/v1/templates/{ns}/app", params={"ref": "1.0.0"}).json()
    assert old["description"] == "A single server"
    assert old["ref"] == {"requested": "1.0.0", "kind": "tag", "name": "v1.0.0",
                          "commit": first, "version": "1.0.0"}
    missing = api(server, "GET", f"/api/v1/templates/{ns}/app", params={"ref": "v9.9.9"})
    assert missing.status_code == 404
    by_sha = api(server, "POST", path, writer, json={"version": "3.0.0", "ref": first[:10]})
    assert by_sha.status_code == 201 and by_sha.json()["commit"] == first
    assert by_sha.headers["Location"] == f"{path}/3.0.0"


def test_one_version(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    first = push(server, git, tmp_path / "w", f"{ns}/app", writer,
                 {"template.yaml": HELLO_WORLD}, tags=("v1.2.0", "2.0.0-rc.1+b7"))
    path = f"/api/v1/templates/{ns}/app/versions"
    listed = {v["version"]: v for v in api(server, "GET", path).json()["versions"]}
    for spelling, version in (("1.2.0", "1.2.0"), ("v1.2.0", "1.2.0"),
                              ("1.2.0+anything", "1.2.0"), ("v2.0.0-rc.1+b7", "2.0.0-rc.1+b7")):
        answer = api(server, "GET", f"{path}/{spelling}")
        assert answer.status_code == 200, (spelling, answer.text)
        assert answer.json() == listed[version]
        assert answer.json()["commit"] == first
    for spelling, status in (("1.3.0", 404), ("1.2", 400), ("latest", 400), ("main", 400)):
        answer = api(server, "GET", f"{path}/{spelling}")
        assert answer.status_code == status, (spelling, answer.text)
        assert set(answer.json()["error"]) >= {"code", "message"}
    assert api(server, "GET", f"/api/v1/templates/{ns}/nothing/versions/1.0.0").status_code == 404


def test_listing_filters_sort_and_paging(server: Server, git: Git, ns: str,
                                         tmp_path: Path) -> None:
    token = server.token("writer", ns)
    # Each resource as Heat accepts it: its required properties, a real attribute.
    specs = {
        "alpha": ("Blog engine", ["web", "php"], "OS::Nova::Server"),
        "beta": ("Load balancer", ["web", "lb"], "OS::Octavia::LoadBalancer"),
        "gamma": ("Database cluster", ["db"], "OS::Trove::Instance"),
    }
    properties = {
        "OS::Octavia::LoadBalancer": ("      vip_subnet: {get_param: image}\n", "vip_address"),
        "OS::Trove::Instance": ("      flavor: m1.small\n      size: 1\n", "hostname"),
    }
    for name, (description, keywords, rtype) in specs.items():
        template = HELLO_WORLD
        if rtype in properties:
            given, attribute = properties[rtype]
            template = (template.replace("OS::Nova::Server", rtype)
                        .replace("      image: {get_param: image}\n      flavor: m1.small\n",
                                 given)
                        .replace("first_address", attribute))
        manifest = f"description: {description}\nkeywords: {keywords}\n"
        push(server, git, tmp_path / name, f"{ns}/{name}", token,
             {"template.yaml": template, "heater.yaml": manifest})
    assert names(listing(server, namespace=ns)) == ["alpha", "beta", "gamma"]
    assert names(listing(server, namespace=ns, sort="name:desc")) == ["gamma", "beta", "alpha"]
    assert names(listing(server, namespace=ns, sort="updated")) == ["gamma", "beta", "alpha"]
    assert names(listing(server, namespace=ns, sort="created:asc")) == [
        "alpha", "beta", "gamma"]
    assert names(listing(server, namespace=ns, keyword="web")) == ["alpha", "beta"]
    assert names(listing(server, namespace=ns, keyword=["web", "LB"])) == ["beta"]
    assert names(listing(server, namespace=ns, q="database")) == ["gamma"]
    assert names(listing(server, namespace=ns, q="OS::Octavia::LoadBalancer")) == ["beta"]
    assert names(listing(server, namespace=ns, q="image")) == ["alpha", "beta", "gamma"]
    assert names(listing(server, namespace=ns, q=ns)) == []  # namespaces are a filter
    page = api(server, "GET", "/api/v1/templates",
               params={"namespace": ns, "limit": 2, "keyword": "web"}).json()
    assert names(page["templates"]) == ["alpha", "beta"] and page["next"] is None
    page = api(server, "GET", "/api/v1/templates", params={"namespace": ns, "limit": 2}).json()
    assert names(page["templates"]) == ["alpha", "beta"]
    assert "namespace=" in page["next"] and "limit=2" in page["next"]
    rest = requests.get(page["next"], timeout=10).json()
    assert names(rest["templates"]) == ["gamma"] and rest["next"] is None
    assert names(listing(server, namespace=ns, limit=1)) == ["alpha", "beta", "gamma"]


def test_private_templates_are_listed_only_to_readers(server: Server, ns: str) -> None:
    writer = server.token("writer", ns)
    created = api(server, "POST", "/api/v1/templates", writer,
                  json={"namespace": ns, "name": "secret", "visibility": "private"})
    assert created.status_code == 201
    api(server, "POST", "/api/v1/templates", writer, json={"namespace": ns, "name": "open"})
    assert names(listing(server, namespace=ns)) == ["open"]
    assert names(listing(server, server.token("reader", "elsewhere"), namespace=ns)) == ["open"]
    assert names(listing(server, server.token("reader", ns), namespace=ns)) == [
        "open", "secret"]
    assert names(listing(server, server.token("reader"), namespace=ns)) == ["open", "secret"]
    for path in ("", "/versions", "/commits"):
        url = f"/api/v1/templates/{ns}/secret{path}"
        assert api(server, "GET", url).status_code == 404
        assert api(server, "GET", url, server.token("reader", ns)).status_code == 200
    # An empty repository is listed and described without commits.
    detail = api(server, "GET", f"/api/v1/templates/{ns}/open").json()
    assert detail["ref"] is None and detail["raw_url"] is None
    assert detail["problems"] == []
    assert api(server, "GET", f"/api/v1/templates/{ns}/open/commits").json() == {
        "commits": [], "next": None}


def test_commits(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    token = server.token("writer", ns)
    shas = [push(server, git, tmp_path / "w", f"{ns}/h", token,
                 {"template.yaml": HELLO_WORLD + f"# {i}\n"}, message=f"change {i}",
                 tags=("v1.0.0",) if i == 1 else ())
            for i in range(3)]
    path = f"/api/v1/templates/{ns}/h/commits"
    first = api(server, "GET", path, params={"limit": 2}).json()
    assert [c["commit"] for c in first["commits"]] == [shas[2], shas[1]]
    assert first["commits"][0]["message"] == "change 2\n"
    assert first["commits"][0]["parents"] == [shas[1]]
    assert first["commits"][0]["author"]["email"] == "author@example.com"
    # A push between pages does not shift the pages already begun.
    push(server, git, tmp_path / "w", f"{ns}/h", token, {"x.txt": "x"})
    second = requests.get(first["next"], timeout=10).json()
    assert [c["commit"] for c in second["commits"]] == [shas[0]] and second["next"] is None
    at_version = api(server, "GET", path, params={"ref": "1.0.0"}).json()
    assert [c["commit"] for c in at_version["commits"]] == [shas[1], shas[0]]
    for params, status, code in (
            ({"ref": "nope"}, 404, "unknown_ref"), ({"limit": "0"}, 400, "invalid_value"),
            ({"limit": "501"}, 400, "invalid_value"),
            ({"marker": "bad"}, 400, "invalid_value"),
            ({"marker": "ZGVhZGJlZWY6MQ"}, 400, "invalid_value"),
            ({"ref": "../x"}, 400, "invalid_value")):
        answer = api(server, "GET", path, params=params)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), params


def test_an_unknown_ref_is_404_to_a_read_and_as_what_to_tag(
        server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    token = server.token("writer", ns)
    push(server, git, tmp_path / "w", f"{ns}/r", token, {"template.yaml": HELLO_WORLD})
    base = f"/api/v1/templates/{ns}/r"
    for path, params in ((base, {"ref": "nope"}), (f"{base}/commits", {"ref": "nope"}),
                         (f"{base}/diff", {"from": "main", "to": "nope"})):
        read = api(server, "GET", path, params=params)
        assert (read.status_code, read.json()["error"]["code"]) == (404, "unknown_ref"), path
    tag = api(server, "POST", f"{base}/versions", token, json={"version": "1.0.0", "ref": "nope"})
    assert (tag.status_code, tag.json()["error"]["code"]) == (404, "unknown_ref")


@pytest.mark.parametrize("params", [
    {"sort": "stars"}, {"sort": "name:up"}, {"sort": ""}, {"limit": "-1"}, {"limit": "0"},
    {"limit": "501"}, {"limit": "ten"}, {"limit": "1e3"}, {"marker": "garbage"},
    {"marker": "e30"}, {"marker": "x" * 2000}, {"namespace": "Not Valid"},
    {"deprecated": "maybe"}, {"keyword": "x" * 65}, {"q": "word " * 40},
    {"sort": ["name", "updated"]},
])
def test_bad_listing_parameters(server: Server, params: dict[str, str]) -> None:
    answer = api(server, "GET", "/api/v1/templates", params=params)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_value", next(iter(params))), error


def test_marker_from_another_sort_is_refused(server: Server, git: Git, ns: str,
                                             tmp_path: Path) -> None:
    token = server.token("writer", ns)
    for name in ("a", "b"):
        api(server, "POST", "/api/v1/templates", token, json={"namespace": ns, "name": name})
    page = api(server, "GET", "/api/v1/templates", params={"namespace": ns, "limit": 1}).json()
    marker = page["next"].split("marker=")[1]
    answer = api(server, "GET", "/api/v1/templates",
                 params={"namespace": ns, "limit": 1, "sort": "updated", "marker": marker})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_value"


def test_reindex_gives_the_same_listing(server: Server, git: Git, ns: str,
                                        tmp_path: Path) -> None:
    token = server.token("writer", ns)
    for name in ("one", "two"):
        push(server, git, tmp_path / name, f"{ns}/{name}", token,
             {"template.yaml": HELLO_WORLD, "heater.yaml": MANIFEST}, tags=("v0.1.0",))
    api(server, "POST", "/api/v1/templates", token,
        json={"namespace": ns, "name": "hidden", "visibility": "private"})
    admin = server.token("admin")
    before = listing(server, admin, namespace=ns, sort="updated")
    assert len(before) == 3
    reindex(server)
    assert listing(server, admin, namespace=ns, sort="updated") == before
    # A data directory without an index gets one when the app starts.
    data = tmp_path / "copy"
    shutil.copytree(server.layout.namespace_dir(ns), data / "git" / ns)
    client = create_app({"DATA_DIR": str(data)}).test_client()
    fresh = client.get("/api/v1/templates?sort=updated",
                       base_url=server.url).get_json()["templates"]
    public = [e for e in before if e["visibility"] == "public"]
    assert fresh == public


def test_deprecated_and_deleted(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    token = server.token("writer", ns)
    for name in ("old", "gone", "fine"):
        push(server, git, tmp_path / name, f"{ns}/{name}", token,
             {"template.yaml": HELLO_WORLD})
    record_lifecycle(server.layout.namespace_dir(ns) / "old.git",
                     {"deprecated": {"message": "use fine", "by": "admin", "at": now()}})
    tombstone = {"reason": "broken", "by": "admin", "at": now()}
    record_lifecycle(server.layout.namespace_dir(ns) / "gone.git", {"deleted": tombstone})
    reindex(server)
    entries = listing(server, namespace=ns)
    assert names(entries) == ["fine", "old"]
    assert [e["deprecated"] for e in entries] == [None, {
        "reason": "use fine", "at": entries[1]["deprecated"]["at"],
        "by": {"name": "admin", "email": None}, "replacement": None}]
    assert names(listing(server, namespace=ns, deprecated="true")) == ["old"]
    assert names(listing(server, namespace=ns, deprecated="false")) == ["fine"]
    detail = api(server, "GET", f"/api/v1/templates/{ns}/old").json()
    assert detail["deprecated"] == entries[1]["deprecated"]
    gone = api(server, "GET", f"/api/v1/templates/{ns}/gone")
    assert gone.status_code == 410
    assert gone.json()["error"]["tombstone"] == {  # as every lifecycle state shows
        "reason": "broken", "at": tombstone["at"], "by": {"name": "admin", "email": None}}
    assert api(server, "GET", f"/{ns}/gone/raw/main/template.yaml").status_code == 410


HOSTILE = ["", " ", "%00", "\x00", "..", "../..", "%2e%2e", "a" * 3000, "'; DROP TABLE x;--",
           '"', "*", "NEAR(", "ü", "\u202e", "-1", "1e309", "v1.0.0", "0" * 40, "main:x",
           "refs/heads/main", "@{-1}", "HEAD~1", "latest"]


OK = (200, None)
BAD_PARAMETER = (400, "invalid_value")
# HOSTILE values that are not even a well-formed ref name.
BAD_REF_NAMES = {"", " ", "\x00", "..", "../..", "a" * 3000, "'; DROP TABLE x;--", "*", "-1",
                 "main:x", "@{-1}", "HEAD~1"}
REF_ANSWERS = ((404, "unknown_ref"), {**dict.fromkeys(BAD_REF_NAMES, (400, "invalid_value")),
                                      "v1.0.0": OK, "latest": OK})
# What each query parameter answers to HOSTILE values: the usual answer, and
# the values answered otherwise.
HOSTILE_ANSWERS: dict[tuple[str, str], tuple[tuple[int, str | None],
                                             dict[str, tuple[int, str | None]]]] = {
    ("/api/v1/templates", "q"): (OK, {"a" * 3000: (400, "invalid_value")}),
    ("/api/v1/templates", "keyword"): (OK, dict.fromkeys(("", " ", "a" * 3000), BAD_PARAMETER)),
    ("/api/v1/templates", "namespace"): ((400, "invalid_value"), dict.fromkeys(
        ("1e309", "v1.0.0", "0" * 40, "latest"), OK)),
    ("/api/v1/templates", "sort"): (BAD_PARAMETER, {}),
    ("/api/v1/templates", "limit"): (BAD_PARAMETER, {}),
    ("/api/v1/templates", "marker"): ((400, "invalid_value"), {}),
    ("/api/v1/templates", "deprecated"): (BAD_PARAMETER, {}),
    ("T", "ref"): REF_ANSWERS,
    ("T/commits", "ref"): REF_ANSWERS,
    ("T/commits", "limit"): (BAD_PARAMETER, {}),
    ("T/commits", "marker"): ((400, "invalid_value"), {"": OK}),
}


def test_hostile_parameters_never_fail_the_server(server: Server, git: Git, ns: str,
                                                  tmp_path: Path) -> None:
    push(server, git, tmp_path / "w", f"{ns}/t", server.token("writer", ns),
         {"template.yaml": HELLO_WORLD}, tags=("v1.0.0",))
    keys_by_path = {
        "/api/v1/templates": ("q", "keyword", "namespace", "sort", "limit", "marker",
                              "deprecated"),
        f"/api/v1/templates/{ns}/t": ("ref",),
        f"/api/v1/templates/{ns}/t/commits": ("ref", "limit", "marker"),
    }
    for path, keys in keys_by_path.items():
        for value in HOSTILE:
            for key in keys:
                answer = api(server, "GET", path, params={key: value})
                usual, unusual = HOSTILE_ANSWERS[path.replace(f"/api/v1/templates/{ns}/t", "T"),
                                                 key]
                status, code = unusual.get(value, usual)
                assert answer.status_code == status, (path, key, value, answer.text)
                if code is not None:
                    assert answer.json()["error"]["code"] == code, (path, key, value)
    writer = server.token("writer", ns)
    for i, value in enumerate(HOSTILE):
        # A version of its own for each value, so that each is really tried.
        version = (400, "invalid_value") if value != "v1.0.0" else (409, "version_exists")
        ref = {**dict.fromkeys(BAD_REF_NAMES, (400, "invalid_value")),
               "v1.0.0": (201, None), "latest": (201, None)}.get(value, (404, "unknown_ref"))
        for body, (status, code) in (
                ({"version": value, "ref": "main"}, version),
                ({"version": f"9.{i}.0", "ref": value}, ref),
                ({"version": f"9.{i}.1", "ref": "main", "message": value},
                 (400, "invalid_value") if value == "\x00" else (201, None))):
            answer = api(server, "POST", f"/api/v1/templates/{ns}/t/versions", writer,
                         json=body)
            assert answer.status_code == status, (body, answer.text)
            if code is not None:
                assert answer.json()["error"]["code"] == code, body
    assert "unhandled error" not in server.log()


def test_concurrent_writes_across_workers(server: Server, git: Git, ns: str,
                                          tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    push(server, git, tmp_path / "w", f"{ns}/race", writer, {"template.yaml": HELLO_WORLD})
    path = f"/api/v1/templates/{ns}/race/versions"
    spellings = ["2.0.0", "v2.0.0"] * 4
    with ThreadPoolExecutor(len(spellings)) as pool:
        statuses = sorted(pool.map(
            lambda v: api(server, "POST", path, writer,
                          json={"version": v, "ref": "main"}).status_code, spellings))
    assert statuses == [201] + [409] * (len(spellings) - 1)
    # Releases of many repositories at once: every one is in the listing
    # as soon as its request returns.
    for i in range(6):
        api(server, "POST", "/api/v1/templates", writer, json={"namespace": ns, "name": f"r{i}"})
    work = [tmp_path / f"r{i}" for i in range(6)]

    def release(i: int) -> int:
        push(server, git, work[i], f"{ns}/r{i}", writer, {"template.yaml": HELLO_WORLD})
        return api(server, "POST", f"/api/v1/templates/{ns}/r{i}/versions", writer,
                   json={"version": f"1.{i}.0", "ref": "main"}).status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(release, range(6))) == [201] * 6
    versions = {e["name"]: e["latest_version"] for e in listing(server, namespace=ns)}
    assert versions == {"race": "2.0.0", **{f"r{i}": f"1.{i}.0" for i in range(6)}}


def test_api_tags_pass_the_same_admission_as_pushed_tags(server: Server, git: Git, ns: str,
                                                         tmp_path: Path) -> None:
    writer = server.token("writer", ns)
    work = tmp_path / "w"
    policy = "versioning:\n  enforce: true\n"
    push(server, git, work, f"{ns}/app", writer,
         {"template.yaml": HELLO_WORLD, "heater.yaml": policy}, tags=("v1.0.0",))
    # Removing a parameter breaks callers: the verdict is major.
    breaking = HELLO_WORLD.replace("parameters:\n  image:\n    type: string\n"
                                   "    description: Image to boot\n", "").replace(
                                       "{get_param: image}", "cirros")
    assert breaking != HELLO_WORLD
    push(server, git, work, f"{ns}/app", writer, {"template.yaml": breaking})
    path = f"/api/v1/templates/{ns}/app/versions"
    too_small = api(server, "POST", path, writer, json={"version": "v1.1.0", "ref": "main"})
    assert too_small.status_code == 409, too_small.text
    assert "major" in too_small.json()["error"]["message"]
    assert "v1.1.0" not in git.run("ls-remote", "--tags", f"{server.url}/{ns}/app.git").stdout
    enough = api(server, "POST", path, writer, json={"version": "v2.0.0", "ref": "main"})
    assert enough.status_code == 201, enough.text


def test_api_writes_check_heater_yaml(server: Server, ns: str) -> None:
    files = {"template.yaml": HELLO_WORLD, "heater.yaml": "keyword: [web]\n"}
    response = _post(server, {"namespace": ns, "name": "web", "files": files},
                     server.token("writer", ns))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "validation_failed",
        "message": "heater.yaml:1: unknown setting 'keyword' (did you mean 'keywords'?)"}


def test_credentials_come_before_the_body(server: Server, ns: str) -> None:
    url = f"{server.url}/api/v1/templates"
    bodies: list[dict[str, Any]] = [{"json": {}}, {"data": "{}"}, {"data": b"{not json"}, {}]
    for kwargs in bodies:
        anonymous = requests.post(url, timeout=10, **kwargs)
        assert anonymous.status_code == 401, (kwargs, anonymous.text)
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    reader = server.token("reader", ns)
    versions = requests.post(f"{url}/{ns}/web/versions", data="x", timeout=10,
                             headers={"Authorization": f"Bearer {reader}"})
    # A reader may not write, and may not learn whether the repository exists.
    assert versions.status_code == 404
    assert versions.json()["error"]["code"] == "repository_not_found"


def test_an_unknown_route_is_named(server: Server, ns: str) -> None:
    unknown = api(server, "GET", f"/api/v1/templates/{ns}/web/stars")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == (
        f"no endpoint GET /api/v1/templates/{ns}/web/stars; "
        "the API is described at /api/v1/openapi.json")
    wrong_method = api(server, "PATCH", "/api/v1/templates")
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert "no such method there" in wrong_method.json()["error"]["message"]
