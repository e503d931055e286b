"""The README's examples, run in the order written on a fresh server: every
``sh`` block from "Using it" up to "Running it", as one shell script
(synopses, which are no shell, are ``text`` blocks).

Only what cannot run here is left out: ``openstack`` commands and the block
that posts to a Heat endpoint. The server's address replaces the README's
``127.0.0.1:8080``; ``curl`` fails on an error status, so an example that
answers 4xx fails the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, Server, git_env, start_server, stop_server
from tests.services.debian import ensure_packages

README = REPO_ROOT / "README.md"
FIRST, LAST = "## Using it", "## Running it"
SKIPPED_BLOCK = "$HEAT_ENDPOINT"
SKIPPED_LINE = re.compile(r"^openstack ")


def examples() -> str:
    """The README's runnable examples, in order, as one script."""
    text = README.read_text()
    start, end = text.index(f"\n{FIRST}\n"), text.index(f"\n{LAST}\n")
    blocks = re.findall(r"^```sh\n(.*?)^```$", text[start:end], flags=re.S | re.M)
    assert blocks, "no sh examples found between the sections"
    kept = [block for block in blocks if SKIPPED_BLOCK not in block]
    return "".join(line for block in kept for line in block.splitlines(keepends=True)
                   if not SKIPPED_LINE.match(line))


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path / "data", tmp_path / "server.log", workers=1)
    yield server
    stop_server(server)


def test_readme_examples_run_in_order(own_server: Server, tmp_path: Path) -> None:
    curl = ensure_packages("curl", program="curl")
    ensure_packages("jq", program="jq")
    work = tmp_path / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    wrapper = work / ".venv" / "bin" / "heater"  # as the quick start installs it
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m heater "$@"\n')
    wrapper.chmod(0o755)
    host = own_server.url.removeprefix("http://")
    script = ("set -euo pipefail\n"
              # A newline after each answer, so that the log reads; the
              # function fails when curl does.
              f'curl() {{ "{curl}" --fail-with-body -sS "$@" && echo; }}\n'
              + examples().replace("127.0.0.1:8080", host))
    home = tmp_path / "home"
    home.mkdir()
    env = {**git_env(home), "HEATER_DATA_DIR": str(own_server.data_dir),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    # The patch from 1.2.0 to main reached the clone made at 1.2.0.
    assert "m1.medium" in (work / "web-copy" / "template.yaml").read_text()
    assert (work / "copy.qcow2").read_bytes() == (work / "disk.qcow2").read_bytes()
