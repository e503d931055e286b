"""A push that lands leaves the documents its validation parsed for the
diffs to come; a refused push leaves none."""

from __future__ import annotations

from pathlib import Path

import requests

from heater.names import RepoId
from heater.paths import parsed_dir
from tests.conftest import Git, Server
from tests.push.test_hook import refused
from tests.templates.test_parsed import large_document


def blob_id(git: Git, work: Path, path: str) -> str:
    return git.run("rev-parse", f"HEAD:{path}", cwd=work).stdout.strip()


def test_a_landed_push_keeps_large_documents_and_a_refused_one_none(
        server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    template = large_document().decode()
    work = git.worktree(tmp_path / "work", {"template.yaml": template})
    url = server.auth_url(f"{ns}/big.git", server.token("writer", ns))
    git.run("push", url, "main", cwd=work)
    kept = parsed_dir(server.layout.repository(RepoId(ns, "big")))
    first = blob_id(git, work, "template.yaml")
    assert [p.name for p in kept.iterdir()] == [first]

    # Refused (an undefined parameter): its large template is not kept.
    git.commit(work, {"template.yaml": template.replace(
        "{value: 7}", "{value: {get_param: nowhere}}")}, "broken")
    stderr = refused(git, work, url, "main")
    assert "nowhere" in stderr
    assert [p.name for p in kept.iterdir()] == [first]

    # A release that lands: both sides are there before the first diff,
    # which answers from them.
    git.commit(work, {"template.yaml": template.replace("{value: 7}", "{value: 8}")},
               "seven is eight")
    git.run("push", url, "main", cwd=work)
    second = blob_id(git, work, "template.yaml")
    assert sorted(p.name for p in kept.iterdir()) == sorted([first, second])
    old = git.run("rev-parse", "HEAD~2", cwd=work).stdout.strip()
    diff = requests.get(f"{server.url}/api/v1/templates/{ns}/big/diff",
                        params={"from": old, "to": "main"}, timeout=60)
    assert diff.status_code == 200, diff.text
    assert "value_7" in diff.text
