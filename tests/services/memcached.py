"""A real memcached for tests (Debian's package, installed when missing)."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tests.services.debian import ensure_packages
from tests.services.process import Service, free_port, port_open


@dataclass
class Memcached:
    service: Service
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stats(self) -> dict[str, str]:
        """memcached's ``stats``: counters such as ``cmd_set``, ``get_hits``."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            conn.sendall(b"stats\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        return {parts[1]: parts[2] for parts in (line.split() for line in
                                                  data.decode().splitlines())
                if len(parts) == 3 and parts[0] == "STAT"}

    def stop(self) -> None:
        self.service.stop()


def memcached_service(port: int, log: Path) -> Service:
    """memcached started on local ``port`` (TCP only), installed if missing;
    the caller waits until it answers."""
    program = ensure_packages("memcached", program="memcached")
    user = ["-u", getpass.getuser()] if os.geteuid() == 0 else []  # memcached refuses root
    return Service("memcached", [program, "-l", "127.0.0.1", "-p", str(port), "-U", "0",
                                 *user], log)


def start_memcached(log_dir: Path) -> Memcached:
    """memcached on a free local port, ready to answer."""
    port = free_port()
    service = memcached_service(port, log_dir / "memcached.log")
    service.wait_ready(partial(port_open, port))
    return Memcached(service, port)
