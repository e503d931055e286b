"""What operators see, end to end: /metrics across two workers, the access
log and the audit log, after real git pushes, clones and an upload."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from heater.auth.sqlite import SqliteTokenStore
from tests.conftest import HELLO_WORLD, Git, Server, start_server, stop_server
from tests.images_helpers import push as push_image
from tests.workers import wait_until

MAX_BLOB = 64 * 1024
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def observed(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path / "data", tmp_path / "server.log", workers=2,
                       env={"HEATER_AUDIT_LOG": str(tmp_path / "logs" / "audit.jsonl"),
                            "HEATER_MAX_BLOB_BYTES": str(MAX_BLOB)})
    yield srv
    stop_server(srv)


def scrape(server: Server) -> tuple[str, Samples]:
    """The text of /metrics (fresh connection each time, so any worker may
    answer) and its samples by name and labels."""
    response = requests.get(f"{server.url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_pushes_clones_refusals_and_uploads_over_two_workers(
        observed: Server, git: Git, ns: str, tmp_path: Path) -> None:
    text, before = scrape(observed)
    # prometheus_client's per-process collectors are absent: the samples
    # are the workers' files added up (multiprocess mode).
    assert "python_gc_objects_collected_total" not in text
    assert value(before, "heater_pending_changes") == 0

    token = observed.token("writer", ns)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    git.run("push", observed.auth_url(f"{ns}/web.git", token), "main", cwd=work)
    git.run("clone", f"{observed.url}/{ns}/web.git", str(tmp_path / "clone"))
    git.commit(work, {"template.yaml": "heat_template_version: [\n"}, "break it")
    refused = git.run("push", observed.auth_url(f"{ns}/web.git", token), "main", cwd=work,
                      check=False)
    assert refused.returncode != 0 and "pre-receive hook declined" in refused.stderr
    git.run("reset", "-q", "--hard", "HEAD~1", cwd=work)
    for ref, files in (("refs/notes/x", {}), ("main", {"big.bin": b"x" * (MAX_BLOB + 1)})):
        git.commit(work, files, "more")
        refused = git.run("push", observed.auth_url(f"{ns}/web.git", token), f"HEAD:{ref}",
                          cwd=work, check=False)
        assert refused.returncode != 0 and "pre-receive hook declined" in refused.stderr
    push_image(observed, token, f"{ns}/img", b"image bytes", version="1.0.0")
    # Requests spread over both workers (a connection each).
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: requests.get(f"{observed.url}/healthz",
                                                     timeout=30).status_code, range(24)))
    assert codes == [200] * 24

    # A request is counted when the server closes its body, just after the
    # client has read it: wait until the last of them is counted and timed.
    def all_recorded() -> bool:
        now = scrape(observed)[1]
        return all(value(now, name, method="GET", route="/healthz", **labels)
                   - value(before, name, method="GET", route="/healthz", **labels) == 24
                   for name, labels in (("heater_http_requests_total", {"status": "200"}),
                                        ("heater_http_request_duration_seconds_count", {})))
    assert wait_until(all_recorded, 10)

    scrapes = [scrape(observed)[1] for _ in range(6)]
    after = scrapes[0]
    for other in scrapes[1:]:  # whichever worker answers, it tells the same totals
        for name in ("heater_git_pushes_total", "heater_git_fetches_total"):
            assert value(other, name, outcome="accepted") == value(after, name, outcome="accepted")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("heater_git_pushes_total", outcome="accepted") == 1
    assert delta("heater_git_pushes_total", outcome="refused") == 3
    for reason in ("validation", "ref_rule", "size"):
        assert delta("heater_git_push_refusals_total", reason=reason) == 1, reason
    assert delta("heater_git_fetches_total") == 1
    assert delta("heater_image_uploads_total", outcome="stored") == 1
    assert delta("heater_image_upload_bytes_total") == len(b"image bytes")
    assert delta("heater_http_requests_total", method="GET", route="/healthz",
                 status="200") == 24
    assert delta("heater_http_requests_total", method="POST",
                 route="/<ns>/<name>.git/git-receive-pack", status="200") == 4
    assert delta("heater_http_request_duration_seconds_count", method="GET",
                 route="/healthz") == 24
    # Route templates, never raw paths: the namespace appears in no label.
    assert ns not in "".join(str(labels) for _, labels in after)
    # Push, refused push (its marker) and two image writes reached the index.
    assert delta("heater_index_refresh_seconds_count") >= 3
    assert delta("heater_index_lag_seconds_count") >= 3
    assert value(after, "heater_pending_changes") == 0
    # The refused pushes wrote nothing, so the audit log has no line for them.
    audited = (tmp_path / "logs" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["action"] for line in audited] == [
        "push", "create", "queue_build", "upload"]


def test_access_log_names_the_token_and_the_audit_log_every_write(
        observed: Server, git: Git, ns: str, tmp_path: Path) -> None:
    token = observed.token("writer", ns)
    name = _token_name(observed, token)
    work = git.worktree(tmp_path / "work", {"template.yaml": HELLO_WORLD})
    sha = git.run("rev-parse", "HEAD", cwd=work).stdout.strip()
    git.run("push", observed.auth_url(f"{ns}/web.git", token), "main", cwd=work)
    build = push_image(observed, token, f"{ns}/img", b"image bytes", version="1.0.0")
    anonymous = requests.get(f"{observed.url}/api/v1/templates/{ns}/web", timeout=30)
    assert anonymous.status_code == 200

    def logged(marker: str) -> list[str]:
        return [line for line in observed.log().splitlines() if marker in line]

    # gunicorn writes an access line after the answer has gone: wait for it.
    push_marker, read_marker = f"POST /{ns}/web.git/git-receive-pack", \
        f"GET /api/v1/templates/{ns}/web "
    assert wait_until(lambda: logged(push_marker) and logged(read_marker), 10)
    pushed = logged(push_marker)
    assert len(pushed) == 1
    # [time] client token "request line" status ...
    assert re.match(r'^\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] 127\.0\.0\.1 '
                    + re.escape(name) + ' "POST ', pushed[0]), pushed[0]
    read = logged(read_marker)
    assert len(read) == 1 and ' 127.0.0.1 - "GET' in read[0], read

    def audited() -> list[dict[str, Any]]:
        lines = (tmp_path / "logs" / "audit.jsonl").read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["repository"].startswith(f"{ns}/")]

    # A push's line is written when git has finished, which may be just after
    # the client has its answer.
    assert wait_until(lambda: len(audited()) >= 4, 10)
    mine = audited()
    assert [(e["action"], e["repository"]) for e in mine] == [
        ("push", f"{ns}/web"),
        ("create", f"{ns}/img"),
        ("queue_build", f"{ns}/img"),
        ("upload", f"{ns}/img"),
    ]
    assert all(e["who"] == name and e["time"].endswith("+00:00") for e in mine)
    assert mine[0]["refs"] == [{"ref": "refs/heads/main", "old": "0" * 40, "new": sha}]
    assert mine[2]["build"] == mine[3]["build"] == build
    assert mine[3]["bytes"] == len(b"image bytes")


def _token_name(server: Server, secret: str) -> str:
    principal = SqliteTokenStore(server.layout.auth_db).authenticate(secret)
    assert principal is not None
    return principal.name
