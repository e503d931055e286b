"""A data directory with templates worth looking at, for the web UI's
tests (in process) and its browser tests and screenshots (served)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pygit2

# What a template callers deploy looks like at version 1.0.0 and after:
# 2.0.0 removes a parameter (major) and changes the port's network
# (Heat replaces the port).
WEB_V1 = """heat_template_version: 2018-08-31
description: A web server behind a port, with its volume
parameters:
  image:
    type: string
    label: Image
    description: Image to boot
    default: debian-12
  flavor:
    type: string
    description: Size of the server
    default: m1.small
    constraints:
      - allowed_values: [m1.small, m1.large]
  network:
    type: string
    description: Network to attach to
  admin_password:
    type: string
    hidden: true
    default: change-me
parameter_groups:
  - label: Server
    parameters: [image, flavor]
resources:
  port:
    type: OS::Neutron::Port
    properties:
      network: {get_param: network}
  volume:
    type: OS::Cinder::Volume
    properties:
      size: 10
  server:
    type: OS::Nova::Server
    depends_on: volume
    properties:
      image: {get_param: image}
      flavor: {get_param: flavor}
      networks:
        - port: {get_resource: port}
  monitoring:
    type: monitoring.yaml
    properties:
      server: {get_resource: server}
outputs:
  address:
    description: The server's first address
    value: {get_attr: [server, first_address]}
"""
WEB_V2 = WEB_V1.replace("""  flavor:
    type: string
    description: Size of the server
    default: m1.small
    constraints:
      - allowed_values: [m1.small, m1.large]
""", "").replace("flavor: {get_param: flavor}", "flavor: m1.large").replace(
    "parameters: [image, flavor]", "parameters: [image]").replace(
    "network: {get_param: network}", "network: private")
MONITORING = """heat_template_version: 2018-08-31
description: A check of one server
parameters:
  server:
    type: string
resources:
  alarm:
    type: OS::Aodh::Alarm
    properties:
      meter_name: cpu_util
      threshold: 90
      comparison_operator: gt
      matching_metadata: {resource_id: {get_param: server}}
"""
README = """# Web server

