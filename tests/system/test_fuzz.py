"""Fuzzing the REST API from its OpenAPI document (scripts/fuzz.py, with
schemathesis): no 5xx, and no status, content type or body the document
does not describe. A bounded run here (about a minute on a small shared
machine); ``scripts/fuzz`` is the long one."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, Server, start_server, stop_server

sys.path.insert(0, str(REPO_ROOT / "scripts"))

import fuzz

EXAMPLES = 10  # cases per operation and phase; the phases add boundary cases
SEED = 7  # the same cases every run: a failure here is reproducible
# The stateful phase (chains of calls) is the slow one: scripts/fuzz runs it.
PHASES = "examples,coverage,fuzzing"
# The whole run stops here, whatever is left: the suite stays bounded on a
# loaded machine (the coverage phase alone takes 30 to 90 s on two shared
# cores); fuzzing fills what the other phases leave.
MAX_SECONDS = 60
SERVER_ERROR = re.compile(r'HTTP/1\.[01]" 5\d\d ')  # in the access log


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: fuzzing creates repositories in any
    namespace, which the other tests' listings must not see."""
    root = tmp_path_factory.mktemp("fuzz")
    server = start_server(root / "data", root / "server.log")
    yield server
    stop_server(server)


def test_fuzzing_the_document_finds_nothing(fuzzed_server: Server, tmp_path: Path) -> None:
    token = fuzzed_server.token("admin")
    build = fuzz.seed(fuzzed_server.url, token)
    result = fuzz.run(fuzzed_server.url, token, build, tmp_path, examples=EXAMPLES,
                      seed_value=SEED, max_time=MAX_SECONDS, extra=["--phases", PHASES],
                      timeout=240)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    # The time bound must not leave operations out.
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested, result.stdout
    assert tested.group(1) == selected.group(2), result.stdout
    assert not SERVER_ERROR.search(fuzzed_server.log()), "a 5xx in the server log"
