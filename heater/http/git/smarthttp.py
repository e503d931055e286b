"""Git smart HTTP, served by the stock git binary and streamed through WSGI.

Routes (everything else below ``/<ns>/<name>.git/`` is 404, dumb HTTP included)::

    GET  /<ns>/<name>.git/info/refs?service=git-upload-pack|git-receive-pack
    POST /<ns>/<name>.git/git-upload-pack
    POST /<ns>/<name>.git/git-receive-pack

Bodies stream both ways in fixed-size chunks (:mod:`heater.git.stream`):
neither side is ever held in memory whole, and the git process is killed
when the client goes away.

Errors are ``text/plain``: git shows such a body line by line as
``remote: ...``; domain errors get the status the error table gives them.
The access policy's refusals are told to git as 401 wherever other
credentials could help (git then prompts for them; 403 only prints a
message), 404 to a token that may not read the repository, 410 for a
deleted one, and 403 only when no credentials could help.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pygit2

from heater.auth import policy
from heater.auth.tokens import Caller
from heater.config import DEFAULT_MAX_BLOB_BYTES
from heater.errors import HeaterError, Unauthenticated, status_of
from heater.git.command import git_argv, git_env
from heater.git.stream import (
    STDERR_KEPT,
    GitStream,
    Gunzip,
    InputRejected,
    Limited,
    Source,
    request_body,
)
from heater.git.wants import RequestRefused, WantFilter
from heater.http.credentials import credentials_from_environ, note_caller
from heater.http.encodedslash import encoded_slash_refusal, repo_field_with_encoded_slash
from heater.http.observe import ROUTE_ENV
from heater.names import RepoId
from heater.observe.metrics import metrics
from heater.push import relay as hook_relay
from heater.registry import Registry
from heater.repos.lifecycle import read_state
from heater.repos.reachability import Reachability
from heater.repos.store import Kind, RepoInfo, RepositoryExists, RepositoryNotFound, read_info

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# A fetch negotiation (wants, haves, filters) is small; even a client with
# tens of thousands of refs stays far below this once decompressed.
MAX_NEGOTIATION_BYTES = 64 * 1024 * 1024
# The largest push accepted, after decompression; git's own counterpart is
# receive.maxInputSize.
MAX_PUSH_BYTES = 4 * 1024 * 1024 * 1024
SERVICES = ("git-upload-pack", "git-receive-pack")
_PATH_RE = re.compile(r"^/([^/]*)/([^/]*)\.git(/.*)?$")


def is_git_path(path: str) -> bool:
    """True for every path this module answers (so it can 404 dumb HTTP)."""
    return _PATH_RE.match(path) is not None


@dataclass(frozen=True)
class Route:
    method: str
    suffix: str
    handler: str


ROUTES = (
    Route("GET", "/info/refs", "info_refs"),
    Route("POST", "/git-upload-pack", "rpc"),
    Route("POST", "/git-receive-pack", "rpc"),
)


class GitHTTPError(Exception):
    def __init__(self, status: str, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


def _unauthorized(message: str) -> GitHTTPError:
    return GitHTTPError("401 Unauthorized", message,
                        [("WWW-Authenticate", 'Basic realm="Heater", charset="UTF-8"')])


def _not_found(repo: RepoId | str) -> GitHTTPError:
    return GitHTTPError("404 Not Found", f"repository {repo} not found")


def refusal(error: HeaterError, caller: Caller, repo: RepoId) -> GitHTTPError:
    """The access policy's refusal ``error``, as git is told it."""
    if isinstance(error, RepositoryNotFound):
        # Anonymous callers are asked for credentials whether or not the
        # repository exists, so the answer reveals nothing; a caller who is
        # known but may not read it must not learn that it exists.
        return (_unauthorized(f"authentication required for {repo}") if caller is None
                else _not_found(repo))
    if isinstance(error, (Unauthenticated, policy.LacksRole)):
        # Only pushes need a role. 401, so that git asks for other credentials.
        if caller is None:
            return _unauthorized(f"pushing to {repo} needs a token with the writer role")
        return _unauthorized(f"token {caller} may not push to {repo}: the writer role for "
                             f"namespace {repo.namespace} is needed")
    return _domain_error(error)