A web server for **acme**, with a [guide](docs/guide.md) and a
[section](#usage).

![diagram](docs/diagram.svg) ![tracker](https://tracker.example.com/t.png)

<script>alert("readme")</script>
<a href="javascript:alert(1)">bad link</a>

## Usage

| Parameter | Meaning |
|-----------|---------|
| image     | what to boot |
"""
DIAGRAM = """<svg xmlns="http://www.w3.org/2000/svg" width="240" height="60">
<rect width="240" height="60" rx="8" fill="#e8eef9"/>
<text x="20" y="36" font-family="sans-serif" font-size="16">port -> server -> volume</text>
</svg>
"""
# A private template's README: its picture loads only for a signed-in reader.
SECRET_README = """# Secret database

![diagram](docs/diagram.svg)
"""
HEATER_YAML = """keywords: [web, nginx]
icon: docs/diagram.svg
maintainers:
  - name: Web Team
    email: web@example.com
metadata:
  tier: frontend
"""
DB = """heat_template_version: 2018-08-31
description: A PostgreSQL database server
resources:
  db:
    type: OS::Trove::Instance
    properties:
      flavor: m1.small
      size: 5
"""


def web_files() -> dict[str, str]:
    return {"template.yaml": WEB_V1, "monitoring.yaml": MONITORING, "README.md": README,
            "heater.yaml": HEATER_YAML, "docs/guide.md": "# Guide\n\nRead me.\n",
            "docs/diagram.svg": DIAGRAM}


def commit_files(repo_path: str, files: Mapping[str, str], message: str) -> str:
    """Commit ``files`` (changed or added) on top of ``main`` of the bare
    repository at ``repo_path``, as a push would; the new commit's SHA."""
    git = pygit2.Repository(repo_path)
    parent = git.references["refs/heads/main"].peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(parent.tree)
    for path, text in files.items():
        index.add(pygit2.IndexEntry(path, git.create_blob(text.encode()),
                                    pygit2.enums.FileMode.BLOB))
    tree = index.write_tree(git)
    who = pygit2.Signature("Web Team", "web@example.com")
    oid = git.create_commit("refs/heads/main", who, who, message, tree, [parent.id])
    return str(oid)


# A call of the API: (method, path, JSON body or bytes) -> (status, JSON answer).
Call = Callable[[str, str, dict[str, Any] | bytes | None], tuple[int, Any]]

JAMMY: dict[str, Any] = {
    "disk_format": "qcow2", "container_format": "bare",
    "os": {"distro": "ubuntu", "version": "22.04"},
    "packages": [{"name": "bash", "version": "5.1-6ubuntu1"},
                 {"name": "openssl", "version": "3.0.2-0ubuntu1.10"},
                 {"name": "nginx", "version": "1.18.0-6ubuntu14"},
                 {"name": "python3-cryptography", "version": "3.4.8-1ubuntu2"}],
    "properties": {"hw_disk_bus": "virtio"},
}
JAMMY_UPDATED: dict[str, Any] = {
    **JAMMY,
    "packages": [{"name": "bash", "version": "5.1-6ubuntu1"},
                 {"name": "openssl", "version": "3.0.2-0ubuntu1.15"},
                 {"name": "nginx", "version": "1.18.0-6ubuntu14.4"},
                 {"name": "wget", "version": "1.21.2-2ubuntu1"}],
}


def add_image(call: Call, image: str, manifest: dict[str, Any], version: str,
              data: bytes) -> str:
    """Queue and upload a build of ``image`` released as ``version``; its id."""
    status, answer = call("POST", f"/api/v1/images/{image}/builds",
                          {**manifest, "version": version})
    assert status == 201, answer
    build_id = str(answer["build_id"])
    status, answer = call("PUT", f"/api/v1/builds/{build_id}/file", data)
    assert status == 200, answer
    return build_id


def populate(call: Call, namespace: str, commit: Callable[[str, dict[str, str]], None],
             private_namespace: str) -> None:
    """``namespace/web`` at 1.0.0, 1.0.1 (yanked) and 2.0.0,
    ``namespace/db`` deprecated for web, a private
    ``private_namespace/secret`` (with a README picture), the deleted
    ``namespace/retired``, and the image ``namespace/jammy`` with two
    builds; ``commit(repo, files)`` commits to main."""
    def ok(method: str, path: str, body: dict[str, Any], want: int = 201) -> None:
        status, answer = call(method, path, body)
        assert status == want, answer

    ok("POST", "/api/v1/templates", {"namespace": namespace, "name": "web",
                                     "files": web_files(), "message": "First web server"})
    ok("POST", f"/api/v1/templates/{namespace}/web/versions",
       {"version": "1.0.0", "ref": "main", "message": "First release"})
    ok("POST", f"/api/v1/templates/{namespace}/web/versions",
       {"version": "1.0.1", "ref": "main", "message": "Same again"})
    ok("POST", f"/api/v1/templates/{namespace}/web/versions/1.0.1/yank",
       {"reason": "Tagged by mistake"}, 200)
    commit(f"{namespace}/web", {"template.yaml": WEB_V2})
    ok("POST", f"/api/v1/templates/{namespace}/web/versions",
       {"version": "2.0.0", "ref": "main", "message": "Fixed flavor, private network"})
    ok("POST", "/api/v1/templates", {"namespace": namespace, "name": "db",
                                     "files": {"template.yaml": DB}})
    ok("PUT", f"/api/v1/templates/{namespace}/db/deprecation",
       {"reason": "Use the managed database",
        "replacement": {"namespace": namespace, "name": "web"}}, 200)
    ok("POST", "/api/v1/templates", {"namespace": private_namespace, "name": "secret",
                                     "visibility": "private",
                                     "files": {"template.yaml": DB.replace(
                                         "A PostgreSQL", "A secret PostgreSQL"),
                                               "README.md": SECRET_README,
                                               "docs/diagram.svg": DIAGRAM}})
    ok("POST", "/api/v1/templates", {"namespace": namespace, "name": "retired",
                                     "files": {"template.yaml": DB}})
    ok("DELETE", f"/api/v1/templates/{namespace}/retired", {"reason": "Replaced by web"}, 200)
    add_image(call, f"{namespace}/jammy", JAMMY, "1.0.0", b"first image bytes")
    add_image(call, f"{namespace}/jammy", JAMMY_UPDATED, "1.1.0", b"second image bytes")
