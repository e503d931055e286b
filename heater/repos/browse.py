"""Browsing a repository without cloning it: the tree at a ref and a path,
the branches, the tags, and where a ref ends in a URL that also holds a path.

Pure readers of a :class:`~heater.repos.view.RepoView` (no access checks, no
HTTP): the REST API and the web pages both show what these return. Heater's
hidden refs (``refs/heater/``) are never listed.

A branch or tag name may contain ``/`` (``feature/login``), so in a URL
``<ref>/<path>`` the ref does not end at the first ``/``. :func:`split_ref`
takes the longest leading run of segments that names a branch or tag, as
GitHub does, else the first segment (a version, ``latest``, a SHA, or a
name that does not exist and is reported as such). Git itself keeps the
rule unambiguous within one kind: ``feature`` and ``feature/login`` cannot
both be branches. Across kinds (a branch ``a`` beside a tag ``a/b``) the
longer name wins; a commit SHA always reaches the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pygit2

from heater.clock import utc_iso
from heater.errors import InvalidInput, NotFound
from heater.git.identity import actor
from heater.git.objects import peel_commit
from heater.git.trees import FileNotInTree
from heater.names import RepoId, check_repo_path, check_short_ref
from heater.repos.resolve import Resolved
from heater.repos.store import Kind
from heater.repos.versions import Version
from heater.repos.view import RepoView

if TYPE_CHECKING:
    from heater.auth.tokens import Caller
    from heater.registry import Registry

BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"

# Entry types by git file mode; anything else (a tree is found by type).
_TYPES = {pygit2.GIT_FILEMODE_BLOB: "file", pygit2.GIT_FILEMODE_BLOB_EXECUTABLE: "file",
          pygit2.GIT_FILEMODE_LINK: "symlink", pygit2.GIT_FILEMODE_COMMIT: "submodule"}


class DirectoryNotFound(FileNotInTree):
    """No directory at a path of a tree (missing, or a file): the same
    ``file_not_found`` as a missing file, said of a directory."""

    def __init__(self, path: str, where: str, is_file: bool) -> None:
        NotFound.__init__(self, f"{path!r} is a file at {where}, not a directory; read it by "
                          "its raw URL" if is_file else f"no directory {path!r} at {where}")
        self.path = path


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a directory: ``type`` is ``file``, ``directory``,
    ``symlink`` or ``submodule``; ``size`` is in bytes for files and
    symlinks (the length of the target), None otherwise; ``object_id`` is
    the git object (blob, tree, or a submodule's commit)."""

    name: str
    path: str
    type: str
    mode: str
    size: int | None
    object_id: str

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "path": self.path, "type": self.type, "mode": self.mode,
                "size": self.size, "object_id": self.object_id}


@dataclass(frozen=True)
class Tree:
    """A directory of the repository at a resolved ref."""

    resolved: Resolved
    path: str
    entries: list[TreeEntry]


def split_ref(git: pygit2.Repository, ref_and_path: str, *,
              path_required: bool) -> tuple[str, str]:
    """``ref_and_path`` (``feature/login/files/a.sh``) split into the ref and
    the path (``feature/login``, ``files/a.sh``) by the rule of this module.
    With ``path_required``, the ref never takes the last segment."""
    segments = ref_and_path.split("/")
    last = len(segments) - 1 if path_required else len(segments)
    for end in range(last, 1, -1):
        name = "/".join(segments[:end])
        if _names_a_ref(git, name):
            return name, "/".join(segments[end:])
    return segments[0], "/".join(segments[1:])


def _names_a_ref(git: pygit2.Repository, name: str) -> bool:
    """Whether ``name`` is a branch or tag; a name no ref may have is none
    (libgit2 refuses to look some of those up)."""
    try:
        check_short_ref(name)
        return any(prefix + name in git.references for prefix in (BRANCH_PREFIX, TAG_PREFIX))
    except (InvalidInput, ValueError):
        return False


def default_branch(git: pygit2.Repository) -> str | None:
    """The branch HEAD names (even before it has a commit), or None."""
    try:
        target = git.references["HEAD"].target
    except (KeyError, pygit2.GitError):
        return None
    if isinstance(target, str) and target.startswith(BRANCH_PREFIX):
        return target[len(BRANCH_PREFIX):]
    return None


def tree(view: RepoView, ref: str, path: str) -> Tree:
    """The entries of the directory ``path`` (``""``: the top) at ``ref``,
    directories first, then by name."""
    return tree_at(view, view.resolve(ref), path)


