"""Reading a large blob in bounded chunks.

libgit2 inflates a blob whole into memory before pygit2 hands out a byte
of it (``Blob.data``, and ``BlobIO`` too, which only filters the inflated
buffer): four downloads of a 256 MiB file held a gigabyte. Large blobs are
read by ``git cat-file`` instead, whose output is passed on chunk by chunk;
with ``core.bigFileThreshold`` low, git itself streams the object from its
pack or loose file rather than inflating it first.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from heater.git.command import git_argv, git_env

CHUNK = 64 * 1024
# Below this a blob is read in-process: a process per small template costs
# more than the memory it saves.
STREAM_ABOVE = 1024 * 1024


class BlobStream:
    """The content of one blob, from a ``git cat-file`` process.

    Iterate for the chunks; ``close()`` (which the WSGI server calls when
    the response ends or the client goes away) ends the process.
    """

    def __init__(self, repo_path: Path, oid: str) -> None:
        argv = git_argv(repo_path, ["-c", f"core.bigFileThreshold={STREAM_ABOVE}",
                                    "-C", str(repo_path), "cat-file", "blob", oid])
        self.proc = subprocess.Popen(argv, env=git_env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def __iter__(self) -> Iterator[bytes]:
        stdout = self.proc.stdout
        assert stdout is not None
        while chunk := os.read(stdout.fileno(), CHUNK):
            yield chunk
        self.close()

    def close(self) -> None:
        """End the process (idempotent), killing it if it is still writing."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
