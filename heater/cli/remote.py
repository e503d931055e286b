"""What every command that talks to a server shares: ``--url``, ``--token``
and ``--json``, the client they make, and how answers are printed (the
server's JSON as is with ``--json``, for scripts; a table otherwise, for
people) and how errors are reported (one line, never a traceback)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from heater.client.http import Client, ClientError
from heater.errors import HeaterError
from heater.names import RepoId

ENV_URL = "HEATER_URL"
ENV_TOKEN = "HEATER_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8080"

# The largest page a listing answers.
MAX_PAGE = 500
# The widest a free-text column (a description) is shown in a table.
MAX_CELL = 60


def remote_options() -> argparse.ArgumentParser:
    """The options of every command that calls a server."""
    remote = argparse.ArgumentParser(add_help=False)
    remote.add_argument("--url", help=f"server URL (default: ${ENV_URL} or {DEFAULT_URL})")
    remote.add_argument("--token", help=f"API token (default: ${ENV_TOKEN}; none: anonymous)")
    remote.add_argument("--json", action="store_true",
                        help="print the server's JSON answer, for scripts")
    return remote


def add_listing(sub: Any, collection: str, words: str, keyword: str,
                parent: argparse.ArgumentParser) -> None:
    """``list`` (alias ``search``) of ``collection``, with the listing's
    filters: ``words`` say what the words match, ``keyword`` what a keyword is."""
    listing = sub.add_parser("list", aliases=["search"], parents=[parent],
                             help=f"list {collection}, or search them with words")
    listing.add_argument("words", nargs="*", metavar="WORD",
                         help=f"words that must all match ({words})")
    listing.add_argument("--keyword", action="append", help=f"{keyword} (repeatable)")
    listing.add_argument("--namespace", help="only this namespace")
    listing.add_argument("--sort", help="name, updated or created, with :asc or :desc")
    listing.add_argument("--limit", type=int, help="at most this many (default: all)")


def listing(api: Client, args: argparse.Namespace, path: str,
            key: str) -> list[dict[str, Any]]:
    """The entries ``list`` asks for, every page of them."""
    query = {"q": " ".join(args.words) or None, "keyword": args.keyword,
             "namespace": args.namespace, "sort": args.sort,
             "limit": str(min(args.limit, MAX_PAGE)) if args.limit else None}
    return all_pages(api, path, key, query, args.limit)


def client(args: argparse.Namespace) -> Client:
    return Client(args.url or os.environ.get(ENV_URL) or DEFAULT_URL,
                  args.token or os.environ.get(ENV_TOKEN))


def run_remote(args: argparse.Namespace, command: Callable[[Client], int]) -> int:
    """Run ``command`` with the client ``args`` name; a mistake (a refusal by
    the server, a server not reached, a bad file) is one line on stderr and
    exit status 1."""
    try:
        return command(client(args))
    except ClientError as exc:
        print(f"heater: {exc}", file=sys.stderr)
        if exc.status == 401:
            print("heater: give a token with --token or $HEATER_TOKEN (heater token create "
                  "makes one)", file=sys.stderr)
        return 1
    except HeaterError as exc:
        print(f"heater: {exc.message}", file=sys.stderr)
        return 1
    except (OSError, ValueError, http.client.HTTPException) as exc:
        print(f"heater: {exc}", file=sys.stderr)
        return 1


def repo_path(repo: RepoId) -> str:
    return f"{quote(repo.namespace)}/{quote(repo.name)}"


def emit(args: argparse.Namespace, answer: Any, readable: Callable[[], str]) -> int:
    """Print ``answer`` as JSON with ``--json``, else ``readable()``."""
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    else:
        text = readable()
        if text:
            print(text)
    return 0


def cell(value: object) -> str:
    """A value as a table shows it: ``-`` for nothing, one line, cut short."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns aligned under upper-case ``headers``; empty text without rows."""
    if not rows:
        return ""
    shown = [[cell(value) for value in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in shown)) for i, h in enumerate(headers)]
    lines = [[h.upper() for h in headers], *shown]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths,
                                                                        strict=True)).rstrip()
                     for line in lines)


def fields(pairs: Sequence[tuple[str, object]]) -> str:
    """``name: value`` lines, the names aligned."""
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name + ':':<{width + 1}} {cell(value)}" for name, value in pairs)


def short(commit: object) -> str | None:
    """A commit SHA as people read it."""
    return str(commit)[:12] if commit else None


def repo_name(entry: dict[str, Any]) -> str:
    return f"{entry.get('namespace')}/{entry.get('name')}"


def all_pages(api: Client, path: str, key: str, query: dict[str, Any],
              limit: int | None) -> list[dict[str, Any]]:
    """The entries of a listing, following ``next`` until ``limit`` entries
    (all without one)."""
    found: list[dict[str, Any]] = []
    page = api.json("GET", path, query=query)  # the first; "next" holds the query after
    while True:
        found.extend(page.get(key) or [])
        if page.get("next") is None or (limit is not None and len(found) >= limit):
            break
        following = urlsplit(page["next"])
        path = following.path.removeprefix(api.prefix)
        page = api.json("GET", f"{path}?{following.query}")
    return found[:limit] if limit is not None else found
