"""The audit log: one JSON object per line for every write to a repository.

Each line says when (UTC, ISO 8601), who (the token name, null when
anonymous), what (the action), which repository, and what the action names
(``refs`` for a push, ``build`` for an image upload). Lines are appended
with one ``write`` of a file opened in append mode, so the lines of
concurrent workers, and of several nodes on one POSIX file system, do not
interleave.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from heater.auth.tokens import Caller
from heater.names import RepoId

log = logging.getLogger(__name__)


class AuditLog:
    """Appends write records to the file at ``path`` (created on first write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, caller: Caller, action: str, repo: RepoId,
               details: Mapping[str, object] | None = None) -> None:
        """Append one line; a log that cannot be written is reported in the
        server log, never fails the write it describes (which has happened)."""
        entry: dict[str, object] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "who": caller.name if caller else None,
            "action": action,
            "repository": str(repo),
            **(details or {}),
        }
        line = (json.dumps(entry, sort_keys=False) + "\n").encode()
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        except OSError:
            log.exception("cannot append to the audit log %s: %s", self.path, line.decode())
