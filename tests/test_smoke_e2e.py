from pathlib import Path

from tests.conftest import HELLO_WORLD, Git, Server


def test_push_then_clone(server: Server, git: Git, ns: str, tmp_path: Path) -> None:
    token = server.token("writer", ns)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", server.auth_url(f"{ns}/web.git", token), "main", cwd=work)
    clone = tmp_path / "clone"
    git.run("clone", f"{server.url}/{ns}/web.git", str(clone))
    assert (clone / "template.yaml").read_text() == HELLO_WORLD
