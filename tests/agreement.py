"""Checks that what the API says about a namespace is what git says.

Used after faults: the listings (catalog index) and details must describe
exactly the refs ``git ls-remote`` shows and the files a clone holds, and a
rebuild of the index from git alone must change nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from tests.conftest import Git, Server

_VERSION_TAG = re.compile(r"^refs/tags/v?(\d+)\.(\d+)\.(\d+)$")


def _get(server: Server, path: str, token: str, **params: Any) -> Any:
    response = requests.get(f"{server.url}{path}", params=params, timeout=30,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def full_listing(server: Server, token: str, ns: str) -> dict[str, list[dict[str, Any]]]:
    """Every template and image of ``ns`` as the listings show them (all pages)."""
    templates: list[dict[str, Any]] = []
    params: dict[str, Any] = {"namespace": ns, "limit": 2, "sort": "updated"}
    while True:
        page = _get(server, "/api/v1/templates", token, **params)
        templates += page["templates"]
        if page["next"] is None:
            break
        params["marker"] = page["next"].split("marker=")[1].split("&")[0]
    images = _get(server, "/api/v1/images", token, namespace=ns, limit=500)["images"]
    return {"templates": templates, "images": images}


def reindex(server: Server) -> None:
    done = subprocess.run([sys.executable, "-m", "heater", "reindex", "--data-dir",
                           str(server.data_dir)], capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, **server.env})
    assert done.returncode == 0, done.stderr


def ls_remote(git: Git, url: str) -> dict[str, str]:
    refs = {}
    for line in git.run("ls-remote", url).stdout.splitlines():
        sha, ref = line.split("\t")
        refs[ref] = sha
    return refs


def _latest(refs: dict[str, str]) -> str | None:
    versions = [tuple(int(n) for n in m.groups()) for ref in refs
                if (m := _VERSION_TAG.match(ref))]
    return ".".join(map(str, max(versions))) if versions else None


def assert_index_agrees_with_git(server: Server, git: Git, ns: str, work: Path) -> None:
    """The listings and details of ``ns`` say what ``git ls-remote`` and a
    clone say, and a reindex from git alone leaves the listings unchanged."""
    token = server.token("admin")
    listed = full_listing(server, token, ns)
    repos = sorted(p.name[:-len(".git")] for p in (server.layout.git_root / ns).glob("*.git"))
    shown = sorted(e["name"] for e in listed["templates"] + listed["images"])
    # Every repository with commits is listed; an empty one may be listed too.
    for name in repos:
        url = server.auth_url(f"{ns}/{name}.git", token)
        refs = ls_remote(git, url)
        if not refs:
            continue
        assert name in shown, f"{ns}/{name} has refs {refs} but is not listed"
        clone = work / f"clone-{name}"
        git.run("clone", "-q", url, str(clone))
        head = git.run("rev-parse", "HEAD", cwd=clone).stdout.strip()
        assert head == refs["refs/heads/main"]
        if any(e["name"] == name for e in listed["templates"]):
            entry = next(e for e in listed["templates"] if e["name"] == name)
            latest = _latest(refs)
            assert entry["latest_version"] == latest
            detail = _get(server, f"/api/v1/templates/{ns}/{name}", token)
            at_main = _get(server, f"/api/v1/templates/{ns}/{name}", token, ref="main")
            assert at_main["ref"]["commit"] == head
            assert detail["latest_version"] == latest
            assert detail["versions_count"] == sum(bool(_VERSION_TAG.match(r)) for r in refs)
        else:
            detail = _get(server, f"/api/v1/images/{ns}/{name}", token)
            assert detail["ref"]["commit"] == head
            assert detail["manifest"] == json.loads((clone / "manifest.json").read_text())
    assert set(shown) <= set(repos)
    # The index holds nothing a rebuild from git would not.
    reindex(server)
    assert full_listing(server, token, ns) == listed
