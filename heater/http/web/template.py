"""A repository's pages: its overview at ``/<ns>/<name>`` (a template, or
an image: the same URL serves both kinds), its files at a ref, versions
and history."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, redirect, request

from heater.auth.policy import WrongKind
from heater.catalog.listing import parse_limit
from heater.http.context import registry
from heater.http.publicurl import base_url
from heater.http.web.base import bp, page, web_caller
from heater.http.web.image import image_page
from heater.http.web.render import highlight_blob, render_readme
from heater.names import RepoId
from heater.repos.resolve import LATEST, UnknownRef
from heater.templates.pages import TemplatePages, parent_of
from heater.templates.service import Templates

HISTORY_PAGE = "30"


def pages() -> TemplatePages:
    return TemplatePages(registry())


def raw_url(repo: RepoId, ref: str, path: str) -> str:
    return f"{base_url()}/{repo.namespace}/{repo.name}/raw/{ref}/{quote(path)}"


@bp.get("/<repo:namespace>/<repo:name>")
def repository_page(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    try:
        overview = pages().overview(web_caller(), repo, request.args.get("ref") or None)
    except WrongKind:  # said only to a caller who may read it
        return image_page(repo)
    detail = overview.detail
    commit = overview.commit
    readme = None
    if overview.readme is not None and commit is not None:
        prefix = f"/{namespace}/{name}"
        readme = render_readme(overview.readme[1], overview.readme[0],
                               f"{prefix}/files/{commit}", f"{prefix}/raw/{commit}")
    entry_url = raw_url(repo, commit, detail["entrypoint"]) if commit else None
    # Heat fetches the URL itself: pin it to the version when the page shows one.
    shown_ref = detail["ref"]
    # A default view without a release (latest is then the branch's head)
    # pins the commit.
    pinned = shown_ref["version"] or (
        commit if shown_ref["requested"] == LATEST else shown_ref["requested"])
    heat_url = raw_url(repo, pinned or "", detail["entrypoint"]) if commit else None
    return page("template.html", title=f"{repo}", repo=repo, o=overview, d=detail,
                readme=readme, entry_url=entry_url, heat_url=heat_url,
                clone_url=f"{base_url()}/{namespace}/{name}.git",
                ref=request.args.get("ref") or "")


@bp.get("/<repo:namespace>/<repo:name>/files")
def files_at_default(namespace: str, name: str) -> Response:
    """The files at ``latest``, else at the default branch; ``?ref=&path=``
    (what the ref picker sends) the path at that ref."""
    repo = RepoId(namespace, name)
    _info, _versions, _branches, default = pages().refs(web_caller(), repo)
    ref = request.args.get("ref") or default
    if ref is None:
        raise UnknownRef("HEAD", "the repository has no commit")
    path = request.args.get("path", "").strip("/")
    target = f"/{namespace}/{name}/files/{quote(ref)}"
    if path:
        target += f"/{quote(path)}"
    return redirect(target, 303)  # type: ignore[return-value]


@bp.get("/<repo:namespace>/<repo:name>/files/<ref>", defaults={"path": ""})
@bp.get("/<repo:namespace>/<repo:name>/files/<ref>/<path:path>", merge_slashes=False)
def files_page(namespace: str, name: str, ref: str, path: str) -> Response:
    repo = RepoId(namespace, name)
    at = pages().at_path(web_caller(), repo, ref, path.rstrip("/"))
    code = highlight_blob(at.path, at.blob_id, at.data) if at.data is not None else None
    crumbs = []
    parts = at.path.split("/") if at.path else []
    for i, part in enumerate(parts):
        crumbs.append((part, "/".join(parts[:i + 1])))
    return page("files.html", title=f"{at.path or 'Files'} · {repo}", repo=repo, at=at,
                code=code, crumbs=crumbs, parent=parent_of(at.path),
                raw=raw_url(repo, ref, at.path) if at.data is not None else None,
                permalink=f"/{namespace}/{name}/files/{at.commit}/{quote(at.path)}")


@bp.get("/<repo:namespace>/<repo:name>/versions")
def versions_page(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    info, versions, branches, default = pages().refs(web_caller(), repo)
    return page("versions.html", title=f"Versions · {repo}", repo=repo, info=info,
                versions=versions, branches=branches, default=default)


@bp.get("/<repo:namespace>/<repo:name>/history")
def history_page(namespace: str, name: str) -> Response:
    repo = RepoId(namespace, name)
    ref = request.args.get("ref") or None
    limit = parse_limit(request.args.get("limit", HISTORY_PAGE))
    info, versions, branches, _default = pages().refs(web_caller(), repo)
    found = Templates(registry()).commits(web_caller(), repo, ref, limit,
                                          request.args.get("marker") or None)
    next_url = None
    if found.next_marker is not None:
        next_url = f"{request.path}?{'ref=' + quote(ref) + '&' if ref else ''}" \
                   f"marker={quote(found.next_marker)}"
    return page("history.html", title=f"History · {repo}", repo=repo, ref=ref or "",
                info=info, versions=versions, branches=branches, commits=found.commits,
                next_url=next_url)