def tree_at(view: RepoView, resolved: Resolved, path: str) -> Tree:
    """:func:`tree` at a ref already resolved."""
    top = resolved.commit.tree
    directory: pygit2.Object = top
    if path:
        check_repo_path(path)
        try:
            directory = top[path]
        except KeyError:
            raise DirectoryNotFound(path, _where(resolved), is_file=False) from None
        if not isinstance(directory, pygit2.Tree):
            raise DirectoryNotFound(path, _where(resolved), is_file=True)
    assert isinstance(directory, pygit2.Tree)
    entries = [_entry(view.git, entry, path) for entry in directory]
    entries.sort(key=lambda e: (e.type != "directory", e.name))
    return Tree(resolved, path, entries)


def _where(resolved: Resolved) -> str:
    return f"{resolved.ref} ({resolved.sha[:12]})"


def _entry(git: pygit2.Repository, entry: pygit2.Object, base: str) -> TreeEntry:
    name = entry.name or ""
    mode = entry.filemode
    if isinstance(entry, pygit2.Tree):
        kind, size = "directory", None
    else:
        kind = _TYPES.get(mode, "file")
        # From the object header: a large file is not inflated to be listed.
        size = git.odb.read_header(entry.id)[1] if kind != "submodule" else None
    return TreeEntry(name, f"{base}/{name}" if base else name, kind, f"{mode:06o}", size,
                     str(entry.id))


def branches(git: pygit2.Repository) -> list[dict[str, object]]:
    """Every branch, by name: ``name``, ``commit``, ``default``."""
    default = default_branch(git)
    found = []
    for name in sorted(git.references):
        if not name.startswith(BRANCH_PREFIX):
            continue
        commit = peel_commit(git, git.references[name].target)
        if commit is None:
            continue
        short = name[len(BRANCH_PREFIX):]
        found.append({"name": short, "commit": str(commit.id), "default": short == default})
    return found


def tags(git: pygit2.Repository) -> list[dict[str, object]]:
    """Every tag of a commit: versions first, newest first, then the other
    tags by name. Each has ``name``, ``commit``, ``version`` (the version it
    tags, without ``v``, or None), and for an annotated tag ``tagger``,
    ``message`` and ``created_at`` (else None)."""
    found: list[dict[str, object]] = []
    for name in git.references:
        if not name.startswith(TAG_PREFIX):
            continue
        target = git.get(git.references[name].target)
        commit = peel_commit(git, target)
        if commit is None:  # a tag of a tree or blob: not a ref a reader can use
            continue
        short = name[len(TAG_PREFIX):]
        version = Version.try_parse(short)
        annotated = target if isinstance(target, pygit2.Tag) else None
        tagger = annotated.tagger if annotated is not None else None
        found.append({
            "name": short,
            "commit": str(commit.id),
            "version": str(version) if version is not None else None,
            "tagger": actor(tagger) if tagger is not None else None,
            "message": annotated.message if annotated is not None else None,
            "created_at": utc_iso(tagger.time) if tagger is not None else None,
        })
    versions = [tag for tag in found if tag["version"] is not None]
    versions.sort(key=lambda tag: Version.parse(str(tag["name"])), reverse=True)
    others = sorted((tag for tag in found if tag["version"] is None),
                    key=lambda tag: str(tag["name"]))
    return versions + others


class Browse:
    """Browsing as a caller: each method checks that ``caller`` may read
    the repository (of ``kind``) and reads it through one view."""

    def __init__(self, registry: Registry, kind: Kind) -> None:
        self.registry = registry
        self.kind = kind

    def _read(self, caller: Caller, repo: RepoId,
              read: Callable[[RepoView], Any]) -> Any:
        with self.registry.view(caller, repo, self.kind) as view:
            return read(view)

    def tree(self, caller: Caller, repo: RepoId, ref_and_path: str) -> Tree:
        """The directory named by ``<ref>[/<path>]`` (see :func:`split_ref`)."""
        def read(view: RepoView) -> Tree:
            ref, path = split_ref(view.git, ref_and_path.rstrip("/"), path_required=False)
            return tree(view, ref, path)
        result: Tree = self._read(caller, repo, read)
        return result

    def branches(self, caller: Caller, repo: RepoId) -> tuple[list[dict[str, object]],
                                                             str | None]:
        """The branches, and the default branch's name."""
        result: tuple[list[dict[str, object]], str | None] = self._read(
            caller, repo, lambda view: (branches(view.git), default_branch(view.git)))
        return result

    def tags(self, caller: Caller, repo: RepoId) -> list[dict[str, object]]:
        result: list[dict[str, object]] = self._read(caller, repo, lambda view: tags(view.git))
        return result
