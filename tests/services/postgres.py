"""A real PostgreSQL server for the tests, started from ``initdb`` in a
temporary directory: one per test session, a database per test or module.

PostgreSQL refuses to run as root, so when the tests run as root the
cluster belongs to the Debian ``postgres`` user (its directory too) and the
tests, still root, connect over TCP on 127.0.0.1 with ``trust``
authentication: nothing outside this machine can reach it.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from tests.services.debian import ensure_packages
from tests.services.process import Service, free_port

# Debian's postgresql package puts the server programs here, not on PATH.
_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SERVICE_USER = "postgres"


def _bin_dir() -> Path:
    """The newest installed PostgreSQL's programs, installing Debian's
    ``postgresql`` first if there is none."""
    found = sorted(Path("/").glob(_BIN_GLOB.lstrip("/")),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not found:
        ensure_packages("postgresql", program="/usr/lib/postgresql/15/bin/initdb")
        found = sorted(Path("/").glob(_BIN_GLOB.lstrip("/")))
    return found[-1]


class PostgresServer:
    """One cluster: ``initdb`` then ``postgres`` as a background service."""

    def __init__(self, root: Path, durable: bool = False) -> None:
        self.root = root
        bin_dir = _bin_dir()
        self.port = free_port()
        data = root / "data"
        user = SERVICE_USER if os.geteuid() == 0 else None
        root.mkdir(parents=True, exist_ok=True)
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in root.parents:
                # The server must reach its directory: every directory above
                # it (a temporary one is made 0700) opened for others to
                # traverse.
                if not path.stat().st_mode & 0o001:
                    path.chmod(path.stat().st_mode | 0o001)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        done = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            capture_output=True, text=True, user=user, cwd=root, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}{done.stderr}")
        # Durability is not what the tests check: fsync off keeps them fast.
        # A benchmark runs durable, with a modest production's buffers.
        settings = (["shared_buffers=256MB"] if durable else
                    ["fsync=off", "synchronous_commit=off", "full_page_writes=off",
                     "shared_buffers=64MB"])
        self.service = Service(
            "postgresql",
            [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
             "-c", "max_connections=200",
             *(arg for setting in settings for arg in ("-c", setting))],
            root / "postgres.log", cwd=root, user=user)
        self.service.wait_ready(self._accepts, seconds=60)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.dsn(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, prefix: str = "heater") -> str:
        """A new empty database; its DSN."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        self.service.stop()
        shutil.rmtree(self.root, ignore_errors=True)


_SHARED: PostgresServer | None = None
_DSN_FILE = "postgres.dsn"


def shared_server() -> PostgresServer:
    """This test process's server, started at its first use and stopped at
    exit (or by the ``postgres`` session fixture)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = PostgresServer(Path(tempfile.mkdtemp(prefix="heater-pg-")))
        atexit.register(stop_shared_server)
    return _SHARED


def stop_shared_server() -> None:
    global _SHARED
    if _SHARED is not None:
        _SHARED.stop()
        _SHARED = None


def database_for(tmp: Path) -> str:
    """The DSN of the database that belongs to the test directory ``tmp``:
    created on the shared server at first, then read from ``tmp`` (so
    that processes a test starts find the same database)."""
    path = tmp / _DSN_FILE
    if path.exists():
        return path.read_text()
    dsn = shared_server().create_database()
    path.write_text(dsn)
    return dsn
