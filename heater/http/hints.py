"""Useful answers to near misses of the repository URLs.

- ``git clone http://host/<ns>/<name>`` (no ``.git``): git's first request,
  ``GET /<ns>/<name>/info/refs?service=...``, is redirected to the same
  under ``/<ns>/<name>.git``. Git follows a redirect of that first request
  and uses the new base for the rest (``http.followRedirects``' default),
  so the clone or push simply works. The redirect is made from the name
  alone, whatever exists: the ``.git`` URL then answers as it always does
  (401 or 404 alike for a missing and a private repository).
- ``GET /<ns>/<name>`` (a person pasting the clone URL less ``.git`` into a
  browser) is the repository's web page (:mod:`heater.http.web`), which
  names the clone URL.

The ``repo`` converter is the web pages' too: their URLs take only names.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, redirect, request
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response as WerkzeugResponse

from heater.http.publicurl import link
from heater.names import RESERVED, RepoId

bp = Blueprint("hints", __name__)

# What git itself asks first; every later request goes to the .git URL.
GIT_FIRST_REQUEST = "info/refs"


class RepoName(BaseConverter):
    """A URL segment that can name a repository (:data:`heater.names.NAME_RE`,
    not reserved, not ending in ``.git``). Anything else is no route here,
    so that these two catch-all shapes take nothing from other URLs: a
    ``POST /api/v1`` stays 404, not 405."""

    regex = (r"(?!(?:" + "|".join(re.escape(word) for word in sorted(RESERVED))
             + r")(?![a-z0-9._-]))[a-z0-9][a-z0-9._-]{0,62}(?<!\.git)")


def init_app(app: Flask) -> None:
    """Add the ``repo`` converter; before the blueprint is registered."""
    app.url_map.converters["repo"] = RepoName


# merge_slashes=False: "/a//b/info/refs" is no repository's URL.
@bp.get(f"/<repo:namespace>/<repo:name>/{GIT_FIRST_REQUEST}", merge_slashes=False)
def git_without_suffix(namespace: str, name: str) -> WerkzeugResponse:
    repo = RepoId(namespace, name)
    query = request.query_string.decode("latin-1")
    target = link(f"/{repo}.git/{GIT_FIRST_REQUEST}") + (f"?{query}" if query else "")
    return redirect(target, 301)
