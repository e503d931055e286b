"""Name, ref and path validation: the one gate before disk and git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from heater.names import (
    InvalidName,
    RepoId,
    check_blob_id,
    check_name,
    check_new_ref_name,
    check_ref_name,
    check_repo_path,
    check_short_ref,
    check_uuid,
)
from heater.paths import Layout, PathEscape
from heater.repos.versions import Version


@pytest.mark.parametrize("name", ["web", "a", "0x", "my.tpl_1-2", "a" * 63])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", [
    "", "-x", ".x", "_x", "A", "a/b", "..", "x.git", "api", "healthz", "-", "a" * 64,
    "a b", "a\x00", "é", "web\n",
])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidName):
        check_name(name)


@pytest.mark.parametrize("ref", [
    "refs/heads/-x", "refs/tags/--force", "refs/heads/a..b", "refs/heads/a\x01",
    "refs/heads/a b", "refs/heads/.x", "refs/heads/x.lock", "refs/heads/x/", "refs//x",
    "refs/heads/a@{1}", "refs/heads/a~1", "refs/heads/a:b",
])
def test_invalid_refs(ref: str) -> None:
    with pytest.raises(InvalidName):
        check_ref_name(ref)


@pytest.mark.parametrize("path", [
    "../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\x00b", "a\\b", "", "x/..",
    ".git/config", "files/.GIT/hooks/x", ".git",
])
def test_invalid_repo_paths(path: str) -> None:
    with pytest.raises(InvalidName):
        check_repo_path(path)


def test_layout_keeps_paths_inside(tmp_path: object) -> None:
    layout = Layout(tmp_path)  # type: ignore[arg-type]
    path = layout.repository(RepoId("acme", "web"))
    assert str(path).endswith("git/acme/web.git")
    with pytest.raises(InvalidName):
        RepoId("..", "web")
    # A name that escaped validation still cannot leave the data directory.
    for escaping in ("../..", "../../x", "a/../../../x", "/etc"):
        with pytest.raises(PathEscape):
            layout.namespace_dir(escaping)


def test_a_short_ref_is_named_as_given() -> None:
    with pytest.raises(InvalidName, match=r"^invalid ref 'HEAD~1': contains"):
        check_short_ref("HEAD~1")
    with pytest.raises(InvalidName, match=r"^invalid ref 'refs/heads/-x': a component"):
        check_short_ref("refs/heads/-x")


SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = SHA1 + "89abcdef0123456789abcdef"


@pytest.mark.parametrize("ref", [
    f"refs/heads/{SHA1}", f"refs/tags/{SHA1}", f"refs/heads/{SHA256}",
    f"refs/heads/{SHA1.upper()}", f"refs/heads/feature/{SHA1}", f"refs/tags/{SHA1}/x",
    "refs/heads/HEAD", "refs/tags/HEAD", "refs/heads/@",
])
def test_a_new_ref_may_not_read_as_a_sha_or_the_current_commit(ref: str) -> None:
    with pytest.raises(InvalidName):
        check_new_ref_name(ref)


@pytest.mark.parametrize("ref", [
    "refs/heads/main", f"refs/heads/{SHA1[:39]}", f"refs/heads/{SHA1}0", "refs/tags/v1.0.0",
    f"refs/heads/x{SHA1}", "refs/heads/HEADS", "refs/heads/head",
])
def test_a_new_ref_may_be_hex_that_is_not_a_full_sha(ref: str) -> None:
    assert check_new_ref_name(ref) == ref


@pytest.mark.parametrize("branch", [
    "main", "feature/x", "HEAD", "-x", "a..b", "x.lock", "a@{1}", "@{-1}", "a b",
    ".x", "x/", "a~1", "a^", "a:b", "a?b", "a*b", "a[b", "a\\b", "x.", "a//b", "a/.b",
    "v1.0.0", "deadbeef",
])
def test_new_branch_names_refused_as_git_refuses_them(branch: str, tmp_path: Path) -> None:
    """Whatever ``git check-ref-format --branch`` refuses is refused too."""
    git = subprocess.run(["git", "check-ref-format", "--branch", branch], cwd=tmp_path,
                         capture_output=True, check=False)
    try:
        check_new_ref_name(f"refs/heads/{branch}")
        ours = True
    except InvalidName:
        ours = False
    assert ours == (git.returncode == 0)


@pytest.mark.parametrize("value", ["1.2.0\n", "v1.2.0\n", "1.2.0-rc.1\n", "1.2.0+b1\n"])
def test_a_version_with_a_trailing_newline_is_refused(value: str) -> None:
    assert Version.try_parse(value) is None
    assert Version.try_parse(value.rstrip("\n")) is not None


def test_ids_with_a_trailing_newline_are_refused() -> None:
    with pytest.raises(InvalidName):
        check_uuid("1b4e28ba-2fa1-4d3b-883f-0016d3cca427\n")
    with pytest.raises(InvalidName):
        check_blob_id("abc\n")
