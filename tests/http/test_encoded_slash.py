"""An encoded slash (``%2F``) in a URL path, sent as is over real HTTP: in a
namespace, name, version or build id it is 400 ``invalid_value`` naming the
field; in a ref or a file path it is a slash."""

from __future__ import annotations

import subprocess

import pytest
import requests

from tests.conftest import Server

HOT = "heat_template_version: 2018-08-31\nresources: {}\n"
ENV = "parameters: {}\n"


@pytest.fixture(scope="module")
def repo(server: Server) -> str:
    """A public template ``slash/web`` with ``env/prod.yaml``."""
    created = requests.post(
        f"{server.url}/api/v1/templates", timeout=30,
        headers={"Authorization": f"Bearer {server.token('writer', 'slash')}"},
        json={"namespace": "slash", "name": "web",
              "files": {"template.yaml": HOT, "env/prod.yaml": ENV}})
    assert created.status_code == 201, created.text
    return "slash/web"


def refused(response: requests.Response, field: str) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_value", field)
    message: str = error["message"]
    return message


@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/templates/slash/we%2Fb", "name"),
    ("/api/v1/templates/slash/we%2fb/versions", "name"),
    ("/api/v1/templates/sl%2Fash/web/commits", "namespace"),
    ("/api/v1/templates/slash/web/versions/1.0%2F0", "version"),
    ("/api/v1/images/slash/jam%2Fmy/builds", "name"),
    ("/api/v1/builds/1b4e28ba-2fa1-4d3b%2F883f-0016d3cca427", "build_id"),
    ("/api/v1/templates/slash%2Fweb", "path"),  # no route takes one segment there
])
def test_a_name_version_or_id_with_an_encoded_slash_is_invalid(server: Server, repo: str,
                                                               path: str, field: str) -> None:
    # requests sends "%2F" as given (it only re-quotes what needs quoting).
    message = refused(requests.get(server.url + path, timeout=30), field)
    assert "encoded slash (%2F)" in message


def test_the_same_refusal_for_other_methods_and_the_web_pages(server: Server,
                                                             repo: str) -> None:
    posted = requests.post(f"{server.url}/api/v1/templates/slash/we%2Fb/versions", timeout=30,
                           json={"version": "1.0.0"})
    assert "encoded slash" in refused(posted, "name")
    page = requests.get(f"{server.url}/slash/we%2Fb/history", timeout=30)
    assert page.status_code == 400
    assert "<code>invalid_value</code>" in page.text and "encoded slash" in page.text


def test_git_urls_with_an_encoded_slash_are_invalid(server: Server, repo: str) -> None:
    # Decoded, "slash%2Fweb.git" is the repository slash/web: it must not be
    # served under a URL that names something else.
    answer = requests.get(f"{server.url}/slash%2Fweb.git/info/refs",
                          params={"service": "git-upload-pack"}, timeout=30)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text.startswith("invalid namespace 'slash%2Fweb.git': holds an encoded slash")


def test_in_a_file_path_or_a_ref_an_encoded_slash_is_a_slash(server: Server, repo: str) -> None:
    plain = requests.get(f"{server.url}/slash/web/raw/main/env/prod.yaml", timeout=30)
    assert plain.status_code == 200 and plain.text == ENV
    encoded = requests.get(f"{server.url}/slash/web/raw/main/env%2Fprod.yaml", timeout=30)
    assert (encoded.status_code, encoded.text) == (200, ENV)
    # As a slash, it is checked as one.
    escaping = requests.get(f"{server.url}/slash/web/raw/main/..%2F..%2Fx", timeout=30)
    assert "'..' component" in refused(escaping, "path")
    tree = requests.get(f"{server.url}/api/v1/templates/slash/web/tree/main%2Fenv", timeout=30)
    assert tree.status_code == 200
    assert tree.json() == requests.get(
        f"{server.url}/api/v1/templates/slash/web/tree/main/env", timeout=30).json()


def test_curl_sends_it_as_is_and_gets_the_refusal(server: Server, repo: str) -> None:
    done = subprocess.run(
        ["curl", "--silent", "--path-as-is", "--write-out", "\n%{http_code}",
         f"{server.url}/api/v1/templates/slash/web/versions/1.0%2f0"],
        capture_output=True, text=True, timeout=60, check=True)
    body, status = done.stdout.rsplit("\n", 1)
    assert status == "400"
    assert '"field":"version"' in body.replace(" ", "")
