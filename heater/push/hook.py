"""The git ``pre-receive`` hook: refuse a push before any ref moves.

``git receive-pack`` runs the hook after it has received the pack into a
quarantine directory and before it updates a single ref. The hook reads
``<old> <new> <ref>`` lines, asks :mod:`heater.push.admission` whether they may
land, and exits non-zero with one ``<file>:<line>: <reason>`` line per
problem on stderr, which git shows as ``remote: ...``. Git then refuses
every ref of the push and deletes the quarantine: nothing of it is left.

The server installs the hook into the data directory's ``hooks/`` (shared
through ``core.hooksPath``) at start-up. The hook is a shell script: during
a push through the server it hands its input to the server process over two
pipes inherited through git (:mod:`heater.push.relay`); run by git without
that server (a local push by an operator), it runs this module with the
server's interpreter.
"""

from __future__ import annotations

import io
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

import pygit2

from heater.config import Config
from heater.paths import hook_file, replacement
from heater.push.admission import Verdict, review
from heater.push.refrules import RefUpdate
from heater.push.sizes import oversized_files

HOOK_NAME = "pre-receive"
# Name the descriptors the hook inherits (through git) from the server
# process: the write end of the request pipe and the read end of the reply
# pipe, whose write end only that process holds.
REQUEST_ENV = "HEATER_HOOK_REQUEST"
REPLY_ENV = "HEATER_HOOK_REPLY"
# Ends a request: no ``<old> <new> <ref>`` line can be this.
REQUEST_END = "end"


_HOOK_TEMPLATE = """#!/bin/sh
# Installed by heater at start-up; edits are overwritten.
# Hands the push to the server process that received it, where validation
# has everything loaded, through two pipes inherited from it; without that
# server, validates in a process of its own. Any failure refuses the push.
if [ -z "${{{request_env}}}" ] || [ -z "${{{reply_env}}}" ]; then
    exec {python} -I -m heater.push.hook
fi
# The pipes are named /dev/fd/N: dash takes no multi-digit N in >&N. If the
# server process is gone, writing the request fails or the reply ends early.
# Shell builtins only: each cat would be a fork and an exec, a few ms a push.
{{ printf '%s\\n' "$GIT_QUARANTINE_PATH" &&
  while IFS= read -r line; do printf '%s\\n' "$line"; done &&
  printf '{end}\\n'; }} > "/dev/fd/${{{request_env}}}" &&
    {{ read -r status count && i=0 &&
      while [ "$i" -lt "$count" ] && IFS= read -r line; do
          printf '%s\\n' "$line" >&2
          i=$((i + 1))
      done; }} < "/dev/fd/${{{reply_env}}}" &&
    [ "$status" = 0 ]
"""


def hook_script(python: str = sys.executable) -> str:
    """The hook file's text: a POSIX shell script, which starts in a
    millisecond where a Python process takes tens (and pygit2 hundreds)."""
    return _HOOK_TEMPLATE.format(python=shlex.quote(python), request_env=REQUEST_ENV,
                                 reply_env=REPLY_ENV, end=REQUEST_END)


def install(hooks_dir: Path) -> Path:
    """Write the hook into ``hooks_dir`` unless it is already there, atomically
    (several workers may start at once)."""
    hooks_dir.mkdir(parents=True, exist_ok=True)
    path = hook_file(hooks_dir, HOOK_NAME)
    text = hook_script()
    try:
        if path.read_text() == text and os.access(path, os.X_OK):
            return path
    except OSError:
        pass
    scratch = replacement(path)
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


def report(problems: Sequence[str], warnings: Sequence[str] = ()) -> str:
    """What the git user sees (as ``remote:`` lines) for these problems, or,
    for a push that lands, for these warnings."""
    if not problems:
        # The same finding via two refs: say it once.
        return "".join(f"{line}\n" for line in dict.fromkeys(warnings))
    lines = dict.fromkeys(problems)
    return "".join(f"{line}\n" for line in lines) + "push refused: nothing was changed\n"


def run(stdin: TextIO, stderr: TextIO, environ: Mapping[str, str]) -> int:
    """The hook in a process of its own (when no server relays it)."""
    updates = parse_updates(stdin.readlines())
    git = open_repository(environ)
    quarantine = environ.get("GIT_QUARANTINE_PATH")
    try:
        # Sizes first: validation reads the files it checks.
        oversized = (oversized_files(git, quarantine, Config.load(environ=environ).max_blob_bytes)
                     if quarantine
                     else [])
        verdict = Verdict(oversized, []) if oversized else review(
            git, updates, environ.get("HEATER_ROLE") == "admin", pushed=True,
            quarantine=Path(quarantine) if quarantine else None)
    finally:
        git.free()
    stderr.write(report(verdict.problems, verdict.warnings))
    return 1 if verdict.problems else 0


def main() -> int:
    # Ref names are bytes: keep those that are not UTF-8 (check_ref_name
    # refuses them) instead of failing to read the input.
    for stream, errors in ((sys.stdin, "surrogateescape"), (sys.stderr, "backslashreplace")):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=errors)
    return run(sys.stdin, sys.stderr, os.environ)


if __name__ == "__main__":
    sys.exit(main())