def _domain_error(error: HeaterError) -> GitHTTPError:
    """``error`` with the status the error table gives it."""
    status = status_of(error)
    if status == 401:
        return _unauthorized(error.message)
    return GitHTTPError(f"{status} {HTTPStatus(status).phrase}", error.message)


class SmartHTTP:
    """The WSGI application for git's smart HTTP protocol."""

    def __init__(self, registry: Registry,
                 max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES) -> None:
        self.registry = registry
        self.max_blob_bytes = max_blob_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._dispatch(environ, start_response)
        except GitHTTPError as exc:
            return _text_response(start_response, exc.status, exc.message, exc.headers)
        except HeaterError as exc:
            err = _domain_error(exc)
            return _text_response(start_response, err.status, err.message, err.headers)
        except Exception:
            # A bug, not the client's doing; git still shows a plain line
            # (as "remote: ...") rather than the WSGI server's HTML page.
            log.exception("git request failed")
            return _text_response(start_response, "500 Internal Server Error",
                                  "internal server error; the server log has details")

    def _dispatch(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        match = _PATH_RE.match(environ.get("PATH_INFO", ""))
        if match is None:
            raise GitHTTPError("404 Not Found", "not a git URL")
        slashed = repo_field_with_encoded_slash(environ)
        if slashed is not None:
            raise encoded_slash_refusal(slashed)
        namespace, name, rest = match.groups()
        repo = RepoId(namespace, name)
        method = environ.get("REQUEST_METHOD", "GET")
        for route in ROUTES:
            if rest == route.suffix:
                environ[ROUTE_ENV] = f"/<ns>/<name>.git{route.suffix}"
                allowed = ", ".join([route.method, *(["HEAD"] * (route.method == "GET")),
                                     "OPTIONS"])
                if method == "OPTIONS":
                    start_response("204 No Content", [("Allow", allowed)])
                    return []
                if method != route.method and not (method == "HEAD" and route.method == "GET"):
                    raise GitHTTPError("405 Method Not Allowed", f"use {route.method}",
                                       [("Allow", allowed)])
                handler = getattr(self, route.handler)
                result: Iterable[bytes] = handler(environ, start_response, repo, rest)
                return result
        raise GitHTTPError("404 Not Found",
                           "only git's smart HTTP protocol is served (dumb HTTP is not)")

    # -- authorisation -----------------------------------------------------

    def _caller(self, environ: dict[str, Any]) -> Caller:
        return note_caller(environ, self.registry.authenticate(
            credentials_from_environ(environ)))

    def _describe(self, repo: RepoId) -> tuple[RepoInfo | None, dict[str, object] | None]:
        """The repository's info and tombstone, read through one open
        (every git request asks); (None, None) when there is no repository."""
        try:
            git = self.registry.repos.open(repo)
        except RepositoryNotFound:
            self.registry.look_up_stand_in()  # as long as refusing a private one
            return None, None
        except HeaterError:
            return None, None
        try:
            try:
                info = read_info(repo, git)
            except HeaterError:
                return None, None
            return info, read_state(git).deleted
        finally:
            git.free()

    def _authorise(self, caller: Caller, repo: RepoId, service: str) -> RepoInfo | None:
        """The repository's info if ``caller`` may use ``service`` on it;
        ``None`` for a push that will create it. Raises otherwise."""
        info, tombstone = self._describe(repo)
        try:
            if service == "git-receive-pack":
                return policy.authorise_push(caller, repo, info, tombstone)
            return policy.authorise(caller, repo, info, tombstone)
        except HeaterError as exc:
            raise refusal(exc, caller, repo) from None

    # -- handlers ----------------------------------------------------------

    def info_refs(self, environ: dict[str, Any], start_response: StartResponse,
                  repo: RepoId, _rest: str) -> Iterable[bytes]:
        service = _query_param(environ.get("QUERY_STRING", ""), "service")
        if service is None:
            raise GitHTTPError("404 Not Found",
                               "only git's smart HTTP protocol is served (dumb HTTP is not)")
        if service not in SERVICES:
            raise GitHTTPError("403 Forbidden", f"unsupported service {service!r}")
        caller = self._caller(environ)
        info = self._authorise(caller, repo, service)
        if service == "git-upload-pack":  # once per clone or fetch, whatever the protocol
            metrics().fetches.inc()
        path = (self.registry.repos.path(repo) if info is not None
                else self.registry.empty_repository())
        protocol = environ.get("HTTP_GIT_PROTOCOL")
        argv = git_argv(path, [service[len("git-"):], "--stateless-rpc", "--advertise-refs",
                               str(path)])
        proc = subprocess.run(argv, env=git_env(git_protocol=protocol), capture_output=True,
                              check=False, timeout=300)
        if proc.returncode != 0:
            log.error("advertise %s %s failed: %s", service, repo, proc.stderr[-STDERR_KEPT:])
            raise GitHTTPError("500 Internal Server Error", "git failed to list references")
        body = proc.stdout
        # Protocol v2 advertises capabilities only; v0 wants the service line
        # first (gitprotocol-http).
        if body.startswith(b"000eversion 2\n"):
            body = _without_object_info(body)
        else:
            body = _pkt_line(f"# service={service}\n") + b"0000" + body
        start_response("200 OK", [
            ("Content-Type", f"application/x-{service}-advertisement"),
            ("Content-Length", str(len(body))),
            *_NO_CACHE,
        ])
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []

    def rpc(self, environ: dict[str, Any], start_response: StartResponse,
            repo: RepoId, rest: str) -> Iterable[bytes]:
        service = rest.lstrip("/")
        expected_type = f"application/x-{service}-request"
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type != expected_type:
            raise GitHTTPError("415 Unsupported Media Type",
                               f"expected Content-Type {expected_type}")
        encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip"):
            raise GitHTTPError("415 Unsupported Media Type",
                               f"unsupported Content-Encoding {encoding!r}")
        try:
            body = request_body(environ)
        except InputRejected as exc:
            raise GitHTTPError(exc.status, exc.message) from None
        caller = self._caller(environ)
        info = self._authorise(caller, repo, service)
        created = False
        if info is None:  # create-on-push by a writer
            try:
                self.registry.repos.create(repo, Kind.TEMPLATE)
                created = True
            except RepositoryExists:
                pass
        limit = MAX_NEGOTIATION_BYTES if service == "git-upload-pack" else MAX_PUSH_BYTES
        source: Source = (Gunzip(body, limit) if encoding in ("gzip", "x-gzip")
                          else Limited(body, limit))
        path = self.registry.repos.path(repo)
        if service == "git-upload-pack":
            source = WantFilter(source, _reachable_in(path))
        argv = git_argv(path, [service[len("git-"):], "--stateless-rpc", str(path)],
                        hooks_path=self.registry.layout.hooks)
        extra = {
            "HEATER_DATA_DIR": str(self.registry.layout.root),
            "HEATER_REPO": str(repo),
            "HEATER_USER": caller.name if caller else "",
            "HEATER_ROLE": str(caller.role) if caller else "",
            "HEATER_SCOPE": (caller.namespace or "*") if caller else "",
        }
        relay = None
        if service == "git-receive-pack" and hook_relay.supported():
            # The pre-receive hook hands its work to this process.
            relay = hook_relay.HookRelay(path, self.registry.layout.push_lock(repo),
                                        policy.is_admin(caller, repo.namespace),
                                        max_blob_bytes=self.max_blob_bytes)
            extra.update(relay.environment())
        env = git_env(extra, git_protocol=environ.get("HTTP_GIT_PROTOCOL"))

        # The write ends when git does, after this handler has returned.
        pending = (self.registry.change(repo, caller, "push", created=created)
                   if service == "git-receive-pack" else None)

        def finished(ok: bool) -> None:
            if relay is not None:
                relay.close()
            if pending is None:
                return
            _count_push(relay, ok)
            if relay is not None:
                pending.audited = bool(relay.accepted)
                pending.details["refs"] = [{"ref": u.ref, "old": u.old, "new": u.new}
                                           for u in relay.accepted]
            if created and self.registry.repos.remove_if_empty(repo):
                # The push that was to create this repository failed: leave
                # nothing behind.
                pending.finish(notify=False)
            else:
                pending.finish()

        inherited = relay.hook_fds if relay is not None else ()
        if pending is not None:
            # git holds the marker's lock too: if this process dies, git may
            # still move refs, so a replay must wait until git has exited.
            inherited += (pending.marker.lock.fileno(),)
        try:
            stream = GitStream(argv, env, path, source, finished, pass_fds=inherited)
            if relay is not None:
                relay.spawned()
        except BaseException:
            if relay is not None:
                relay.close()
            if pending is not None:
                pending.finish(notify=False)
            raise
        if not stream.first_chunk():
            returncode = stream.wait()
            if isinstance(stream.rejection, RequestRefused):
                # As git's own refusal reads: "fatal: remote error: ...".
                refusal = _pkt_line(f"ERR {stream.rejection.message}\n")
                start_response("200 OK", [("Content-Type", f"application/x-{service}-result"),
                                          ("Content-Length", str(len(refusal))), *_NO_CACHE])
                return [refusal]
            if stream.input_error is not None:
                status, message = stream.input_error
                raise GitHTTPError(status, message)
            if returncode != 0:
                # Nothing was sent, so git refused what the client said
                # (a malformed pkt-line, an unknown object...): say why.
                reason = stream.stderr_text().replace(str(path), str(repo))
                raise GitHTTPError("400 Bad Request",
                                   reason.splitlines()[-1] if reason else f"{service} failed")
        start_response("200 OK", [("Content-Type", f"application/x-{service}-result"),
                                  *_NO_CACHE])
        return stream


_NO_CACHE = [
    ("Cache-Control", "no-cache, max-age=0, must-revalidate"),
    ("Pragma", "no-cache"),
    ("Expires", "Fri, 01 Jan 1980 00:00:00 GMT"),
]


def _count_push(relay: hook_relay.HookRelay | None, ok: bool) -> None:
    if relay is not None and relay.refused is not None:
        metrics().pushes.labels("refused").inc()
        metrics().push_refusals.labels(relay.refused).inc()
    else:
        metrics().pushes.labels("accepted" if ok else "failed").inc()


def _reachable_in(path: Path) -> Callable[[str], bool]:
    """Whether a caller may fetch an object of the repository at ``path``;
    the repository is opened at the first question (most requests, ls-refs
    included, ask none) by the thread that asks."""
    checker: Reachability | None = None

    def reachable(oid: str) -> bool:
        nonlocal checker
        if checker is None:
            checker = Reachability(pygit2.Repository(str(path)))
        return checker.reachable(oid)

    return reachable


def _without_object_info(advertisement: bytes) -> bytes:
    """A v2 capability advertisement less ``object-info``: git 2.39 offers
    it unconditionally, and the request filter refuses it."""
    kept, position = [], 0
    while position + 4 <= len(advertisement):
        length = int(advertisement[position:position + 4], 16)
        size = length if length >= 4 else 4
        line = advertisement[position:position + size]
        if not line[4:].startswith(b"object-info"):
            kept.append(line)
        position += size
    return b"".join(kept) + advertisement[position:]


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def _query_param(query: str, key: str) -> str | None:
    values = parse_qs(query, keep_blank_values=True, max_num_fields=20).get(key)
    return values[0] if values else None


def _text_response(start_response: StartResponse, status: str, message: str,
                   headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = (message.rstrip("\n") + "\n").encode("utf-8", "replace")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *(headers or [])])
    return [body]
