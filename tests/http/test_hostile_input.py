"""Hostile input: traversal and option injection in every name, ref and path
parameter, broken encodings, bombs and oversized requests.

Every probe names the refusal it must get: a status and the error code of
the JSON error shape from the API, or the start of git's own text/plain
error (shown as ``remote:``) from the git services, or of the HTTP server's
page when it refuses before any application code. None may write anything:
the data directory's repositories, refs and blobs are the same before and
after.

Requests are sent byte for byte over a socket, so that nothing (URL
normalisation in a client library, header validation) softens them.
Malformed pkt-lines in fetches and the upload-pack gzip bomb are in
tests/system/test_faults.py and tests/http/git/test_smarthttp.py; YAML bombs through push
in tests/push/test_hook.py.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import re
import socket
import subprocess
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests

from heater.http.app import create_app
from heater.http.git.smarthttp import ROUTES, SERVICES, is_git_path
from tests.access_world import World, world_for
from tests.conftest import Git, Server

# Names of namespaces and repositories, as they appear in a URL path.
HOSTILE_NAMES = (
    "..", "%2e%2e", ".", "..%2f..%2fetc", "-rf", "--upload-pack=touch%20x",
    "--exec=x", "%2fetc%2fpasswd", "a%00b", "a%0ab", "a%1bb", "x" * 300, "UPPER",
    "%c3%a9t%c3%a9", "a%20b", "%ff%fe", "name.git", "api",
)
# Refs and versions (one URL path segment, or a query value).
HOSTILE_REFS = (
    "..", "%2e%2e", "..%2f..%2fetc", "-n", "--output=%2ftmp%2fx", "--upload-pack=x",
    "main%00", "a%0ab", "a%7fb", "x" * 1100, "%40%7b-1%7d", "HEAD~1", "main%5e",
    "a:b", "refs%2fheads%2f..%2fx", "%ff", "*", "%5b",
)
# Paths of files inside a repository.
HOSTILE_PATHS = (
    "..%2ftemplate.yaml", "%2e%2e/template.yaml", "files/../../x", "./template.yaml",
    "/etc/passwd", "%2fetc%2fpasswd", "a//b", "-x", "template.yaml%00", "a%0ab",
    "x" * 1100, "a%5cb", "%ff",
)
BAD_UUIDS = (
    "not-a-uuid", "..", "%2e%2e", "-1", "--help", "1B4E28BA-2FA1-4D3B-883F-0016D3CCA427",
    "1b4e28ba-2fa1-4d3b-883f-0016d3cca42", "1b4e28ba2fa14d3b883f0016d3cca427",
    "1b4e28ba-2fa1-4d3b-883f-0016d3cca427%00", "%ff", "x" * 2000,
)
# Query parameters and what kind of value each takes, by endpoint; the
# answer to a hostile value of each is in QUERY_ANSWERS.
QUERY_PARAMETERS = {
    "/api/v1/templates": {"namespace": HOSTILE_NAMES, "marker": HOSTILE_REFS,
                          "sort": HOSTILE_REFS, "limit": HOSTILE_REFS},
    "/api/v1/images": {"namespace": HOSTILE_NAMES, "sort": HOSTILE_REFS,
                       "limit": HOSTILE_REFS},
    "T": {"ref": HOSTILE_REFS},
    "T/commits": {"ref": HOSTILE_REFS, "limit": HOSTILE_REFS, "marker": HOSTILE_REFS},
    "T/diff": {"from": HOSTILE_REFS, "to": HOSTILE_REFS, "format": HOSTILE_REFS},
    "I/diff": {"from": HOSTILE_REFS, "to": HOSTILE_REFS},
}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def describe(self) -> str:
        return f"{self.status} {self.headers.get('content-type')} {self.body[:300]!r}"


@dataclass
class Probe:
    label: str
    method: str
    target: str | bytes
    headers: dict[str, str | bytes] = field(default_factory=dict)
    body: bytes = b""
    git: bool = False               # a git service: git's text/plain errors
    by_server: bool = False         # refused by the HTTP server before the app
    # The status, and the error code (JSON), the start of the text (git) or
    # the page title (the HTTP server's refusal) that must come back.
    expect: tuple[int, str] = field(kw_only=True)


def send(server: Server, probe: Probe, timeout: float = 60) -> Answer:
    """``probe`` sent exactly as given, on a connection of its own."""
    url = urlsplit(server.url)
    target = probe.target.encode("latin-1") if isinstance(probe.target, str) else probe.target
    head = [probe.method.encode() + b" " + target + b" HTTP/1.1", b"Connection: close",
            f"Content-Length: {len(probe.body)}".encode()]
    if "Host" not in probe.headers:
        head.insert(1, f"Host: {url.netloc}".encode())
    for key, value in probe.headers.items():
        head.append(key.encode() + b": " + (value if isinstance(value, bytes)
                                            else value.encode("latin-1")))
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=timeout) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + probe.body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                      response.read())


def check_refused(probe: Probe, answer: Answer) -> str | None:
    """Why ``answer`` is not the refusal ``probe`` expects, or None."""
    status, expected = probe.expect
    wrong = (f"{probe.label}: {probe.method} {probe.target!r}: expected {probe.expect}, "
             f"got {answer.describe()}")
    content_type = answer.headers.get("content-type", "")
    if answer.status != status:
        return wrong
    if answer.status == 200:  # a push git refused in its protocol: the refs show it
        return None
    if probe.by_server:
        return None if f"<title>{expected}</title>".encode() in answer.body else wrong
    if content_type.startswith("application/json"):
        try:
            error = json.loads(answer.body)["error"]
        except (ValueError, KeyError, TypeError):
            return f"{probe.label}: not the JSON error shape: {answer.describe()}"
        return None if (error.get("code"), type(error.get("message"))) == (expected, str) else wrong
    if probe.git and content_type.startswith("text/plain"):
        return None if answer.body.decode("latin-1").startswith(expected) else wrong
    if content_type.startswith("text/html"):  # a web page names its error code
        return None if f"<code>{expected}</code>".encode() in answer.body else wrong
    return wrong


def snapshot(server: Server) -> dict[str, tuple[int, int]]:
    """Every file of the repositories and blobs, with its size and mtime."""
    found = {}
    for top in (server.layout.git_root, server.layout.blobs):
        for path in top.rglob("*"):
            if path.is_file():
                stat = path.stat()
                found[str(path.relative_to(server.layout.root))] = (stat.st_size,
                                                                    stat.st_mtime_ns)
    return found


def leftovers(server: Server, before: set[str]) -> list[str]:
    """New entries in the scratch directory that are still there after a while."""
    deadline = time.monotonic() + 5
    while True:
        extra = sorted({p.name for p in server.layout.tmp.iterdir()} - before)
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.1)


def run_probes(server: Server, probes: list[Probe]) -> None:
    """Send every probe; all must be refused and nothing may be written."""
    before = snapshot(server)
    scratch = {p.name for p in server.layout.tmp.iterdir()}
    problems = [problem for probe in probes
                if (problem := check_refused(probe, send(server, probe))) is not None]
    assert problems == [], f"{len(problems)} of {len(probes)} probes:\n" + "\n".join(problems)
    after = snapshot(server)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == [], f"written: {changed[:20]}"
    assert leftovers(server, scratch) == []


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    return world_for(server)


def _admin(world: World) -> dict[str, str | bytes]:
    token = world.token("A*")
    assert token is not None
    return {"Authorization": f"Bearer {token}"}


# -- every URL parameter of every route, one at a time -------------------------------

def routes(tmp_path: Path) -> Iterator[tuple[str, str, bool]]:
    """(method, rule in Flask's syntax, is a git service) of every endpoint."""
    app = create_app({"DATA_DIR": str(tmp_path / "data")})
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, False
    for route in ROUTES:
        yield route.method, f"/<namespace>/<name>.git{route.suffix}", True


HOSTILE_BY_PARAMETER = {
    "namespace": HOSTILE_NAMES, "name": HOSTILE_NAMES, "ref": HOSTILE_REFS,
    "version": HOSTILE_REFS, "path": HOSTILE_PATHS, "build_id": BAD_UUIDS,
    "ref_path": HOSTILE_REFS, "signature": HOSTILE_REFS, "commit": HOSTILE_REFS,
    "filename": HOSTILE_PATHS,
}
_PARAMETER_RE = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")

# A file path that starts with "/" makes a path no route matches: the API's
# "no such endpoint".
NO_ROUTE = (404, "not_found")
# An encoded slash is refused in a value that cannot hold a "/" (a name, a
# version...), before routing; in a ref or a file path it is a "/".
ENCODED_SLASH = (400, "invalid_value")
SLASH_MEANS_SLASH = frozenset({"ref", "ref_path", "path", "filename"})
_SLASHED = {v: ENCODED_SLASH for v in (*HOSTILE_NAMES, *HOSTILE_REFS) if "%2f" in v}
# What a hostile value of each URL parameter answers: the usual answer, then
# the values answered otherwise.
URL_ANSWERS: dict[str, tuple[tuple[int, str], dict[str, tuple[int, str]]]] = {
    "namespace": ((400, "invalid_value"), _SLASHED),
    "name": ((400, "invalid_value"), _SLASHED),
    "version": ((400, "invalid_value"), _SLASHED),
    "build_id": ((400, "invalid_value"), {}),
    # Decoded, a ref with "%2f" ends at its first slash: ".." and "--output="
    # are refused by name, "refs" is a well-formed ref that no repository
    # has, and so is U+FFFD, what "%ff" decodes to.
    "ref": ((400, "invalid_value"), {"refs%2fheads%2f..%2fx": (404, "unknown_ref"),
                                    "%ff": (404, "unknown_ref")}),
    # A tree's ref and path: the ref ends where no branch or tag name does.
    "ref_path": ((400, "invalid_value"), {"refs%2fheads%2f..%2fx": (404, "unknown_ref"),
                                         "%ff": (404, "unknown_ref")}),
    # A signed URL whose signature does not open that commit of that
    # repository is a missing repository, whatever is wrong with it.
    "signature": ((404, "repository_not_found"), _SLASHED),
    "commit": ((404, "repository_not_found"), _SLASHED),
    "path": ((400, "invalid_value"), {
        "%2fetc%2fpasswd": NO_ROUTE, "/etc/passwd": NO_ROUTE,
        # Names git allows in a tree; this one has no such file.
        "-x": (404, "file_not_found"), "%ff": (404, "file_not_found")}),
    # The web UI's own files: any other name is no file of it.
    "filename": (NO_ROUTE, {}),
}
# The smart HTTP app answers a URL ending in .git, whatever follows.
DUMB_HTTP = (404, "only git's smart HTTP protocol is served")


# The repository's own URLs outside the API (its web pages, git without
# .git): a segment that cannot name a repository makes no route of them.
REPOSITORY_URLS = "/<repo:namespace>/<repo:name>"


def url_answer(parameter: str, value: str, git_service: bool, path: str,
               rule: str = "") -> tuple[int, str]:
    """What ``value`` in ``parameter`` of a route must answer."""
    if "%2f" in value and parameter not in SLASH_MEANS_SLASH:
        return ENCODED_SLASH
    if (parameter in ("namespace", "name") and rule.startswith(REPOSITORY_URLS)
            and not is_git_path(path.split("?")[0])):
        return NO_ROUTE
    usual, unusual = URL_ANSWERS[parameter]
    answer = unusual.get(value, usual)
    if answer == NO_ROUTE:
        return answer
    if git_service:  # git's refusal, as text: "invalid name '..': ..."
        return 400, f"invalid {parameter} '"
    return DUMB_HTTP if is_git_path(path.split("?")[0]) else answer


def legit_values(world: World, rule: str) -> dict[str, str]:
    image = "/images/" in rule or rule.endswith("/builds")
    signature, commit = _signed(world)
    return {"namespace": world.ns, "name": world.names["pi" if image else "pt"],
            "ref": "main", "version": "v1.0.0", "path": "template.yaml", "ref_path": "main",
            "build_id": world.builds["pi"], "signature": signature, "commit": commit}


_SIGNATURES: dict[str, tuple[str, str]] = {}  # namespace -> the public template's


def _signed(world: World) -> tuple[str, str]:
    """A signature that opens main's head of the public template, and that commit."""
    if world.ns not in _SIGNATURES:
        made = requests.post(f"{world.server.url}/api/v1/templates/{world.ns}/"
                             f"{world.names['pt']}/raw-url", json={"ref": "main"}, timeout=30)
        assert made.status_code == 200, made.text
        signature, _raw, commit = made.json()["base_url"].split("/signed/")[1].split("/")[:3]
        _SIGNATURES[world.ns] = signature, commit
    return _SIGNATURES[world.ns]


# A well-formed request body for each action that takes one, and the query a
# diff needs: the value under test must be the only thing wrong.
ACTION_BODIES = {"yank": b'{"reason": "x"}', "deprecation": b'{"reason": "x"}',
                 "undelete": b'{"reason": "x"}'}
DIFF_QUERY = {False: "?from=v1.0.0&to=main", True: "?from=1.0.0&to=latest"}


def url_parameter_probes(world: World, tmp_path: Path) -> list[Probe]:
    probes = []
    for method, rule, git in routes(tmp_path):
        parameters = _PARAMETER_RE.findall(rule)
        assert set(parameters) <= set(HOSTILE_BY_PARAMETER), (rule, parameters)
        legit = legit_values(world, rule)
        for parameter in parameters:
            for value in HOSTILE_BY_PARAMETER[parameter]:
                values = {**legit, parameter: value}
                path = _PARAMETER_RE.sub(lambda m, v=values: v[m.group(1)], rule)  # type: ignore[misc]
                headers: dict[str, str | bytes] = dict(_admin(world))
                body = b""
                if git and method == "GET":
                    for service in SERVICES:
                        probes.append(Probe(f"{rule} {parameter}={value[:40]}", method,
                                            f"{path}?service={service}", headers, git=True,
                                            expect=url_answer(parameter, value, git, path, rule)))
                    continue
                action = rule.rsplit("/", 1)[1]
                if git:
                    headers["Content-Type"] = f"application/x-{action}-request"
                    body = b"0000"
                elif action == "file":
                    headers["Content-Type"] = "application/octet-stream"
                    body = b"x"
                elif method in ("POST", "PUT"):
                    headers["Content-Type"] = "application/json"
                    body = ACTION_BODIES.get(action, b'{"version": "v9.9.9", "ref": "main"}')
                # The value under test must be the only thing wrong.
                path += DIFF_QUERY["/images/" in rule] if action == "diff" else ""
                # A name ending in .git makes a git URL of any route.
                expect = url_answer(parameter, value, git, path, rule)
                probes.append(Probe(f"{rule} {parameter}={value[:40]}", method, path, headers,
                                    body, git=git or is_git_path(path), expect=expect))
    return probes


def test_every_url_parameter_refuses_hostile_values(server: Server, world: World,
                                                    tmp_path: Path) -> None:
    probes = url_parameter_probes(world, tmp_path)
    assert len(probes) > 500  # every route contributes
    run_probes(server, probes)


# By parameter: the usual answer, then the values answered otherwise ("%ff"
# decodes to U+FFFD, a well-formed ref name that no repository has).
_NO_SUCH_REF = {"%ff": (404, "unknown_ref")}
QUERY_ANSWERS: dict[str, tuple[tuple[int, str], dict[str, tuple[int, str]]]] = {
    "namespace": ((400, "invalid_value"), {}),
    "marker": ((400, "invalid_value"), {}),
    "sort": ((400, "invalid_value"), {}),
    "limit": ((400, "invalid_value"), {}),
    "format": ((400, "invalid_value"), {}),
    "ref": ((400, "invalid_value"), _NO_SUCH_REF),
    "from": ((400, "invalid_value"), _NO_SUCH_REF),
    "to": ((400, "invalid_value"), _NO_SUCH_REF),
}


def test_query_parameters_refuse_hostile_values(server: Server, world: World) -> None:
    bases = {"T": f"/api/v1/templates/{world.ns}/{world.names['pt']}",
             "I": f"/api/v1/images/{world.ns}/{world.names['pi']}"}
    probes = []
    for endpoint, parameters in QUERY_PARAMETERS.items():
        prefix, _, suffix = endpoint.partition("/")
        path = bases[prefix] + (f"/{suffix}" if suffix else "") if prefix in bases else endpoint
        for parameter, values in parameters.items():
            legit = ({"from": "v1.0.0", "to": "main"} if endpoint == "T/diff"
                     else {"from": "1.0.0", "to": "latest"} if endpoint == "I/diff" else {})
            for value in values:
                query = "&".join(f"{k}={v}" for k, v in {**legit, parameter: value}.items())
                usual, unusual = QUERY_ANSWERS[parameter]
                probes.append(Probe(f"{endpoint} ?{parameter}={value[:40]}", "GET",
                                    f"{path}?{query}", _admin(world),
                                    expect=unusual.get(value, usual)))
    run_probes(server, probes)


# -- JSON bodies ---------------------------------------------------------------------

# The answer to each hand-written body below, by label.
BODY_ANSWERS: dict[str, tuple[int, str]] = {
    **dict.fromkeys(("invalid UTF-8", "raw NUL in the body", "not JSON", "a list",
                     "JSON nested 100,000 deep", "JSON nested 100,000 deep, manifest",
                     "JSON nested 100,000 deep, version"), (400, "invalid_json")),
    "wrong types": (400, "invalid_value"),
    "manifest nested 5,000 deep": (400, "invalid_value"),
    "oversized JSON": (413, "too_large"),
    "not JSON content type": (415, "unsupported_media_type"),
    # Files that Heat could not use: the reason is in the message.
    **dict.fromkeys(("YAML bomb in files", "YAML nested 5,000 deep in files", "NUL in a file",
                     "integer of 5,000 digits in files",
                     "hex integer of 5,000 digits in files"), (400, "validation_failed")),
    # File paths and names are checked alike.
    **dict.fromkeys(("NUL in a name", "traversal in a file path", "absolute file path",
                     "control character in a file path", "NUL in a file path",
                     ".git in a file path", "lone surrogate in a file path"),
                    (400, "invalid_value")),
    # Free text git or JSON cannot carry, wherever it is.
    **dict.fromkeys(("NUL in a message", "lone surrogate in a message",
                     "lone surrogate in a file", "NUL in a tag message",
                     "lone surrogate in a tag message", "NUL in a deprecation message"),
                    (400, "invalid_value")),
    "version with a trailing newline": (400, "invalid_value"),
}


def _json(label: str, method: str, path: str, body: bytes, world: World,
          content_type: str = "application/json",
          expect: tuple[int, str] | None = None) -> Probe:
    return Probe(label, method, path, {**_admin(world), "Content-Type": content_type}, body,
                 expect=expect or BODY_ANSWERS[label])


def deep(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


def test_hostile_json_bodies(server: Server, world: World) -> None:
    create = "/api/v1/templates"
    builds = f"/api/v1/images/{world.ns}/{world.names['pi']}/builds"
    versions = f"/api/v1/templates/{world.ns}/{world.names['pt']}/versions"
    name = world.fresh("hostile")
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9))
    template = "heat_template_version: 2018-08-31\nresources: {}\n"

    def files(content: dict[str, str]) -> bytes:
        return json.dumps({"namespace": world.ns, "name": name, "files": content}).encode()

    probes = [
        _json("invalid UTF-8", "POST", create, b'{"namespace": "\xff\xfe", "name": "x"}', world),
        _json("NUL in a name", "POST", create,
              json.dumps({"namespace": world.ns, "name": "a\u0000b"}).encode(), world),
        _json("raw NUL in the body", "POST", create, b'{"namespace": "a\x00"}', world),
        _json("not JSON", "POST", create, b"{'namespace': 1}", world),
        _json("a list", "POST", create, b"[1, 2]", world),
        _json("wrong types", "POST", create, b'{"namespace": 1, "name": ["x"]}', world),
        _json("JSON nested 100,000 deep", "POST", create, deep(100_000), world),
        _json("JSON nested 100,000 deep, manifest", "POST", builds, deep(100_000), world),
        _json("JSON nested 100,000 deep, version", "POST", versions, b"[" * 100_000, world),
        _json("manifest nested 5,000 deep", "POST", builds,
              json.dumps({"disk_format": "qcow2", "container_format": "bare",
                          "os": {"distro": "ubuntu", "version": "22.04"}, "packages": [],
                          "properties": json.loads(deep(900))}).encode(), world),
        _json("oversized JSON", "POST", create,
              json.dumps({"namespace": world.ns, "name": name,
                          "files": {"template.yaml": "x" * (2 * 1024 * 1024)}}).encode(), world),
        _json("not JSON content type", "POST", create, b"namespace=x", world,
              "application/x-www-form-urlencoded"),
        _json("YAML bomb in files", "POST", create,
              files({"template.yaml": template, "bomb.yaml": laughs}), world),
        _json("YAML nested 5,000 deep in files", "POST", create,
              files({"template.yaml": template, "deep.yaml": "[" * 5000 + "]" * 5000}), world),
        _json("NUL in a file", "POST", create, files({"template.yaml": template + "\u0000"}),
              world),
        _json("traversal in a file path", "POST", create,
              files({"template.yaml": template, "../../x.yaml": "a: 1\n"}), world),
        _json("absolute file path", "POST", create,
              files({"template.yaml": template, "/etc/x.yaml": "a: 1\n"}), world),
        _json("control character in a file path", "POST", create,
              files({"template.yaml": template, "a\u0001.yaml": "a: 1\n"}), world),
        _json("NUL in a file path", "POST", create,
              files({"template.yaml": template, "a\u0000.yaml": "a: 1\n"}), world),
        # A file may be called "-x": git allows it, and no path is ever put on
        # a command line; what matters is that no path leaves the tree.
        _json(".git in a file path", "POST", create,
              files({"template.yaml": template, ".git/config": "a: 1\n"}), world),
        # Past Python's 4,300-digit limit for int(), and a hex one that reads
        # but could never be printed as JSON.
        _json("integer of 5,000 digits in files", "POST", create,
              files({"template.yaml": template + "outputs:\n  o: {value: " + "9" * 5000
                     + "}\n"}), world),
        _json("hex integer of 5,000 digits in files", "POST", create,
              files({"template.yaml": template + "outputs:\n  o: {value: 0x" + "f" * 5000
                     + "}\n"}), world),
        _json("NUL in a message", "POST", create,
              json.dumps({"namespace": world.ns, "name": name, "message": "a\u0000b",
                          "files": {"template.yaml": template}}).encode(), world),
        _json("lone surrogate in a message", "POST", create,
              b'{"namespace": "' + world.ns.encode() + b'", "name": "' + name.encode()
              + b'", "message": "a\\ud800b", "files": {"template.yaml": "x"}}', world),
        _json("lone surrogate in a file", "POST", create,
              b'{"namespace": "' + world.ns.encode() + b'", "name": "' + name.encode()
              + b'", "files": {"template.yaml": "a\\udc80"}}', world),
        _json("lone surrogate in a file path", "POST", create,
              b'{"namespace": "' + world.ns.encode() + b'", "name": "' + name.encode()
              + b'", "files": {"x\\udc80.yaml": "a: 1"}}', world),
        _json("NUL in a tag message", "POST", versions,
              b'{"version": "v7.7.8", "ref": "main", "message": "a\\u0000b"}', world),
        _json("lone surrogate in a tag message", "POST", versions,
              b'{"version": "v7.7.8", "ref": "main", "message": "a\\udfffb"}', world),
        _json("version with a trailing newline", "POST", versions,
              b'{"version": "v7.7.8\\n", "ref": "main"}', world),
    ]
    deprecation = f"/api/v1/templates/{world.ns}/{world.names['pt']}/deprecation"
    probes.append(_json("NUL in a deprecation message", "PUT", deprecation,
                        b'{"reason": "a\\u0000b"}', world))
    for value in map(unquote, HOSTILE_NAMES):
        for body in ({"namespace": value, "name": name}, {"namespace": world.ns, "name": value}):
            probes.append(_json(f"create {body}"[:80], "POST", create,
                                json.dumps(body).encode(), world,
                                expect=(400, "invalid_value")))
        probes.append(_json(f"deprecation replacement {value[:30]!r}", "PUT", deprecation,
                            json.dumps({"reason": "x", "replacement": {
                                "namespace": world.ns, "name": value}}).encode(), world,
                            expect=(400, "invalid_value")))
    for value in map(unquote, HOSTILE_REFS):
        manifest = {"disk_format": "qcow2", "container_format": "bare", "packages": [],
                    "os": {"distro": "ubuntu", "version": "22.04"}, "version": value}
        probes.append(_json(f"build version {value[:30]!r}", "POST", builds,
                            json.dumps(manifest).encode(), world,
                            expect=(400, "invalid_value")))
    # A ref that is well formed but names nothing (U+FFFD, from "%ff") is
    # not a target to tag.
    for field_name, usual, unusual in (
            ("version", (400, "invalid_value"), {}),
            ("ref", (400, "invalid_value"), {"%ff": (404, "unknown_ref")})):
        for value in HOSTILE_REFS:
            body = {"version": "v7.7.7", "ref": "main", field_name: unquote(value)}
            probes.append(_json(f"version body {field_name}={value[:30]}", "POST", versions,
                                json.dumps(body).encode(), world,
                                expect=unusual.get(value, usual)))
    run_probes(server, probes)


