"""``GET /api/v1/templates/<ns>/<name>/diff?from=&to=&format=json|unified``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from heater.http.api.templates import templates
from heater.http.context import caller, format_arg, repo_id, required_args

bp = Blueprint("diff_api", __name__, url_prefix="/api/v1/templates")

FORMATS = ("json", "unified")


@bp.get("/<namespace>/<name>/diff")
def template_diff(namespace: str, name: str) -> Response:
    repo = repo_id(namespace, name)
    params = required_args(("from", "to"), "a version, branch, 'latest' or commit SHA")
    fmt = format_arg(FORMATS)
    info, result = templates().diff(caller(), repo, params["from"], params["to"],
                                    binary_patches=fmt == "unified")
    if fmt == "unified":
        text = result.comparison.text
        patch = text.unified()
        # No changes: 204, so that a script tells "nothing to apply" from a
        # patch without parsing one (an error is a 4xx with a JSON body).
        response = (Response(patch, mimetype="text/x-diff") if patch
                    else Response(status=204))
        # Binary files too large for a --binary patch are only said to
        # differ: the patch does not give the whole of `to` either.
        cut = text.truncated or bool(text.binary_omitted)
        response.headers["X-Heater-Diff-Truncated"] = str(cut).lower()
        response.headers["X-Heater-Verdict"] = str(result.comparison.verdict)
    else:
        response = jsonify(result.as_json())
    if result.old.immutable and result.new.immutable:
        # A diff of two fixed commits never changes; a private one is
        # for the caller's own cache only.
        scope = "private" if info.private else "public"
        response.headers["Cache-Control"] = f"{scope}, max-age=31536000, immutable"
        response.set_etag(f"diff-{result.old.sha}-{result.new.sha}-{fmt}")
        response.make_conditional(request)
    return response
