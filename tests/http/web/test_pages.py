"""The web UI's pages, in process: what each shows, who sees what, and
that what a template holds is escaped or sanitised."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pygit2
import pytest

from heater.auth.tokens import Role
from heater.names import RepoId
from heater.templates.parsed import MIN_SHARED_BYTES, PARSED, NewDocuments
from tests.app_support import App
from tests.http.web.conftest import NS, PRIVATE_NS, Site
from tests.services.debian import ensure_packages


def text(response: object) -> str:
    data: bytes = response.data  # type: ignore[attr-defined]
    return data.decode()


def test_catalog_lists_public_templates_with_badges(site: Site) -> None:
    page = site.get("/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    body = text(page)
    assert f'href="/{NS}/web"' in body and f'href="/{NS}/db"' in body
    assert '<span class="version">2.0.0</span>' in body
    assert '<span class="badge deprecated">deprecated</span>' in body
    assert "secret" not in body


def test_catalog_search_keyword_namespace_and_sort(site: Site) -> None:
    found = text(site.get("/?q=postgresql&namespace=&sort="))  # empty fields, as forms send
    assert f'href="/{NS}/db"' in found and f'href="/{NS}/web"' not in found
    by_keyword = text(site.get("/?keyword=nginx"))
    assert f'href="/{NS}/web"' in by_keyword and f'href="/{NS}/db"' not in by_keyword
    assert "Remove keyword nginx" in by_keyword
    assert "Nothing found" in text(site.get("/?namespace=nobody"))
    names = re.findall(rf'href="/{NS}/(\w+)"><span', text(site.get("/?sort=name:desc")))
    assert names == ["web", "db"]


def test_catalog_paging(site: Site) -> None:
    first = text(site.get("/?limit=1"))
    more = re.search(r'href="([^"]+)" rel="next"', first)
    assert more is not None
    second = text(site.get(more.group(1).replace("&amp;", "&")))
    assert f'href="/{NS}/web"' in second and "First page" in second


def test_bad_listing_parameter_is_a_400_page(site: Site) -> None:
    page = site.get("/?sort=size")
    assert page.status_code == 400
    assert "sort" in text(page) and page.mimetype == "text/html"


def test_template_page(site: Site) -> None:
    page = site.get(f"/{NS}/web")
    assert page.status_code == 200
    body = text(page)
    assert "A web server behind a port" in body
    # How to use it: Heat at the latest version's raw URL, and the clone URL.
    assert (f"openstack stack create -t http://localhost/{NS}/web/raw/2.0.0/template.yaml web"
            in body)
    assert f'>http://localhost/{NS}/web.git</textarea>' in body
    for name in ("image", "network", "admin_password"):
        assert f'id="param-{name}"' in body
    assert 'id="param-flavor"' not in body  # 2.0.0 removed it
    assert "change-me" not in body  # a hidden parameter's default is not shown
    for resource in ("port", "volume", "server", "monitoring"):
        assert f"<code>{resource}</code>" in body
    assert "<code>address</code>" in body
    assert "Web Team" in body and "mailto:web@example.com" in body
    assert re.search(rf'class="icon" src="/{NS}/web/raw/[0-9a-f]{{40}}/docs/diagram.svg"', body)
    assert "frontend" in body
    assert 'class="badge yanked"' in body


def test_template_page_at_a_version(site: Site) -> None:
    body = text(site.get(f"/{NS}/web?ref=1.0.0"))
    assert 'id="param-flavor"' in body
    # Each parameter's group is a column of the table.
    assert '<th scope="col">Group</th>' in body
    flavor = body[body.index('id="param-flavor"'):]
    assert "<td>Server</td>" in flavor[:flavor.index("</tr>")]
    network = body[body.index('id="param-network"'):]
    assert "<td></td>" in network[:network.index("</tr>")]
    assert "raw/1.0.0/template.yaml" in body
    yanked = text(site.get(f"/{NS}/web?ref=1.0.1"))
    assert "Version 1.0.1 was yanked" in yanked and "Tagged by mistake" in yanked


def test_readme_is_sanitised_and_links_resolve_at_the_commit(site: Site) -> None:
    body = text(site.get(f"/{NS}/web"))
    commit = re.search(rf'/{NS}/web/files/([0-9a-f]{{40}})"', body)
    assert commit is not None
    sha = commit.group(1)
    assert f'href="/{NS}/web/files/{sha}/docs/guide.md"' in body
    assert f'src="/{NS}/web/raw/{sha}/docs/diagram.svg"' in body
    assert 'href="#usage"' in body
    assert "<script>" not in body.split("</head>")[1]
    assert "javascript:" not in body
    assert "tracker.example.com" not in body  # no third-party request
    assert "<table>" in body and "<strong>acme</strong>" in body


def test_deprecated_template_names_its_replacement(site: Site) -> None:
    body = text(site.get(f"/{NS}/db"))
    assert "Deprecated" in body and "Use the managed database." in body
    assert f'<a href="/{NS}/web">{NS}/web</a>' in body


def test_private_template_is_a_404_like_a_missing_one(site: Site) -> None:
    hidden = site.get(f"/{PRIVATE_NS}/secret")
    missing = site.get(f"/{PRIVATE_NS}/absent")
    assert hidden.status_code == missing.status_code == 404
    assert text(hidden).replace("secret", "X") == text(missing).replace("absent", "X")
    for path in ("files", "files/main", "versions", "history", "compare?from=main&to=main",
                 "graph.svg"):
        assert site.get(f"/{PRIVATE_NS}/secret/{path}").status_code == 404, path
    assert f'href="/{PRIVATE_NS}/secret"' not in text(site.get("/?q=secret"))


def test_signed_in_reader_sees_the_private_template(site: Site) -> None:
    assert "A secret PostgreSQL" in text(site.get(f"/{PRIVATE_NS}/secret", site.reader))
    assert f'href="/{PRIVATE_NS}/secret"' in text(site.get("/", site.reader))
    # A token that no longer authenticates signs the browser out.
    gone = site.get("/", "hk_not_a_real_token")
    assert gone.status_code == 200
    assert "heater_session=;" in gone.headers["Set-Cookie"]


def test_files_tree_and_file_view(site: Site) -> None:
    tree = site.get(f"/{NS}/web/files/1.0.0")
    assert tree.status_code == 200
    body = text(tree)
    assert f'href="/{NS}/web/files/1.0.0/docs"' in body
    assert f'href="/{NS}/web/files/1.0.0/template.yaml"' in body
    assert body.index(">docs/<") < body.index(">README.md<")  # directories first
    assert f'href="/{NS}/web/files/1.0.0"' in text(site.get(f"/{NS}/web/files/1.0.0/docs"))
    file = text(site.get(f"/{NS}/web/files/1.0.0/template.yaml"))
    assert 'href="#L-1"' in file and 'id="L-1"' in file
    assert f'href="http://localhost/{NS}/web/raw/1.0.0/template.yaml"' in file
    assert re.search(rf'href="/{NS}/web/files/[0-9a-f]{{40}}/template.yaml"', file)
    assert 'class="highlight"' in file
    default = site.get(f"/{NS}/web/files")
    assert default.status_code == 303 and default.headers["Location"] == f"/{NS}/web/files/latest"
    missing = site.get(f"/{NS}/web/files/1.0.0/nope.yaml")
    assert missing.status_code == 404 and "nope.yaml" in text(missing)
    assert site.get(f"/{NS}/web/files/9.9.9").status_code == 404


def test_versions_and_history(site: Site) -> None:
    versions = text(site.get(f"/{NS}/web/versions"))
    assert versions.index(">2.0.0<") < versions.index(">1.0.1<") < versions.index(">1.0.0<")
    assert "First release" in versions and "Tagged by mistake" in versions
    assert "compare?from=1.0.1&amp;to=2.0.0" in versions
    history = text(site.get(f"/{NS}/web/history"))
    assert "Change acme/web" in history and "First web server" in history
    assert "Web Team" in history


def test_history_and_files_pick_their_ref(site: Site) -> None:
    history = text(site.get(f"/{NS}/web/history"))
    picker = history[history.index('<select id="picker-ref"'):]
    picker = picker[:picker.index("</select>")]
    assert '<option value="2.0.0">' in picker and '<option value="main">' in picker
    older = text(site.get(f"/{NS}/web/history?ref=1.0.0"))
    assert "First web server" in older and "Change acme/web" not in older
    assert '<option value="1.0.0" selected>' in older
    files = text(site.get(f"/{NS}/web/files/1.0.0/docs"))
    assert f'action="/{NS}/web/files"' in files
    assert '<input type="hidden" name="path" value="docs">' in files
    assert '<option value="1.0.0" selected>' in files
    # What the picker sends: the same path at the ref picked.
    picked = site.get(f"/{NS}/web/files?ref=2.0.0&path=docs")
    assert picked.status_code == 303
    assert picked.headers["Location"] == f"/{NS}/web/files/2.0.0/docs"
    # A ref no list holds (a SHA) is still the one shown as picked.
    sha = re.search(rf'/{NS}/web/files/([0-9a-f]{{40}})"', text(site.get(f"/{NS}/web")))
    assert sha is not None
    at_sha = text(site.get(f"/{NS}/web/files/{sha.group(1)}"))
    assert f'<option value="{sha.group(1)}" selected>' in at_sha


def test_compare_shows_the_verdict_first(site: Site) -> None:
    page = site.get(f"/{NS}/web/compare?from=1.0.0&to=2.0.0")
    assert page.status_code == 200
    body = text(page)
    assert "Verdict: major" in body
    assert body.index("Verdict: major") < body.index('id="files"')
    assert "Heat replaces port" in body
    assert "is a major bump" in body and "enough" in body
    assert 'class="add"' in body and 'class="del"' in body
    split = text(site.get(f"/{NS}/web/compare?from=1.0.0&to=2.0.0&view=split"))
    assert 'class="diff-table split"' in split
    assert site.get(f"/{NS}/web/compare?from=1.0.0&to=2.0.0&view=3d").status_code == 400
    assert site.get(f"/{NS}/web/compare?from=1.0.0&to=7.0.0").status_code == 404


def test_graph_has_a_node_per_resource(site: Site) -> None:
    svg = site.get(f"/{NS}/web/graph.svg?ref=1.0.0")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    body = text(svg)
    # The entry point's four, and the nested template's alarm.
    assert len(re.findall(r'class="node resource same"', body)) == 5
    assert len(re.findall(r'class="node parameter same"', body)) == 4
    assert len(re.findall(r'class="node output same"', body)) == 1
    assert 'class="cluster' in body and "<script" not in body


def test_graph_of_a_comparison_colours_changes(site: Site) -> None:
    new = text(site.get(f"/{NS}/web/graph.svg?from=1.0.0&to=2.0.0&side=to"))
    assert len(re.findall(r'class="node resource changed"', new)) == 2  # port, server
    assert site.get(f"/{NS}/web/graph.svg?side=to").status_code == 400


def test_pages_carry_a_strict_content_security_policy(site: Site) -> None:
    page = site.get(f"/{NS}/web")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "Cookie" in page.headers["Vary"]
    assert "<script>" not in text(page)  # scripts only from files
    assert site.get("/ui/static/heater.css").status_code == 200
    assert site.get("/ui/code.css").mimetype == "text/css"


def test_deleted_template_shows_its_tombstone(site: Site) -> None:
    created = site.app.call("POST", "/api/v1/templates", site.admin, json={
        "namespace": NS, "name": "old", "files": {"template.yaml": "heat_template_version: "
                                                  "2018-08-31\nresources: {}\n"}})
    assert created.status_code == 201
    deleted = site.app.call("DELETE", f"/api/v1/templates/{NS}/old", site.admin,
                            json={"reason": "Superseded"})
    assert deleted.status_code == 200, deleted.get_json()
    page = site.get(f"/{NS}/old")
    assert page.status_code == 410
    assert "Deleted" in text(page) and "Superseded" in text(page)


def test_images_listing_and_image_page(site: Site) -> None:
    listing = text(site.get("/ui/images"))
    assert f'href="/{NS}/jammy"' in listing and f'href="/{NS}/web"' not in listing
    page = site.get(f"/{NS}/jammy")
    assert page.status_code == 200
    body = text(page)
    assert "<code>wget</code>" in body and "<code>python3-cryptography</code>" not in body
    assert "ubuntu 22.04" in body and "qcow2 / bare" in body
    assert "sha256" in body and "virtio" in body
    builds = body[body.index('id="builds"'):body.index('id="versions"')]
    assert builds.count('class="badge status-active"') == 2 and "18 Bytes" in builds
    assert "compare?from=1.0.0&amp;to=1.1.0" in body
    found = text(site.get(f"/{NS}/jammy?package=ngin"))
    assert "<code>nginx</code>" in found and "<code>bash</code>" not in found


def test_image_page_at_a_build_and_its_package_diff(site: Site) -> None:
    builds = site.app.call("GET", f"/api/v1/images/{NS}/jammy/builds").get_json()["builds"]
    by_version = {b["version"]: b["build_id"] for b in builds}
    newer, older = by_version["1.1.0"], by_version["1.0.0"]
    body = text(site.get(f"/{NS}/jammy"))
    assert f'href="/{NS}/jammy?ref={older}"' in body
    # Each build links the package diff from the one listed after it.
    after = builds[1]["build_id"]
    assert (f'compare?from={after}&amp;to={builds[0]["build_id"]}">packages since the '
            "build before") in body
    at_build = site.get(f"/{NS}/jammy?ref={older}")
    assert at_build.status_code == 200
    shown = text(at_build)
    assert f"Build at {older}" in shown and "<code>python3-cryptography</code>" in shown
    assert "3.0.2-0ubuntu1.10" in shown and "<code>wget</code>" not in shown
    assert f"<code>{older}</code></dd>" in shown
    assert "Build at 1.0.0" in text(site.get(f"/{NS}/jammy?ref=1.0.0"))
    diff = text(site.get(f"/{NS}/jammy/compare?from={older}&to={newer}"))
    added = diff[diff.index('id="pk-added"'):diff.index('id="pk-removed"')]
    assert "<code>wget</code>" in added
    missing = site.get(f"/{NS}/jammy?ref=9.9.9")
    assert missing.status_code == 404 and "<code>unknown_ref</code>" in text(missing)


def test_image_package_diff(site: Site) -> None:
    page = site.get(f"/{NS}/jammy/compare?from=1.0.0&to=1.1.0")
    assert page.status_code == 200
    body = text(page)
    upgraded = body[body.index('id="pk-upgraded"'):body.index('id="pk-downgraded"')]
    assert "<code>openssl</code>" in upgraded and "<code>nginx</code>" in upgraded
    assert "3.0.2-0ubuntu1.15" in upgraded
    added = body[body.index('id="pk-added"'):body.index('id="pk-removed"')]
    assert "<code>wget</code>" in added
    assert "<code>python3-cryptography</code>" in body[body.index('id="pk-removed"'):]
    assert site.get(f"/{NS}/jammy/compare?from=1.0.0&to=9.0.0").status_code == 404


def test_without_graphviz_pages_say_so(site: Site, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # A server whose PATH has git but no dot, over the same data.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bin_dir / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(bin_dir))
    plain = App.start(site.app.data_dir)
    page = plain.client.get(f"/{NS}/web")
    assert page.status_code == 200
    assert b"needs Graphviz" in page.data and b"graph.svg" not in page.data
    svg = plain.client.get(f"/{NS}/web/graph.svg")
    assert svg.status_code == 503 and b"graphviz_missing" in svg.data


# A row of the files page: a linked file or directory, or a submodule.
_ROW = re.compile(r'<tr><td>(?:<a class="(?:dir|file)" href="[^"]*">([^<]*?)/?</a>'
                  r'|<span class="file"[^>]*>([^<]*) @ <code>([0-9a-f]{12})</code>)')


def test_files_page_lists_what_the_tree_api_lists(tmp_path: Path) -> None:
    # One listing of a directory for both: a submodule, a symlink and an
    # executable beside files and directories, in the same order.
    app = App.start(tmp_path / "data")
    admin = app.token(Role.ADMIN)
    app.template(admin, f"{NS}/mixed")
    git = pygit2.Repository(str(app.layout.repository(RepoId(NS, "mixed"))))
    parent = git.references["refs/heads/main"].peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(parent.tree)
    modes = pygit2.enums.FileMode
    for path, mode, oid in (
            ("vendor", modes.COMMIT, pygit2.Oid(hex="ab" * 20)),
            ("latest.yaml", modes.LINK, git.create_blob(b"template.yaml")),
            ("bin/run.sh", modes.BLOB_EXECUTABLE, git.create_blob(b"echo run\n"))):
        index.add(pygit2.IndexEntry(path, oid, mode))
    who = pygit2.Signature("Web Team", "web@example.com")
    git.create_commit("refs/heads/main", who, who, "Mixed entries", index.write_tree(git),
                      [parent.id])
    listed = app.call("GET", f"/api/v1/templates/{NS}/mixed/tree/main", admin).get_json()
    page = app.call("GET", f"/{NS}/mixed/files/main", admin)
    assert page.status_code == 200
    rows = [(m[0] or m[1], m[2] or None) for m in _ROW.findall(text(page))]
    assert rows == [(e["name"], e["object_id"][:12] if e["type"] == "submodule" else None)
                    for e in listed["tree"]]
    assert ("vendor", "ab" * 6) in rows


def test_pages_of_a_large_template_read_the_parse_kept_in_the_repository(
        tmp_path: Path) -> None:
    # What a push leaves for every worker (heater-parsed/<blob id>), put
    # there by hand, with a resource the blob does not have: the pages show
    # it, so they read the kept parse instead of parsing the blob again.
    ensure_packages("graphviz", program="dot")
    app = App.start(tmp_path / "data")
    admin = app.token(Role.ADMIN)
    big = ("heat_template_version: 2018-08-31\ndescription: >\n"
           + "  A large template.\n" * (MIN_SHARED_BYTES // 20 + 1)
           + "resources:\n  first: {type: OS::Heat::None}\n")
    created = app.call("POST", "/api/v1/templates", admin, json={
        "namespace": NS, "name": "large", "files": {"template.yaml": big}})
    assert created.status_code == 201, created.get_json()
    repo_path = app.layout.repository(RepoId(NS, "large"))
    blob = pygit2.Repository(str(repo_path)).revparse_single("main:template.yaml")
    kept = NewDocuments()
    kept.add(str(blob.id), MIN_SHARED_BYTES, {
        "heat_template_version": "2018-08-31",
        "resources": {"first": {"type": "OS::Heat::None"},
                      "from_the_kept_parse": {"type": "OS::Heat::None"}}})
    kept.keep(repo_path)
    PARSED.clear()  # as in a worker that has parsed nothing yet
    page = app.call("GET", f"/{NS}/large")
    assert page.status_code == 200 and ">from_the_kept_parse<" in text(page)
    graph = app.call("GET", f"/{NS}/large/graph.svg")
    assert graph.status_code == 200 and b"from_the_kept_parse" in graph.data