# -- headers and bodies of any request --------------------------------------------------

def test_hostile_headers(server: Server, world: World) -> None:
    detail = f"/api/v1/templates/{world.ns}/{world.names['pt']}"
    git = f"/{world.ns}/{world.names['pt']}.git/info/refs?service=git-upload-pack"
    probes = []
    unreadable = "the Basic credentials are not valid base64 UTF-8"
    # Each header, with the code the API answers and the start of git's text.
    for label, value, code, text in (
            ("invalid UTF-8 bearer", b"Bearer \xff\xfe\xfd", "invalid_token",
             "the token is not valid (unknown, revoked or m"),
            ("invalid UTF-8 basic", b"Basic \xff\xfe", "unauthenticated", unreadable),
            ("basic, not base64", b"Basic !!!!", "unauthenticated", unreadable),
            ("basic, no password", b"Basic eA==", "unauthenticated",
             "the Basic credentials have no password"),
            ("basic, invalid UTF-8 inside", b"Basic " + base64.b64encode(
                b"x:\xff\xfe"), "unauthenticated", unreadable),
            ("unknown scheme", b"Digest x", "unauthenticated",
             "unsupported authorization scheme 'digest'"),
            ("empty bearer", b"Bearer ", "unauthenticated", "an empty token was given"),
            ("long Authorization", b"Bearer " + b"a" * 10_000, "unauthenticated",
             "the Authorization header is too long")):
        probes.append(Probe(label, "GET", detail, {"Authorization": value},
                            expect=(401, code)))
        probes.append(Probe(label + " (git)", "GET", git, {"Authorization": value}, git=True,
                            expect=(401, text)))
    # An X-Auth-Token that is not Heater's (Heat sends its Keystone token)
    # is ignored: the read is anonymous. Garbage there must not turn a
    # private read into a success.
    probes.append(Probe("X-Auth-Token, invalid UTF-8", "GET",
                        f"/{world.ns}/{world.names['st']}/raw/main/template.yaml",
                        {"X-Auth-Token": b"\xff\xfe"}, expect=(404, "repository_not_found")))
    create = "/api/v1/templates"
    probes.append(Probe("invalid UTF-8 content type", "POST", create,
                        {**_admin(world), "Content-Type": b"application/json; charset=\xff"},
                        b'{"namespace": "..", "name": "x"}', expect=(400, "invalid_value")))
    probes.append(Probe("invalid UTF-8 content type, as a NUL", "POST", create,
                        {**_admin(world), "Content-Type": b"application/\xff\xfe"}, b"{}",
                        expect=(415, "unsupported_media_type")))
    probes.append(Probe("invalid UTF-8 Git-Protocol", "POST",
                        f"/{world.ns}/{world.names['pt']}.git/git-upload-pack",
                        {"Content-Type": "application/x-git-upload-pack-request",
                         "Git-Protocol": b"version=2\xff --upload-pack=x"}, b"zzzz", git=True,
                        expect=(400, "malformed pkt-line length")))
    probes.append(Probe("invalid UTF-8 Content-Encoding", "POST",
                        f"/{world.ns}/{world.names['pt']}.git/git-upload-pack",
                        {"Content-Type": "application/x-git-upload-pack-request",
                         "Content-Encoding": b"gz\xffip"}, b"0000", git=True,
                        expect=(415, "unsupported Content-Encoding")))
    # The Host header ends up in links (clone_url, next): only host[:port].
    listing = "/api/v1/templates?limit=1"
    for host in (b"evil.example/phish?x=", b"evil.example:80@x", b"a\\b", b"[::1",
                 b"evil.example:99999999", b"\xff\xfe"):
        for target in (detail, listing):
            probes.append(Probe(f"Host {host!r}", "GET", target, {"Host": host},
                                expect=(400, "invalid_host")))
    # Past the HTTP server's own limits: it refuses before any application code.
    too_large = (431, "Request Header Fields Too Large")
    probes.append(Probe("header past the server's limit", "GET", detail,
                        {"X-Big": "a" * 40_000}, by_server=True, expect=too_large))
    probes.append(Probe("too many headers", "GET", detail,
                        {f"X-H{i}": "x" for i in range(200)}, by_server=True, expect=too_large))
    probes.append(Probe("request line past the server's limit", "GET",
                        detail + "?q=" + "a" * 10_000, by_server=True,
                        expect=(414, "URI Too Long")))
    for target in (detail, git):
        probes.append(Probe("NUL in the token", "GET", target,
                            {"Authorization": b"Bearer heater_\x00"}, by_server=True,
                            expect=(400, "Bad Request")))
    run_probes(server, probes)


