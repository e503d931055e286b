"""Verdicts of whole commits, version bumps, and the enforced versioning policy."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from heater.diff import VersionBumpTooSmall, check_version_bump, compare_commits
from heater.diff.verdict import Impact, VersionCheck, allows, bump_between
from heater.errors import Conflict
from heater.git.objects import ZERO_OID
from heater.push.admission import admit, problems_for
from heater.push.refrules import RefUpdate
from heater.repos.versions import InvalidVersion, Version
from tests.conftest import HELLO_WORLD, Git, Server

ENFORCE = "versioning:\n  enforce: true\n"
WITH_DEFAULT = HELLO_WORLD.replace("    description: Image to boot\n",
                                   "    description: Image to boot\n    default: cirros\n")
NEW_OPTIONAL = HELLO_WORLD.replace(
    "resources:", "  flavor:\n    type: string\n    default: m1.small\nresources:", 1)
NEW_REQUIRED = HELLO_WORLD.replace("resources:", "  flavor:\n    type: string\nresources:", 1)


def v(text: str) -> Version:
    return Version.parse(text)


def test_bumps() -> None:
    assert bump_between(v("1.2.3"), v("2.0.0")) is Impact.MAJOR
    assert bump_between(v("1.2.3"), v("1.3.0")) is Impact.MINOR
    assert bump_between(v("1.2.3"), v("1.2.4-rc.1")) is Impact.PATCH
    assert bump_between(v("1.2.3"), v("1.2.3+build")) is Impact.NONE
    assert bump_between(v("1.2.3"), v("1.0.0")) is Impact.NONE
    # Below 1.0.0 everything moves one place down.
    assert allows(v("0.3.1"), Impact.MINOR) is Impact.MAJOR
    assert allows(v("0.3.1"), Impact.PATCH) is Impact.MINOR
    assert allows(v("1.3.1"), Impact.PATCH) is Impact.PATCH
    assert VersionCheck(v("0.3.1"), v("0.4.0"), Impact.MAJOR).sufficient
    assert not VersionCheck(v("1.3.1"), v("1.4.0"), Impact.MAJOR).sufficient
    assert VersionCheck(v("1.3.1"), v("1.3.1"), Impact.NONE).sufficient
    assert VersionCheck(v("1.3.1"), v("1.3.2"), Impact.PATCH).as_json() == {
        "from": "1.3.1", "to": "1.3.2", "bump": "patch", "required": "patch",
        "sufficient": True}


class History:
    """A local repository built commit by commit, read with pygit2."""

    def __init__(self, git: Git, path: Path, files: dict[str, str | bytes]) -> None:
        self.git, self.path = git, path
        git.worktree(path, files)
        self.repo = pygit2.Repository(str(path))

    def commit(self, files: dict[str, str | bytes], tag: str | None = None,
               remove: tuple[str, ...] = ()) -> pygit2.Commit:
        for name in remove:
            (self.path / name).unlink()
        sha = self.git.commit(self.path, files, "change")
        if tag:
            self.tag(tag)
        return self.at(sha)

    def tag(self, name: str, ref: str = "HEAD") -> None:
        self.git.run("tag", name, ref, cwd=self.path)

    def at(self, ref: str) -> pygit2.Commit:
        commit = self.repo.revparse_single(ref).peel(pygit2.Commit)
        assert isinstance(commit, pygit2.Commit)
        return commit


@pytest.fixture
def history(git: Git, tmp_path: Path) -> History:
    return History(git, tmp_path / "repo", {"template.yaml": HELLO_WORLD})


@pytest.mark.parametrize(("files", "verdict"), [
    ({"README.md": "hello\n"}, Impact.PATCH),
    ({"template.yaml": HELLO_WORLD.replace("m1.small", "m1.tiny")}, Impact.PATCH),
    ({"template.yaml": NEW_OPTIONAL}, Impact.MINOR),
    ({"template.yaml": WITH_DEFAULT}, Impact.MINOR),
    ({"template.yaml": NEW_REQUIRED}, Impact.MAJOR),
    ({"template.yaml": HELLO_WORLD.replace("OS::Nova::Server", "OS::Heat::None")},
     Impact.MAJOR),
    ({"template.yaml": "heat_template_version: [unclosed\n"}, Impact.MAJOR),
], ids=["readme", "property", "optional parameter", "default added", "required parameter",
        "replacement", "unreadable"])
def test_verdict_of_a_commit(history: History, files: dict[str, str | bytes],
                             verdict: Impact) -> None:
    old = history.at("HEAD")
    new = history.commit(files)
    assert compare_commits(history.repo, old, new).verdict is verdict
    assert compare_commits(history.repo, old, old).verdict is Impact.NONE


def test_roles_follow_the_entry_point(history: History) -> None:
    old = history.at("HEAD")
    nested = HELLO_WORLD.replace("  image:\n", "  image2:\n")
    new = history.commit({"heater.yaml": "entrypoint: main.yaml\n", "main.yaml": NEW_REQUIRED,
                          "env.yaml": "parameter_defaults:\n  image: cirros\n",
                          "template.yaml": nested})
    comparison = compare_commits(history.repo, old, new)
    roles = {f.path: (f.old_path, f.role, f.impact) for f in comparison.files}
    assert roles == {
        # Callers deployed template.yaml and now deploy main.yaml: compared.
        "main.yaml": ("template.yaml", "entrypoint", Impact.MAJOR),
        "env.yaml": (None, "environment", Impact.MINOR),
        # No longer the entry point: its removed parameter is capped at minor.
        "template.yaml": ("template.yaml", "nested", Impact.MINOR),
    }
    assert comparison.verdict is Impact.MAJOR
    gone = history.commit({}, remove=("main.yaml",))
    assert compare_commits(history.repo, new, gone).verdict is Impact.MAJOR


def test_policy_off_allows_anything(history: History) -> None:
    history.tag("v1.0.0")
    new = history.commit({"template.yaml": NEW_REQUIRED})
    assert check_version_bump(history.repo, "1.0.1", new) is None


def test_policy_refuses_a_bump_too_small(history: History) -> None:
    history.commit({"heater.yaml": ENFORCE}, tag="v1.0.0")
    history.commit({"template.yaml": NEW_OPTIONAL}, tag="v1.1.0-rc.1")
    new = history.commit({"template.yaml": NEW_REQUIRED})
    with pytest.raises(VersionBumpTooSmall) as caught:
        check_version_bump(history.repo, "v1.1.0", str(new.id))  # a SHA will do
    error = caught.value
    assert isinstance(error, Conflict) and error.code == "version_bump_too_small"
    # Compared with the last release, not the pre-release in between.
    assert (str(error.check.old), error.check.required, error.check.bump) == (
        "1.0.0", Impact.MAJOR, Impact.MINOR)
    assert "parameters/flavor added" in error.message and "1.0.0" in error.message
    assert error.reasons == ["template.yaml: parameters/flavor added: "
                             "new parameter without a default: callers must pass it"]
    passed = check_version_bump(history.repo, Version.parse("2.0.0"), new)
    assert passed is not None and passed.sufficient and passed.required is Impact.MAJOR


def test_policy_shifts_below_one(history: History) -> None:
    history.commit({"heater.yaml": ENFORCE}, tag="0.3.0")
    new = history.commit({"template.yaml": NEW_REQUIRED})
    assert check_version_bump(history.repo, "0.4.0", new) is not None
    with pytest.raises(VersionBumpTooSmall):
        check_version_bump(history.repo, "0.3.1", new)


def test_first_release_and_bad_versions(history: History) -> None:
    history.commit({"heater.yaml": ENFORCE})
    assert check_version_bump(history.repo, "1.0.0", history.at("HEAD")) is None
    with pytest.raises(InvalidVersion):
        check_version_bump(history.repo, "one", history.at("HEAD"))


def test_other_broken_yaml_is_not_the_templates_business(history: History) -> None:
    old = history.commit({"ci.yml": "steps: [a]\n"})
    new = history.commit({"ci.yml": "steps: [a\n"})
    assert compare_commits(history.repo, old, new).verdict is Impact.PATCH


def test_admission_refuses_a_version_tag_too_small(history: History) -> None:
    history.commit({"heater.yaml": ENFORCE}, tag="v1.0.0")
    new = history.commit({"template.yaml": NEW_REQUIRED})
    minor = [RefUpdate(ZERO_OID, str(new.id), "refs/tags/v1.1.0")]
    with pytest.raises(VersionBumpTooSmall):
        admit(history.repo, minor, admin=False)
    [line] = problems_for(history.repo, minor, admin=False)
    assert line.startswith("refs/tags/v1.1.0: version 1.1.0 is a minor bump over 1.0.0")
    major = [RefUpdate(ZERO_OID, str(new.id), "refs/tags/v2.0.0")]
    admit(history.repo, major, admin=False)
    assert problems_for(history.repo, major, admin=False) == []


def test_pushed_version_tag_too_small_is_refused(server: Server, git: Git, ns: str,
                                                 tmp_path: Path) -> None:
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD,
                                            "heater.yaml": ENFORCE})
    git.run("tag", "v1.0.0", cwd=work)
    url = server.auth_url(f"{ns}/app.git", server.token("writer", ns))
    git.run("push", url, "main", "v1.0.0", cwd=work)
    git.commit(work, {"template.yaml": NEW_REQUIRED}, "flavor is now required")
    git.run("tag", "-a", "v1.1.0", "-m", "more", cwd=work)
    proc = git.run("push", url, "main", "v1.1.0", cwd=work, check=False)
    assert proc.returncode != 0
    assert ("remote: refs/tags/v1.1.0: version 1.1.0 is a minor bump over 1.0.0, but the "
            "changes since 1.0.0 need a major bump") in proc.stderr
    assert "parameters/flavor added" in proc.stderr
    refs = git.run("ls-remote", url, cwd=work).stdout
    assert "refs/tags/v1.1.0" not in refs
    assert refs.count("refs/heads/main") == 1 and git.run(
        "rev-parse", "HEAD~1", cwd=work).stdout.strip() in refs  # main did not move
    git.run("tag", "-d", "v1.1.0", cwd=work)
    git.run("tag", "v2.0.0", cwd=work)
    git.run("push", url, "main", "v2.0.0", cwd=work)
    assert "refs/tags/v2.0.0" in git.run("ls-remote", url, cwd=work).stdout
