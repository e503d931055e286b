"""A small world of repositories for the access tests: public and private,
templates and images (each image with an uploaded build), in a namespace
of its own, with the tokens that look at it from every side.

Private content carries marker strings, so that a test can look for it in
any response: the private repositories' names, a word in their files and
manifests, every git object id they hold, their build ids and hashes.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.conftest import Server, git_env
from tests.images_helpers import UBUNTU_MANIFEST, auth, push

# Who looks: anonymous, a token that is not valid, and each role in the
# world's namespace (R W A), in another namespace (R' W' A') and without a
# namespace (R* W* A*).
PRINCIPALS = ("anon", "bad", "R", "W", "A", "R'", "W'", "A'", "R*", "W*", "A*")
ROLES = {"R": "reader", "W": "writer", "A": "admin"}
# Who may read the world's private repositories.
READERS = frozenset({"R", "W", "A", "R*", "W*", "A*"})
# Well formed, never issued: authentication fails rather than parsing.
BAD_TOKEN = "heater_0000000000000000_" + "A" * 43

# Repositories, by key: public/private ("p"/"s") template/image ("t"/"i"),
# and "none", a name that exists nowhere (a fresh one for every request).
# The world also holds "dt", a private template that was deleted.
REPOS = ("pt", "st", "pi", "si", "none")


def template_files(marker: str) -> dict[str, str]:
    return {
        "template.yaml": (
            "heat_template_version: 2018-08-31\n"
            f"description: server {marker}\n"
            "resources:\n"
            "  server:\n"
            "    type: OS::Nova::Server\n"
            "    properties: {image: cirros, flavor: m1.small}\n"),
        f"files/{marker}.sh": f"#!/bin/sh\necho {marker}\n",
    }


@dataclass
class World:
    server: Server
    ns: str
    other: str
    names: dict[str, str]
    builds: dict[str, str]                 # image key -> its uploaded build id
    private_markers: set[str] = field(default_factory=set)
    # Template key -> a commit stored in the repository that no template URL
    # may read: "unreachable" (a pushed branch's, deleted since) and
    # "lifecycle" (of the history under refs/heater/lifecycle).
    hidden: dict[str, dict[str, str]] = field(default_factory=dict)
    _count: int = 0

    def token(self, principal: str) -> str | None:
        if principal == "anon":
            return None
        if principal == "bad":
            return BAD_TOKEN
        role = ROLES[principal[0]]
        scope = {"'": self.other, "*": None}.get(principal[1:], self.ns)
        return self.server.token(role, scope)

    def headers(self, principal: str) -> dict[str, str]:
        token = self.token(principal)
        return auth(token) if token is not None else {}

    def admin(self) -> dict[str, str]:
        return self.headers("A")

    def fresh(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}-{self._count}-{uuid.uuid4().hex[:8]}"

    def name(self, key: str) -> str:
        """The repository's name; a name never used for ``none``."""
        return self.fresh("nothing") if key == "none" else self.names[key]

    def secret_word(self) -> str:
        """A word found only in the private repositories' content."""
        return f"hush{self.ns[1:]}"

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"

    def rev(self, key: str, ref: str) -> str:
        """What ``ref`` of the repository ``key`` points at now, as stored."""
        return self._git(key, "rev-parse", ref).strip()

    def refs(self, key: str) -> str:
        """Every ref of the repository ``key`` and what it points at."""
        return self._git(key, "for-each-ref")

    def _git(self, key: str, *args: str) -> str:
        path = self.server.layout.root / "git" / self.ns / f"{self.names[key]}.git"
        return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True,
                              check=True).stdout


def _check(response: requests.Response) -> requests.Response:
    assert response.status_code < 300, response.text
    return response


_WORLDS: dict[str, World] = {}


def world_for(server: Server) -> World:
    """The world on ``server``, built once: the tests that use it leave it
    as they found it."""
    if server.url not in _WORLDS:
        _WORLDS[server.url] = build_world(server)
    return _WORLDS[server.url]