def test_oversized_and_broken_bodies(server: Server, world: World) -> None:
    create = "/api/v1/templates"
    admin = _admin(world)
    big = b'{"namespace": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    probes = [
        Probe("body larger than its Content-Length says", "POST", create,
              {**admin, "Content-Type": "application/json"}, big, expect=(413, "too_large")),
        Probe("oversized PUT to a build of another state", "PUT",
              f"/api/v1/builds/{world.builds['pi']}/file",
              {**admin, "Content-Type": "application/octet-stream"}, b"x" * 1024,
              expect=(409, "build_not_queued")),
        Probe("build upload with the wrong type", "PUT",
              f"/api/v1/builds/{uuid.uuid4()}/file", {**admin, "Content-Type": "text/html"},
              b"x", expect=(415, "unsupported_media_type")),
    ]
    run_probes(server, probes)
    # A chunked body past the JSON limit, with no Content-Length to refuse early.
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=60) as sock:
        sock.sendall(f"POST {create} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n"
                     f"Authorization: {admin['Authorization']!s}\r\n"
                     "Content-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b"x" * 65536
        try:
            for _ in range(40):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed early: fine
            pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 400
        assert json.loads(response.read())["error"]["code"] == "invalid_json"


# -- git request bodies -----------------------------------------------------------------

# A push git refuses in its own protocol: a 200 whose report says "ng" (or
# nothing, when the client asked for no report).
IN_PROTOCOL = (200, "")


def _git_post(world: World, service: str, body: bytes, label: str,
              gzipped: bool = False, *, expect: tuple[int, str]) -> Probe:
    headers: dict[str, str | bytes] = {**_admin(world),
                                       "Content-Type": f"application/x-{service}-request"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Probe(label, "POST", f"/{world.ns}/{world.names['pt']}.git/{service}", headers,
                 body, git=True, expect=expect)


def _pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def head_commit(server: Server, world: World) -> str:
    path = server.layout.root / "git" / world.ns / f"{world.names['pt']}.git"
    return subprocess.run(["git", "-C", str(path), "rev-parse", "main"], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_hostile_git_requests(server: Server, world: World) -> None:
    """Pushes with hostile ref names or malformed commands, and bodies that
    are not what they claim: none is a 5xx and none moves a ref."""
    head = head_commit(server, world)
    zero = "0" * 40
    empty_pack = b"PACK\x00\x00\x00\x02\x00\x00\x00\x00" + bytes.fromhex(
        "029d08823bd8a8eab510ad6ac75c823cfd3ed31e")
    probes = []
    for ref in ("refs/heads/-x", "refs/heads/--upload-pack=x", "refs/heads/../x",
                "refs/heads/a\x01b", "refs/tags/-v1", "refs/heater/lifecycle",
                "refs/heads/" + "x" * 1000, "HEAD", "refs/heads/a..b", "/refs/heads/x"):
        command = f"{zero} {head} {ref}\0 report-status\n".encode()
        probes.append(_git_post(world, "git-receive-pack", _pkt(command) + b"0000" + empty_pack,
                                f"push to {ref[:40]!r}", expect=IN_PROTOCOL))
    for label, body, expect in (
            ("truncated pkt-line", b"00ff" + b"x" * 10,
             (400, "fatal: the remote end hung up unexpectedly")),
            # git reads no command from it, so it does nothing.
            ("pkt-line length below 4", b"0002" + b"0003", IN_PROTOCOL),
            ("command without capabilities", _pkt(f"{zero} {head} refs/heads/-y\n".encode())
             + b"0000" + empty_pack, IN_PROTOCOL),
            ("bad object ids", _pkt(b"zz" * 20 + b" " + b"yy" * 20 + b" refs/heads/y\0\n")
             + b"0000", (400, "fatal: protocol error: expected old/new/ref")),
            ("pack of garbage", _pkt(f"{zero} {head} refs/heads/y\0 report-status\n".encode())
             + b"0000PACK" + os.urandom(512), IN_PROTOCOL),
            ("NUL bytes only", b"\x00" * 4096,
             (400, "fatal: protocol error: bad line length character"))):
        probes.append(_git_post(world, "git-receive-pack", body, label, expect=expect))
    # Gzip: a bomb, a broken stream, and a stream that stops half way.
    # The bomb is a push whose pack claims 4 billion objects, then 96 MiB of
    # zeros: git reads into it (inflating as it goes) until it gives up.
    bomb_command = f"{zero} {head} refs/heads/bomb\0 report-status\n".encode()
    bomb = gzip.compress(_pkt(bomb_command) + b"0000PACK\x00\x00\x00\x02\xff\xff\xff\xff"
                         + b"\0" * (96 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 200 * 1024
    bad_gzip = (400, "bad gzip request body")
    probes.append(_git_post(world, "git-receive-pack", bomb, "receive-pack gzip bomb", True,
                            expect=IN_PROTOCOL))
    probes.append(_git_post(world, "git-receive-pack", b"\x1f\x8bgarbage", "bad gzip", True,
                            expect=bad_gzip))
    # What inflates before the cut is flush-pkts: git sees an empty push.
    probes.append(_git_post(world, "git-receive-pack", gzip.compress(b"0000" * 1000)[:40],
                            "truncated gzip", True, expect=IN_PROTOCOL))
    raw_deflate = zlib.compress(b"0000")
    probes.append(_git_post(world, "git-upload-pack", raw_deflate, "deflate sent as gzip", True,
                            expect=bad_gzip))
    probes.append(Probe("unknown Content-Encoding", "POST",
                        f"/{world.ns}/{world.names['pt']}.git/git-upload-pack",
                        {"Content-Type": "application/x-git-upload-pack-request",
                         "Content-Encoding": "br"}, b"0000", git=True,
                        expect=(415, "unsupported Content-Encoding 'br'")))
    refs_before = _refs(server, world)
    before = snapshot(server)
    problems = []
    for probe in probes:
        started = time.monotonic()
        answer = send(server, probe)
        assert time.monotonic() - started < 30, f"{probe.label} took too long"
        # Whether a push refused in protocol was refused shows in the refs,
        # checked below.
        if (problem := check_refused(probe, answer)) is not None:
            problems.append(problem)
    assert problems == [], "\n".join(problems)
    assert _refs(server, world) == refs_before
    after = snapshot(server)
    changed = sorted(k for k in before.keys() | after.keys()
                     if before.get(k) != after.get(k) and not k.endswith("heater-push.lock"))
    assert changed == [], changed


def _refs(server: Server, world: World) -> str:
    path = server.layout.root / "git" / world.ns / f"{world.names['pt']}.git"
    return subprocess.run(["git", "-C", str(path), "for-each-ref"], capture_output=True,
                          text=True, check=True).stdout


# -- content that landed before it was refused ------------------------------------------

def test_a_huge_integer_in_an_intermediate_commit(server: Server, git: Git, ns: str,
                                                  tmp_path: Path) -> None:
    """Only the tip of a push is validated: an integer Python cannot print,
    in a commit under it, must still make detail, diff and tagging answer
    with what is wrong, never a 500."""
    template = ("heat_template_version: 2018-08-31\nresources: {}\n"
                "outputs:\n  o: {value: %s}\n")
    work = git.worktree(tmp_path / "work", {"template.yaml": template % "1"})
    git.commit(work, {"template.yaml": template % ("9" * 5000)}, "huge")
    huge = git.run("rev-parse", "HEAD", cwd=work).stdout.strip()
    git.commit(work, {"template.yaml": template % "2"}, "fixed")
    token = server.token("writer", ns)
    git.run("push", server.auth_url(f"{ns}/big.git", token), "main", cwd=work)
    api = f"{server.url}/api/v1/templates/{ns}/big"
    headers = {"Authorization": f"Bearer {token}"}

    detail = requests.get(f"{api}?ref={huge}", timeout=30)
    assert detail.status_code == 200, detail.text
    assert "an integer longer than 1000 digits" in json.dumps(detail.json()["problems"])
    for query in (f"from={huge}&to=main", f"from=main&to={huge}",
                  f"from={huge}&to=main&format=unified"):
        diff = requests.get(f"{api}/diff?{query}", timeout=30)
        assert diff.status_code == 200, (query, diff.text)
    tagged = requests.post(f"{api}/versions", json={"version": "1.0.0", "ref": huge},
                           headers=headers, timeout=30)
    assert tagged.status_code == 400, tagged.text
    assert tagged.json()["error"]["code"] == "validation_failed"
    assert "an integer longer than 1000 digits" in tagged.json()["error"]["message"]
    assert requests.get(f"{api}/versions", timeout=30).json()["versions"] == []
