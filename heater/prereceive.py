"""The git ``pre-receive`` hook: refuse a push before any ref moves.

``git receive-pack`` runs the hook after it has received the pack into a
quarantine directory and before it updates a single ref. The hook reads
``<old> <new> <ref>`` lines, asks :mod:`heater.admission` whether they may
land, and exits non-zero with one ``<file>:<line>: <reason>`` line per
problem on stderr, which git shows as ``remote: ...``. Git then refuses
every ref of the push and deletes the quarantine: nothing of it is left.

The server installs the hook into the data directory's ``hooks/`` (shared
through ``core.hooksPath``) at start-up. The hook is a shell script: during
a push through the server it hands its input to the server process
(:mod:`heater.hookrelay`); run by git without that server (a local push by
an operator), it runs this module with the server's interpreter.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import pygit2

from heater.admission import problems_for
from heater.refrules import RefUpdate

HOOK_NAME = "pre-receive"
# Names the directory of the pipes to the server process that runs the push.
PIPES_ENV = "HEATER_HOOK_PIPES"
# Names a descriptor the hook inherits: the read end of a pipe that only the
# server process writes to, so that its death reaches the hook as end-of-file.
ALIVE_ENV = "HEATER_HOOK_ALIVE"


_HOOK_TEMPLATE = """#!/bin/sh
# Installed by heater at start-up; edits are overwritten.
# Hands the push to the server process that received it, where validation
# has everything loaded, through two named pipes; without that server,
# validates in a process of its own. Any failure refuses the push.
if [ -z "${pipes_env}" ]; then
    exec {python} -I -m heater.prereceive
fi
# Nothing opens the other ends of the pipes once the server process is dead
# (a killed worker): a watchdog then sees end-of-file on the pipe that process
# holds, and stops this hook rather than let it and git wait for ever.
watchdog=
if [ -n "${alive_env}" ]; then
    ( read -r _ < "/dev/fd/${alive_env}"; kill -TERM $$ ) 2>/dev/null &
    watchdog=$!
fi
# Shell builtins only: each cat would be a fork and an exec, a few ms a push.
{{ printf '%s\\n' "$GIT_QUARANTINE_PATH" &&
  while IFS= read -r line; do printf '%s\\n' "$line"; done; }} > "${pipes_env}/request" &&
    {{ read -r status &&
      while IFS= read -r line || [ -n "$line" ]; do printf '%s\\n' "$line" >&2; done; }} \\
        < "${pipes_env}/reply"
done=$?
[ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null
[ "$done" = 0 ] && [ "$status" = 0 ]
"""


def hook_script(python: str = sys.executable) -> str:
    """The hook file's text: a POSIX shell script, which starts in a
    millisecond where a Python process takes tens (and pygit2 hundreds)."""
    return _HOOK_TEMPLATE.format(python=shlex.quote(python), pipes_env=PIPES_ENV,
                                 alive_env=ALIVE_ENV)


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