def build_world(server: Server) -> World:
    hexid = uuid.uuid4().hex[:10]
    world = World(server, f"w{hexid}", f"o{hexid}", {
        "pt": f"open-{hexid}", "st": f"secret-{hexid}",
        "pi": f"openimg-{hexid}", "si": f"secretimg-{hexid}", "dt": f"gone-{hexid}",
    }, {})
    admin = world.admin()
    secret_word = f"hush{hexid}"
    for key, private in (("pt", False), ("st", True), ("dt", True)):
        marker = secret_word if private else f"plain{hexid}"
        _check(requests.post(world.url("/api/v1/templates"), headers=admin, timeout=30, json={
            "namespace": world.ns, "name": world.names[key], "files": template_files(marker),
            "visibility": "private" if private else "public"}))
        _check(requests.post(world.url(f"/api/v1/templates/{world.ns}/{world.names[key]}"
                                       "/versions"), headers=admin, timeout=30,
                             json={"version": "v1.0.0", "ref": "main"}))
    for key, private in (("pi", False), ("si", True)):
        manifest: dict[str, Any] = dict(UBUNTU_MANIFEST)
        if private:
            manifest["packages"] = [{"name": secret_word, "version": "1.0"}]
            manifest["properties"] = {"note": secret_word}
        token = world.token("A")
        assert token is not None
        image = f"{world.ns}/{world.names[key]}"
        if private:  # the first build creates the repository, private on request
            _check(requests.post(world.url(f"/api/v1/images/{image}/builds"),
                                 params={"visibility": "private"}, json=manifest,
                                 headers=admin, timeout=30))
        world.builds[key] = push(server, token, image, f"bytes of {key} {hexid}".encode(),
                                 manifest, version="1.0.0")
    for key, private in (("pt", False), ("st", True)):
        world.hidden[key] = hide_commits(world, key, secret_word if private else "plain")
    # "dt": a private template deleted since, its tombstone giving a reason.
    _check(requests.delete(world.url(f"/api/v1/templates/{world.ns}/{world.names['dt']}"),
                           headers=admin, timeout=30, json={"reason": f"{secret_word} gone"}))
    world.private_markers = {secret_word, world.names["st"], world.names["si"],
                             world.names["dt"], world.builds["si"],
                             *world.hidden["st"].values()}
    for key in ("st", "si", "dt"):
        world.private_markers |= object_ids(server, world.ns, world.names[key])
    blob = server.layout.blob(world.builds["si"])
    world.private_markers.add(hashlib.sha256(blob.read_bytes()).hexdigest())
    return world


def hide_commits(world: World, key: str, marker: str) -> dict[str, str]:
    """Leave a commit no ref leads to in the template ``key`` (a branch
    pushed, then deleted, as a user would) and a lifecycle history (a
    deprecation, then its withdrawal); the ids of one commit of each."""
    token = world.token("A")
    assert token is not None
    name = world.names[key]
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "work"

        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=work if work.exists() else scratch,
                                  env=git_env(Path(scratch)), capture_output=True, text=True,
                                  check=True, timeout=120).stdout.strip()

        git("clone", "-q", world.server.auth_url(f"{world.ns}/{name}.git", token), str(work))
        (work / "template.yaml").write_text((work / "template.yaml").read_text()
                                            + f"# {marker} gone\n")
        git("commit", "-qam", f"{marker} gone")
        git("push", "-q", "origin", "HEAD:refs/heads/gone")
        git("push", "-q", "origin", ":refs/heads/gone")
        unreachable = git("rev-parse", "HEAD")
    path = f"/api/v1/templates/{world.ns}/{name}/deprecation"
    _check(requests.put(world.url(path), headers=world.admin(), timeout=30,
                        json={"reason": f"{marker} for a while"}))
    _check(requests.delete(world.url(path), headers=world.admin(), timeout=30))
    return {"unreachable": unreachable, "lifecycle": world.rev(key, "refs/heater/lifecycle")}


def object_ids(server: Server, ns: str, name: str) -> set[str]:
    """Every object id in the repository, in full and as the 12-digit
    abbreviation messages use."""
    path = server.layout.root / "git" / ns / f"{name}.git"
    listed = subprocess.run(["git", "-C", str(path), "rev-list", "--all", "--objects",
                             "--reflog"], capture_output=True, text=True, check=True).stdout
    ids = {line.split()[0] for line in listed.splitlines() if line.strip()}
    tags = subprocess.run(["git", "-C", str(path), "for-each-ref", "--format=%(objectname)"],
                          capture_output=True, text=True, check=True).stdout.split()
    ids |= set(tags)
    return ids | {sha[:12] for sha in ids}

