"""Install Debian packages a test fixture needs, once, safely from many
xdist workers at a time.

A fixture that needs a real server (PostgreSQL, Swift, Keystone, Chromium...)
calls :func:`ensure_packages` with the packages and a program that proves
they are there; nothing is installed when the program is already found. If
the packages cannot be had, the fixture fails with apt-get's output: a test
never skips because a server is absent.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Servers live in /usr/sbin, which a non-root PATH may lack.
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
# apt-get update once per this many seconds, whoever asks (many fixtures do).
_UPDATE_EVERY = 3600.0
_LOCK = Path(tempfile.gettempdir()) / "heater-tests-apt.lock"
_STAMP = Path(tempfile.gettempdir()) / "heater-tests-apt.updated"
_TIMEOUT = 1200
DEBIAN_PYTHON = "/usr/bin/python3"  # the Python that Debian's python3-* packages belong to


class InstallFailed(RuntimeError):
    """apt-get could not install what a fixture needs; the message has its output."""


def find_program(name: str) -> str | None:
    """The path of ``name`` on PATH or in the sbin directories, or None."""
    if os.path.isabs(name):
        return name if os.access(name, os.X_OK) else None
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN_DIRS))


def ensure_packages(*packages: str, program: str) -> str:
    """The path of ``program``, after installing ``packages`` with apt-get if
    ``program`` is missing. Concurrent callers wait for one another."""
    _ensure(packages, program, lambda: find_program(program) is not None)
    found = find_program(program)
    if not found:
        raise InstallFailed(f"{program} still missing after apt-get install {' '.join(packages)}")
    return found


def ensure_module(*packages: str, module: str, python: str = DEBIAN_PYTHON) -> None:
    """Install ``packages`` with apt-get if Debian's ``python`` cannot import
    ``module`` (a library with no program of its own, such as a middleware)."""
    def importable() -> bool:
        return subprocess.run([python, "-c", f"import {module}"], capture_output=True,
                              check=False, timeout=120).returncode == 0

    _ensure(packages, f"the Python module {module}", importable)
    if not importable():
        raise InstallFailed(f"{module} still missing after apt-get install {' '.join(packages)}")


def _ensure(packages: Sequence[str], what: str, present: Callable[[], bool]) -> None:
    if present():
        return
    if shutil.which("apt-get") is None:
        raise InstallFailed(f"{what} is missing and apt-get is not available: "
                            f"install the Debian packages {' '.join(packages)}")
    with _LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer per machine, the others wait
        if present():  # installed while we waited
            return
        if _stale():
            _apt("update", "-q")
            _STAMP.touch()
        _apt("install", "-y", "-q", "--no-install-recommends", *packages)


def _stale() -> bool:
    try:
        return time.time() - _STAMP.stat().st_mtime > _UPDATE_EVERY
    except FileNotFoundError:
        return True


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    # Another apt (a person's, or a second test run) may hold dpkg's lock.
    command = [*sudo, "apt-get", "-o", "DPkg::Lock::Timeout=600", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=_TIMEOUT, check=False)
    if done.returncode != 0:
        raise InstallFailed(f"{' '.join(command)} failed ({done.returncode}):\n"
                            f"{done.stdout[-4000:]}{done.stderr[-4000:]}")
