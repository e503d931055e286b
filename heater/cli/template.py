"""``heater template ...``: templates on a server, over the REST API: list
and search, show, versions, release, yank, deprecate, diff, delete, and
signed raw URLs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from heater.auth.signing import DEFAULT_EXPIRES_IN
from heater.cli.remote import (
    add_listing,
    emit,
    fields,
    listing,
    remote_options,
    repo_name,
    repo_path,
    run_remote,
    short,
    table,
)
from heater.client.http import Client, ClientError
from heater.names import RepoId

API = "/api/v1/templates"


def add_commands(commands: Any) -> None:
    """Add ``template`` and its subcommands to the ``heater`` parser."""
    remote = remote_options()
    template = commands.add_parser("template", help="find, read, release and retire templates "
                                   "on a server")
    sub = template.add_subparsers(dest="template_command", required=True)

    add_listing(sub, "templates", "name, description, keywords...", "a keyword", remote)

    show = sub.add_parser("show", parents=[remote], help="a template's metadata")
    show.add_argument("repo", metavar="NS/NAME")
    show.add_argument("--ref", help="a version, branch or commit (default: latest)")

    versions = sub.add_parser("versions", parents=[remote], help="a template's versions")
    versions.add_argument("repo", metavar="NS/NAME")

    release = sub.add_parser("release", parents=[remote],
                             help="release a version (an annotated tag made on the server)")
    release.add_argument("repo", metavar="NS/NAME")
    release.add_argument("version", metavar="VERSION")
    release.add_argument("--ref", help="what to release (default: the default branch)")
    release.add_argument("--message", help="the tag's message")

    yank = sub.add_parser("yank", parents=[remote],
                          help="yank a version (never latest again, still readable)")
    yank.add_argument("repo", metavar="NS/NAME")
    yank.add_argument("version", metavar="VERSION")
    yank.add_argument("--reason", help="why (shown to its readers)")
    yank.add_argument("--undo", action="store_true", help="take the yank back")

    deprecate = sub.add_parser("deprecate", parents=[remote], help="deprecate a template")
    deprecate.add_argument("repo", metavar="NS/NAME")
    # --message: the name before 1.0, when the API called the reason so.
    deprecate.add_argument("--reason", "--message", dest="reason",
                           help="why, and what to do instead")
    deprecate.add_argument("--replacement", metavar="NS/NAME", help="the template to use instead")
    deprecate.add_argument("--undo", action="store_true", help="take the deprecation back")

    diff = sub.add_parser("diff", parents=[remote], help="compare two refs of a template")
    diff.add_argument("repo", metavar="NS/NAME")
    diff.add_argument("old", metavar="FROM", help="a version, branch, latest or commit")
    diff.add_argument("new", metavar="TO")
    diff.add_argument("--unified", action="store_true",
                      help="print the patch (git apply takes it) instead of a summary")

    raw_url = sub.add_parser(
        "raw-url", parents=[remote],
        help="print a signed raw URL that opens one commit of a template to anyone until "
             "it expires: Heat reads a private template with it (openstack stack create -t)")
    raw_url.add_argument("repo", metavar="NS/NAME")
    raw_url.add_argument("--ref", help="a version, branch, latest or commit (default: "
                                       "latest, else the default branch)")
    raw_url.add_argument("--path", help="the file (default: the entry point)")
    raw_url.add_argument("--expires-in", type=int, default=DEFAULT_EXPIRES_IN,
                         metavar="SECONDS", help=f"default {DEFAULT_EXPIRES_IN}")

    delete = sub.add_parser("delete", parents=[remote],
                            help="delete a template (a tombstone; needs an admin token)")
    delete.add_argument("repo", metavar="NS/NAME")
    delete.add_argument("--reason", help="why (kept in its history)")
    delete.add_argument("--undo", action="store_true", help="undelete it")


def run(args: argparse.Namespace) -> int:
    command = {"list": list_templates, "search": list_templates, "show": show,
               "versions": versions, "release": release, "yank": yank,
               "deprecate": deprecate, "diff": diff, "delete": delete,
               "raw-url": raw_url}[args.template_command]
    return run_remote(args, lambda api: command(api, args))


def _reason(args: argparse.Namespace, what: str) -> str:
    if not args.reason:
        raise ClientError(f"say why with --reason: a {what} is kept in the history with it")
    return str(args.reason)


def _repo(args: argparse.Namespace) -> str:
    return f"{API}/{repo_path(RepoId.parse(args.repo))}"


def list_templates(api: Client, args: argparse.Namespace) -> int:
    found = listing(api, args, API, "templates")
    rows = [[repo_name(t), t.get("latest_version"), t.get("updated_at", "")[:10],
             "deprecated" if t.get("deprecated") else "", t.get("description")] for t in found]
    return emit(args, {"templates": found}, lambda: table(
        ["template", "latest", "updated", "state", "description"], rows) or "no templates")


def show(api: Client, args: argparse.Namespace) -> int:
    detail = api.json("GET", _repo(args), query={"ref": args.ref})
    ref = detail.get("ref") or {}
    params = [p.get("name") for p in detail.get("parameters") or []]
    deprecated = detail.get("deprecated")
    pairs: list[tuple[str, object]] = [
        ("template", repo_name(detail)),
        ("description", detail.get("description")),
        ("visibility", detail.get("visibility")),
        ("latest version", detail.get("latest_version")),
        ("shown at", f"{ref.get('requested') or ref.get('kind')} ({short(ref.get('commit'))})"),
        ("default branch", detail.get("default_branch")),
        ("keywords", detail.get("keywords")),
        ("entry point", detail.get("entrypoint")),
        ("parameters", params),
        ("deprecated", deprecated.get("reason") if isinstance(deprecated, dict) else None),
        ("problems", detail.get("problems")),
        ("clone", detail.get("clone_url")),
    ]
    return emit(args, detail, lambda: fields(pairs))


def versions(api: Client, args: argparse.Namespace) -> int:
    answer = api.json("GET", f"{_repo(args)}/versions")
    rows = [[v.get("version"), short(v.get("commit")), str(v.get("created_at") or "")[:19],
             _yank_state(v)] for v in answer.get("versions") or []]
    return emit(args, answer, lambda: table(["version", "commit", "created", "state"], rows)
                or "no versions")


def _yank_state(version: dict[str, Any]) -> str:
    yanked = version.get("yanked")
    if not yanked:
        return ""
    reason = yanked.get("reason") if isinstance(yanked, dict) else None
    return f"yanked: {reason}" if reason else "yanked"


def release(api: Client, args: argparse.Namespace) -> int:
    ref = args.ref or api.json("GET", _repo(args)).get("default_branch")
    body = {"version": args.version, "ref": ref,
            **({"message": args.message} if args.message else {})}
    created = api.json("POST", f"{_repo(args)}/versions", body)
    return emit(args, created, lambda: f"released {args.repo} {created.get('version')} at "
                f"commit {short(created.get('commit'))}")


def yank(api: Client, args: argparse.Namespace) -> int:
    path = f"{_repo(args)}/versions/{args.version}/yank"
    if args.undo:
        state = api.json("DELETE", path)
        return emit(args, state, lambda: f"{args.repo} {args.version} is no longer yanked")
    state = api.json("POST", path, {"reason": _reason(args, "yank")})
    return emit(args, state, lambda: f"{args.repo} {args.version} yanked")


def deprecate(api: Client, args: argparse.Namespace) -> int:
    path = f"{_repo(args)}/deprecation"
    if args.undo:
        state = api.json("DELETE", path)
        return emit(args, state, lambda: f"{args.repo} is no longer deprecated")
    body: dict[str, object] = {}
    if args.reason:
        body["reason"] = args.reason
    if args.replacement:  # NS/NAME on the command line, a RepoRef in the body
        body["replacement"] = RepoId.parse(args.replacement).as_json()
    state = api.json("PUT", path, body)
    return emit(args, state, lambda: f"{args.repo} deprecated"
                + (f" in favour of {args.replacement}" if args.replacement else ""))


def diff(api: Client, args: argparse.Namespace) -> int:
    query = {"from": args.old, "to": args.new}
    if args.unified:
        answer = api.request("GET", f"{_repo(args)}/diff",
                             query={**query, "format": "unified"})
        if answer.status == 204:
            print(f"no changes from {args.old} to {args.new}", file=sys.stderr)
        sys.stdout.write(answer.body.decode("utf-8", "replace"))
        return 0
    result = api.json("GET", f"{_repo(args)}/diff", query=query)
    return emit(args, result, lambda: _diff_summary(result, args))


def _diff_summary(result: dict[str, Any], args: argparse.Namespace) -> str:
    files = result.get("files") or []
    rows = [[f.get("status"), f.get("path"), f"+{f.get('additions') or 0}",
             f"-{f.get('deletions') or 0}"] for f in files]
    lines = [f"{args.repo}: {args.old} -> {args.new}: verdict {result.get('verdict')}"]
    check = result.get("version_check")
    if isinstance(check, dict) and check.get("message"):
        lines.append(str(check["message"]))
    lines.append(table(["status", "file", "added", "removed"], rows) or "no changes")
    return "\n".join(lines)


def raw_url(api: Client, args: argparse.Namespace) -> int:
    """The signed URL on standard output (its commit and expiry on standard
    error), so that it can go straight to ``openstack stack create -t``."""
    body: dict[str, object] = {"expires_in": args.expires_in}
    if args.ref:
        body["ref"] = args.ref
    if args.path:
        body["path"] = args.path
    signed = api.json("POST", f"{_repo(args)}/raw-url", body)
    if not args.json:
        print(f"{short(signed['ref']['commit'])} until {signed['expires_at']}", file=sys.stderr)
    return emit(args, signed, lambda: str(signed["url"]))


def delete(api: Client, args: argparse.Namespace) -> int:
    if args.undo:
        state = api.json("POST", f"{_repo(args)}/undelete")
        return emit(args, state, lambda: f"{args.repo} undeleted")
    state = api.json("DELETE", _repo(args), {"reason": _reason(args, "delete")})
    return emit(args, state, lambda: f"{args.repo} deleted (a tombstone keeps its history)")
