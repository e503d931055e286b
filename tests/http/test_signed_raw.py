"""Signed raw URLs: ``POST .../raw-url`` and ``/<ns>/<name>/signed/...``.

A signed URL opens one commit of one template to anyone until it expires;
relative names joined onto it keep the signature; every other use of the
signature answers exactly as a missing repository.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from heater.auth.signing import Signing
from heater.names import RepoId
from tests.catalog_support import api, push
from tests.conftest import Git, Server
from tests.openapi_support import conforms

SIGN = "/api/v1/templates/{namespace}/{name}/raw-url"
FILES: dict[str, str | bytes] = {
    "template.yaml": "heat_template_version: 2018-08-31\nresources:\n  app:\n"
                     "    type: nested/app.yaml\n",
    "nested/app.yaml": "heat_template_version: 2018-08-31\nresources:\n  motd:\n"
                       "    type: OS::Heat::Value\n    properties:\n"
                       "      value: {get_file: ../files/motd.txt}\n",
    "files/motd.txt": "private motd\n",
}


@pytest.fixture
def private(server: Server, git: Git, ns: str, tmp_path: Path) -> str:
    """A private template ``{ns}/secret`` released as 1.0.0; its commit."""
    writer = server.token("writer", ns)
    created = api(server, "POST", "/api/v1/templates", writer,
                  json={"namespace": ns, "name": "secret", "visibility": "private"})
    assert created.status_code == 201, created.text
    return push(server, git, tmp_path / "secret", f"{ns}/secret", writer, FILES,
                tags=("v1.0.0",))


def sign(server: Server, ns: str, name: str, token: str | None, **body: Any) -> Any:
    return api(server, "POST", f"/api/v1/templates/{ns}/{name}/raw-url", token, json=body)


def anonymous(url: str) -> requests.Response:
    return requests.get(url, timeout=30)


def missing_answer(server: Server, url: str, ns: str, name: str) -> tuple[int, Any]:
    answer = anonymous(url)
    return answer.status_code, answer.json()["error"]["message"].replace(f"{ns}/{name}", "<r>")


def test_a_reader_signs_and_anyone_reads_the_commit_through_relative_names(
        server: Server, ns: str, private: str) -> None:
    answer = sign(server, ns, "secret", server.token("reader", ns), ref="1.0.0")
    assert answer.status_code == 200, answer.text
    body = conforms(answer, SIGN)
    base = f"{server.url}/{ns}/secret/signed/"
    assert re.fullmatch(rf"{re.escape(base)}\d+\.[A-Za-z0-9_-]{{43}}/raw/{private}/",
                        body["base_url"])
    assert body["url"] == body["base_url"] + "template.yaml"
    assert body["path"] == "template.yaml"
    assert body["ref"] == {"requested": "1.0.0", "kind": "tag", "name": "v1.0.0",
                           "commit": private, "version": "1.0.0"}
    expires = int(body["base_url"].split("/signed/")[1].split(".")[0])
    assert body["expires_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    assert 3500 < expires - time.time() <= 3600

    template = anonymous(body["url"])
    assert template.status_code == 200, template.text
    assert template.text == FILES["template.yaml"]
    assert template.headers["Cache-Control"] == "private, no-store"
    assert template.headers["X-Heater-Commit"] == private
    # As heatclient resolves a nested type, then a get_file inside it.
    nested = urljoin(body["url"], "nested/app.yaml")
    motd = urljoin(nested, "../files/motd.txt")
    assert anonymous(nested).text == FILES["nested/app.yaml"]
    assert anonymous(motd).text == "private motd\n"
    # A Keystone token that Heat might send along changes nothing.
    assert requests.get(motd, headers={"X-Auth-Token": "gAAAAAB-keystone"},
                        timeout=30).status_code == 200
    # The unsigned URL stays closed.
    assert anonymous(f"{server.url}/{ns}/secret/raw/{private}/files/motd.txt"
                     ).status_code == 404


def test_the_signature_opens_nothing_else(server: Server, git: Git, ns: str, private: str,
                                          tmp_path: Path) -> None:
    reader = server.token("reader", ns)
    signed = sign(server, ns, "secret", reader, ref="1.0.0", path="files/motd.txt").json()
    signature = signed["base_url"].split("/signed/")[1].split("/")[0]
    later = push(server, git, tmp_path / "secret", f"{ns}/secret", server.token("writer", ns),
                 {"files/motd.txt": "changed\n"})
    push(server, git, tmp_path / "other", f"{ns}/other", server.token("writer", ns), FILES)
    missing = missing_answer(server, f"{server.url}/{ns}/nothing/signed/{signature}/raw/"
                             f"{private}/files/motd.txt", ns, "nothing")
    assert missing == (404, "repository <r> does not exist")
    tampered = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for name, commit, sig in (("other", private, signature),  # another repository
                              ("secret", later, signature),  # another commit
                              ("secret", private[:12], signature),  # not the full SHA
                              ("secret", private, tampered),
                              ("secret", private, signature.split(".")[1])):
        url = f"{server.url}/{ns}/{name}/signed/{sig}/raw/{commit}/files/motd.txt"
        assert missing_answer(server, url, ns, name) == missing, url


def test_an_expired_signature_answers_as_a_missing_repository(
        server: Server, ns: str, private: str) -> None:
    signed = sign(server, ns, "secret", server.token("reader", ns), ref=private,
                  expires_in=5).json()
    assert anonymous(signed["url"]).status_code == 200
    # Made with the server's own key, as the server would: an hour ago.
    signer = Signing(server.layout.url_signing_key).signer()
    past = signer.sign(RepoId(ns, "secret"), private, int(time.time()) - 3600)
    expired = f"{server.url}/{ns}/secret/signed/{past}/raw/{private}/template.yaml"
    missing = f"{server.url}/{ns}/nothing/signed/{past}/raw/{private}/template.yaml"
    assert missing_answer(server, expired, ns, "secret") == \
        missing_answer(server, missing, ns, "nothing") == (404, "repository <r> does not exist")
    expires = int(signed["base_url"].split("/signed/")[1].split(".")[0])
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    assert missing_answer(server, signed["url"], ns, "secret")[0] == 404


def test_who_may_sign_and_what_is_refused(server: Server, ns: str, private: str) -> None:
    # Those who may not read the template get what a missing one answers.
    for token in (None, server.token("reader", f"x{ns}")):
        refused = sign(server, ns, "secret", token)
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "repository_not_found"
    reader = server.token("reader", ns)
    for body, status, code in (
            ({"expires_in": 0}, 400, "invalid_value"),
            ({"expires_in": 604801}, 400, "invalid_value"),
            ({"expires_in": "60"}, 400, "invalid_value"),
            ({"expires_in": True}, 400, "invalid_value"),
            ({"ref": 1}, 400, "invalid_value"),
            ({"expire_in": 60}, 400, "unknown_field"),
            ({"path": "nope.yaml"}, 404, "file_not_found"),
            ({"ref": "9.9.9"}, 404, "unknown_ref")):
        answer = sign(server, ns, "secret", reader, **body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    # An empty body: latest, the entry point, an hour.
    default = sign(server, ns, "secret", reader)
    assert default.status_code == 200, default.text
    assert default.json()["ref"]["version"] == "1.0.0"
    assert default.json()["path"] == "template.yaml"


def heater_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "heater", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_command_line_prints_the_url_or_says_why_not(server: Server, ns: str,
                                                          private: str) -> None:
    made = heater_cli("template", "raw-url", f"{ns}/secret", "--path", "files/motd.txt",
                      "--url", server.url, "--token", server.token("reader", ns))
    assert made.returncode == 0, made.stderr
    assert made.stderr.startswith(f"{private[:12]} until "), made.stderr
    assert anonymous(made.stdout.strip()).text == "private motd\n"
    refused = heater_cli("template", "raw-url", f"{ns}/secret", "--url", server.url)
    assert refused.returncode == 1
    assert f"repository {ns}/secret does not exist" in refused.stderr
