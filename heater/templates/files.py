"""Committing files given through the API, after the same checks as a push.

The files are validated as a whole tree first (:mod:`heater.templates.validation`),
written as git objects, and the branch moves by compare-and-swap under
git's ref lock, so an API write and a concurrent push cannot overwrite
each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pygit2

from heater.errors import InvalidValue
from heater.git.command import run_git
from heater.git.identity import signature
from heater.git.objects import ZERO_OID
from heater.names import check_repo_path
from heater.templates.validation import MappingSource, check

# The JSON body is limited to 1 MiB anyway; this bounds the tree we build.
MAX_FILES = 500


def parse_files(value: Any) -> dict[str, bytes]:
    """``{"path": "text"}`` from a request, paths validated, as bytes."""
    if not isinstance(value, dict):
        raise InvalidValue("files", "'files' must be an object of path to file content")
    if len(value) > MAX_FILES:
        raise InvalidValue("files", f"at most {MAX_FILES} files per request")
    files: dict[str, bytes] = {}
    for path, content in value.items():
        check_repo_path(path)
        if not isinstance(content, str):
            raise InvalidValue("files", f"the content of {path!r} must be a string")
        try:
            files[path] = content.encode("utf-8")
        except UnicodeEncodeError:  # an unpaired surrogate, which JSON can carry
            raise InvalidValue("files", f"the content of {path!r} is not valid Unicode "
                               "(an unpaired surrogate)") from None
    return files


def commit_initial(git: pygit2.Repository, branch: str, files: Mapping[str, bytes],
                   message: str, who: str) -> str:
    """Validate ``files`` and commit them as the first commit of ``branch``
    (which must not exist yet); returns the commit id."""
    check(MappingSource(files))
    tree = _write_tree(git, files)
    author = signature(who)
    commit = git.create_commit(None, author, author, message, tree, [])
    run_git(Path(git.path), ["update-ref", "-m", message.splitlines()[0],
                             f"refs/heads/{branch}", str(commit), ZERO_OID])
    return str(commit)


def _write_tree(git: pygit2.Repository, files: Mapping[str, bytes]) -> pygit2.Oid:
    """The tree of ``files`` (nested directories built bottom-up)."""
    # directory path ("" for the root) -> {entry name: blob id or None for a subtree}
    dirs: dict[str, dict[str, pygit2.Oid | None]] = {"": {}}
    for path, content in files.items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            parent, name = "/".join(parts[:depth - 1]), parts[depth - 1]
            dirs.setdefault("/".join(parts[:depth]), {})
            if dirs.setdefault(parent, {}).get(name, None) is not None:
                raise InvalidValue("files", f"{path!r} is below a file")
            dirs[parent][name] = None
        parent = "/".join(parts[:-1])
        if parts[-1] in dirs.setdefault(parent, {}):
            raise InvalidValue("files", f"{path!r} is both a file and a directory")
        dirs[parent][parts[-1]] = git.create_blob(content)
    written: dict[str, pygit2.Oid] = {}
    for directory in sorted(dirs, key=lambda d: d.count("/") + (d != ""), reverse=True):
        builder = git.TreeBuilder()
        for name, blob in dirs[directory].items():
            if blob is None:
                sub = f"{directory}/{name}" if directory else name
                builder.insert(name, written[sub], pygit2.enums.FileMode.TREE)
            else:
                builder.insert(name, blob, pygit2.enums.FileMode.BLOB)
        written[directory] = builder.write()
    return written[""]
