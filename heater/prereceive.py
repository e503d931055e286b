"""The git ``pre-receive`` hook: refuse a push before any ref moves.

``git receive-pack`` runs the hook after it has received the pack into a
quarantine directory and before it updates a single ref. The hook reads
``<old> <new> <ref>`` lines, applies :mod:`heater.refrules` to all of them
and :mod:`heater.validation` to the tree of every branch and tag that
moves, and exits non-zero with one ``<file>:<line>: <reason>`` line per
problem on stderr, which git shows as ``remote: ...``. Git then refuses
every ref of the push and deletes the quarantine: nothing of it is left.

The server installs the hook into the data directory's ``hooks/`` (shared
through ``core.hooksPath``) at start-up; it runs with the server's own
interpreter. It runs once per push, so it imports only what it needs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import pygit2

from heater.refrules import BRANCH_PREFIX, TAG_PREFIX, RefUpdate, check_updates, peel_commit
from heater.validation import GitTreeSource, changes_between, validate

HOOK_NAME = "pre-receive"
# Names the relay socket of the server process that runs the push.
SOCKET_ENV = "HEATER_HOOK_SOCKET"


_HOOK_TEMPLATE = """#!{python} -IS
# Installed by heater at start-up; edits are overwritten.
# Relays the push to the server process that received it, where validation
# has everything loaded; without one, validates in a process of its own.
import os, socket, sys
address = os.environ.get("{socket_env}")
if not address:
    os.execv(sys.executable, [sys.executable, "-I", "-m", "heater.prereceive"])
request = (os.environ.get("GIT_QUARANTINE_PATH", "") + "\\n").encode() + sys.stdin.buffer.read()
with socket.socket(socket.AF_UNIX) as conn:
    conn.connect("\\0" + address)
    conn.sendall(request)
    conn.shutdown(socket.SHUT_WR)
    reply = b"".join(iter(lambda: conn.recv(65536), b""))
status, _, text = reply.partition(b"\\n")
sys.stderr.write(text.decode("utf-8", "replace"))
sys.exit(0 if status == b"0" else 1)
"""


def hook_script(python: str = sys.executable) -> str:
    """The hook file's text: a Python script run by this interpreter, isolated
    (-I) and without site-packages (-S) so that it starts in milliseconds."""
    return _HOOK_TEMPLATE.format(python=python, socket_env=SOCKET_ENV)


def install(hooks_dir: Path) -> Path:
    """Write the hook into ``hooks_dir`` unless it is already there, atomically
    (several workers may start at once)."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    path = hooks_dir / HOOK_NAME
    text = hook_script()
    try:
        if path.read_text() == text and os.access(path, os.X_OK):
            return path
    except OSError:
        pass
    scratch = hooks_dir / f".{HOOK_NAME}.{os.getpid()}.tmp"
    scratch.write_text(text)
    scratch.chmod(0o755)
    os.replace(scratch, path)
    return path


def parse_updates(lines: Sequence[str]) -> list[RefUpdate]:
    updates = []
    for line in lines:
        parts = line.split(" ", 2)
        if len(parts) == 3:
            updates.append(RefUpdate(parts[0], parts[1], parts[2].rstrip("\n")))
    return updates


def open_repository(environ: Mapping[str, str]) -> pygit2.Repository:
    """The repository being pushed to, seeing the quarantined objects too."""
    git = pygit2.Repository(environ.get("GIT_DIR", "."))
    quarantine = environ.get("GIT_QUARANTINE_PATH")
    if quarantine:
        git.odb.add_disk_alternate(quarantine)
    return git


def problems_for(git: pygit2.Repository, updates: list[RefUpdate], admin: bool) -> list[str]:
    """Every reason to refuse this push; empty to accept it."""
    problems = check_updates(git, updates, admin)
    if problems:
        return problems
    default = _default_tip(git)
    seen: set[tuple[str | None, str]] = set()
    for update in updates:
        if update.deleted or not update.ref.startswith((BRANCH_PREFIX, TAG_PREFIX)):
            continue
        new = peel_commit(git, update.new)
        if new is None:
            continue  # refrules already refused it
        # Compare with what was already accepted: the old tip, else the
        # default branch; only the difference needs checking.
        base = peel_commit(git, update.old) if not update.created else default
        key = (str(base.id) if base is not None else None, str(new.id))
        if key in seen or (base is not None and base.id == new.id):
            continue
        seen.add(key)
        changes = changes_between(git, base.tree if base is not None else None, new.tree)
        problems.extend(str(p) for p in validate(GitTreeSource(new.tree), changes))
    return problems


def _default_tip(git: pygit2.Repository) -> pygit2.Commit | None:
    try:
        commit = git.head.peel(pygit2.Commit)
    except (pygit2.GitError, KeyError, ValueError):
        return None
    return commit if isinstance(commit, pygit2.Commit) else None


def report(problems: list[str]) -> str:
    """What the git user sees (as ``remote:`` lines) for these problems."""
    if not problems:
        return ""
    lines = dict.fromkeys(problems)  # the same problem via two refs: say it once
    return "".join(f"{line}\n" for line in lines) + "push refused: nothing was changed\n"


def run(stdin: TextIO, stderr: TextIO, environ: Mapping[str, str]) -> int:
    """The hook in a process of its own (when no server relays it)."""
    updates = parse_updates(stdin.readlines())
    git = open_repository(environ)
    try:
        problems = problems_for(git, updates, environ.get("HEATER_ROLE") == "admin")
    finally:
        git.free()
    stderr.write(report(problems))
    return 1 if problems else 0


def main() -> int:
    return run(sys.stdin, sys.stderr, os.environ)


if __name__ == "__main__":
    sys.exit(main())
