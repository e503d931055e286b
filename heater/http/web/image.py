"""An image's pages: its builds and current manifest (packages as a
searchable table), and the package diff between two builds."""

from __future__ import annotations

from flask import Response, request

from heater.http.context import registry
from heater.http.web.base import page, web_caller
from heater.images.diff import diff_manifests
from heater.images.service import Images
from heater.names import RepoId


def images() -> Images:
    return Images(registry())


# Builds shown on an image's page, newest first.
BUILDS_SHOWN = 50


def image_page(repo: RepoId) -> Response:
    """The image at ``latest``, or at ``?ref=`` (a version or a build id)."""
    detail = images().show(web_caller(), repo)
    builds = images().builds_of(web_caller(), repo, BUILDS_SHOWN, None)
    ref = request.args.get("ref") or ""
    now = images().manifest(web_caller(), repo, ref) if ref else detail.current
    manifest = now.manifest if now is not None else {}
    wanted = request.args.get("package", "").strip().lower()
    packages = [p for p in manifest.get("packages") or []
                if isinstance(p, dict) and wanted in str(p.get("name", "")).lower()]
    return page("image.html", title=str(repo), repo=repo, info=detail.info, now=now, ref=ref,
                deprecated=detail.deprecated, manifest=manifest, versions=detail.versions,
                builds=builds.builds, more_builds=builds.next_marker is not None,
                packages=packages, package=wanted)


def image_compare(repo: RepoId, old: str, new: str) -> Response:
    before, after = images().manifests(web_caller(), repo, old, new)
    changes = diff_manifests(before.manifest, after.manifest)
    return page("image_compare.html", title=f"Compare · {repo}", repo=repo, old=before,
                new=after, changes=changes, from_ref=old, to_ref=new)
