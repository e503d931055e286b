"""Template repositories as the API offers them: create, show, versions,
commits, raw files, diffs, releases and settings (the lifecycle actions,
the same for every kind, are :class:`heater.repos.service.Repositories`).

Every method checks access through the registry and reads the repository
through one :class:`~heater.repos.view.RepoView`, opened once. Every write
runs inside :meth:`~heater.registry.Registry.change`, so the catalog index
hears of it, and a crash before it did leaves a marker that the next start
replays.

A write takes its request body as a function (:data:`Body`) and calls it
only once the caller has been let in, so an anonymous or unauthorised
caller hears 401, 403 or 404 whatever its body says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from heater.auth.policy import require_token
from heater.auth.signing import DEFAULT_EXPIRES_IN, MAX_EXPIRES_IN, MIN_EXPIRES_IN
from heater.auth.tokens import Caller, Principal, Role
from heater.catalog.detail import template_detail, yank_of
from heater.diff import RefComparison, compare_refs
from heater.errors import InvalidValue, MissingField
from heater.git.objects import head_commit
from heater.git.trees import FileNotInTree, find_blob, is_directory
from heater.names import RepoId
from heater.registry import Registry
from heater.repos.browse import split_ref
from heater.repos.commits import HistoryPage, history
from heater.repos.lifecycle_actions import VersionNotFound, check_text
from heater.repos.resolve import LATEST, Resolved
from heater.repos.service import Body, Repositories
from heater.repos.store import Kind, RepoInfo, RepositoryNotFound, parse_visibility
from heater.repos.versions import TaggedVersion, Version
from heater.repos.view import RepoView
from heater.templates.bundle import build_bundle, raw_prefix
from heater.templates.files import parse_files
from heater.templates.heateryaml import entrypoint
from heater.templates.paramcheck import ValueProblem, check_parameter_values
from heater.templates.paramschema import parameters_schema
from heater.templates.release import create_version
from heater.templates.yamlload import load_yaml


def string_field(body: Mapping[str, Any], field: str, *, required: bool) -> str | None:
    """``body[field]``, a string (or None when absent and not ``required``)."""
    value = body.get(field)
    if value is None and not required:
        return None
    if value is None:
        raise MissingField(field, f"{field!r} is required and must be a string")
    if not isinstance(value, str):
        raise InvalidValue(field, f"{field!r} must be a string")
    return value


def _expires_in(body: Mapping[str, Any]) -> int:
    """``expires_in``: whole seconds, within what signed URLs allow."""
    value = body.get("expires_in", DEFAULT_EXPIRES_IN)
    if isinstance(value, bool) or not isinstance(value, int) \
            or not MIN_EXPIRES_IN <= value <= MAX_EXPIRES_IN:
        raise InvalidValue("expires_in", f"'expires_in' must be a whole number of seconds "
                                         f"from {MIN_EXPIRES_IN} to {MAX_EXPIRES_IN}")
    return value


def _required(body: Mapping[str, Any], field: str) -> str:
    value = string_field(body, field, required=True)
    assert value is not None
    return value


@dataclass(frozen=True)
class SignedUrl:
    """A signature that opens one commit of a repository until ``expires``
    (Unix seconds), and the file the URL was asked for."""

    resolved: Resolved
    path: str
    signature: str
    expires: int


# Who reads through a signed URL, for the access log and the access policy:
# a reader of the URL's namespace, for the one repository the signature names.
SIGNED_URL_READER = "signed-url"


@dataclass(frozen=True)
class RawFile:
    """A file of a repository at a ref, with what its cache headers need."""

    info: RepoInfo
    resolved: Resolved
    blob: pygit2.Blob
    # How the version the ref names was yanked, if it was.
    yank: dict[str, Any] | None
    # From the object header: a large blob is streamed from the repository
    # at ``repo_path`` rather than inflated (heater.git.blobs).
    size: int
    repo_path: Path
    # The file's path in the repository: the URL's path less any part of a
    # branch name (``feature/x``) it held.
    path: str


@dataclass(frozen=True)
class ParametersAtRef:
    """What a template's parameters say at a ref: the JSON Schema, or the
    problems of values checked against them."""

    info: RepoInfo
    resolved: Resolved
    entrypoint: str
    schema: dict[str, Any]
    problems: list[ValueProblem]


@dataclass(frozen=True)
class Bundle:
    """A ``POST /stacks`` body and the commit whose files it holds."""

    commit: str
    body: dict[str, Any]


def _resolve(view: RepoView, ref: str | None) -> Resolved:
    """What ``ref`` names; without one, ``latest`` (else the default branch)."""
    return view.resolve(LATEST if ref is None else ref)


class Templates:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        # Lifecycle and settings: the same for every kind.
        self.repositories = Repositories(registry, Kind.TEMPLATE)

    # -- reads -------------------------------------------------------------

    def show(self, caller: Caller, repo: RepoId, ref: str | None) -> dict[str, Any]:
        """The template at ``ref`` (default: ``latest``, else the default
        branch) as the catalog describes it."""
        return self._detail(caller, repo, ref)

    def _detail(self, caller: Caller, repo: RepoId, ref: str | None) -> dict[str, Any]:
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            return template_detail(view, ref, self.repositories.visible(caller))

    def versions(self, caller: Caller, repo: RepoId) -> list[TaggedVersion]:
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            return view.versions

    def version(self, caller: Caller, repo: RepoId, version: str) -> TaggedVersion:
        wanted = Version.parse(version)  # 400 before anything is read
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            tagged = view.version(wanted)
        if tagged is None:
            raise VersionNotFound(version)
        return tagged

    def commits(self, caller: Caller, repo: RepoId, ref: str | None, limit: int,
                marker: str | None) -> HistoryPage:
        """A page of the history of ``ref`` (default: the default branch)."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            start = view.resolve(ref).commit if ref is not None else head_commit(view.git)
            if start is None:
                return HistoryPage([], None)
            return history(view.git, start, limit, marker)

    def raw_file(self, caller: Caller, repo: RepoId, ref: str, path: str,
                 kind: Kind | None = None) -> RawFile:
        """The file at ``path`` at ``ref`` in any repository (template or
        image, unless ``kind`` says which) that ``caller`` may read."""
        with self.registry.view(caller, repo, kind) as view:
            # The URL split at the first "/"; a branch may hold more of it.
            ref, path = split_ref(view.git, f"{ref}/{path}", path_required=True)
            resolved = view.resolve(ref)
            blob = find_blob(resolved.commit.tree, path)
            if blob is None:
                raise FileNotInTree(path, f"{ref} ({resolved.sha[:12]})",
                                    directory=is_directory(resolved.commit.tree, path))
            _type, size = view.git.odb.read_header(blob.id)
            return RawFile(view.info, resolved, blob, yank_of(resolved, view.state), size,
                           Path(view.git.path), path)

    def sign_raw_url(self, caller: Caller, repo: RepoId, body: Body, now: float) -> SignedUrl:
        """A signed raw URL's parts for a template ``caller`` may read: at
        ``ref`` (default ``latest``, else the default branch), for ``path``
        (default the entry point), valid ``expires_in`` seconds (default an hour)."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            fields = body()
            ref = string_field(fields, "ref", required=False)
            path = string_field(fields, "path", required=False)
            expires = int(now) + _expires_in(fields)
            resolved = _resolve(view, ref)
            tree = resolved.commit.tree
            path = path or entrypoint(tree)
            if find_blob(tree, path) is None:
                raise FileNotInTree(path, f"{resolved.ref} ({resolved.sha[:12]})",
                                    directory=is_directory(tree, path))
            signature = self.registry.signing.signer().sign(repo, resolved.sha, expires)
            return SignedUrl(resolved, path, signature, expires)

    def signed_raw_file(self, repo: RepoId, signature: str, commit: str, path: str,
                        now: float) -> RawFile:
        """The file at ``path`` of ``commit`` (a full SHA) through a signed
        URL; a signature that does not open ``commit`` of ``repo`` at ``now``
        is answered as a missing repository, whoever asks."""
        if not self.registry.signing.signer().verify(repo, commit, signature, now):
            self.registry.look_up_stand_in()  # the time a missing repository takes
            raise RepositoryNotFound(repo)
        reader = Principal(SIGNED_URL_READER, Role.READER, repo.namespace)
        return self.raw_file(reader, repo, commit, path, Kind.TEMPLATE)

    def bundle(self, caller: Caller, repo: RepoId, ref: str | None,
               environments: Sequence[str], base_url: str) -> Bundle:
        """What python-heatclient posts to Heat's ``POST /stacks`` for the
        template at ``ref`` (default: ``latest``, else the default branch)
        and ``environments``, every URL under ``base_url`` pinned to the
        commit ``ref`` resolves to."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            resolved = _resolve(view, ref)
            tree = resolved.commit.tree
            body = build_bundle(view.git, tree, raw_prefix(base_url, repo, resolved.sha),
                                entrypoint(tree), environments)
            return Bundle(resolved.sha, body)

    def diff(self, caller: Caller, repo: RepoId, old: str, new: str,
             binary_patches: bool = False) -> tuple[RepoInfo, RefComparison]:
        """The comparison of two refs, with the info of the repository."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            return view.info, compare_refs(view.git, old, new, binary_patches=binary_patches)

    def parameters(self, caller: Caller, repo: RepoId, ref: str | None,
                   values: Body | None = None) -> ParametersAtRef:
        """The JSON Schema of the parameters of the entry point at ``ref``
        (default: ``latest``, else the default branch); with ``values``,
        also what Heat would refuse in them (see
        :func:`~heater.templates.paramcheck.check_parameter_values`)."""
        with self.registry.view(caller, repo, Kind.TEMPLATE) as view:
            resolved = _resolve(view, ref)
            tree = resolved.commit.tree
            path = entrypoint(tree)
            blob = find_blob(tree, path)
            if blob is None:
                raise FileNotInTree(path, f"{resolved.ref} ({resolved.sha[:12]})")
            template = load_yaml(blob.data, path).data
            problems = check_parameter_values(template, values()) if values else []
            return ParametersAtRef(view.info, resolved, path,
                                   parameters_schema(template, f"{repo} parameters"),
                                   problems)

    # -- writes ------------------------------------------------------------

    def create(self, caller: Caller, body: Body) -> dict[str, Any]:
        """A new template repository, with initial ``files`` if given; its
        detail, as :meth:`show` gives it."""
        # The namespace (for the role) is only known from the body, so an
        # anonymous caller is refused before it is read.
        who = require_token(caller)
        fields = body()
        repo = RepoId(_required(fields, "namespace"), _required(fields, "name"))
        visibility = parse_visibility(fields.get("visibility", "public"))
        files = parse_files(fields["files"]) if fields.get("files") is not None else None
        message = check_text(fields.get("message") or "Initial commit", "message")
        self.registry.create_repository(who, repo, Kind.TEMPLATE, visibility, files, message)
        return self._detail(caller, repo, None)

    def tag(self, caller: Caller, repo: RepoId, body: Body) -> TaggedVersion:
        """Release a version: ``version``, and optional ``ref`` (default: the
        default branch) and ``message``."""
        with self.repositories.writable(caller, repo) as (view, who):
            fields = body()
            version = _required(fields, "version")
            ref = string_field(fields, "ref", required=False)
            message = string_field(fields, "message", required=False)
            with self.registry.change(repo, caller, "tag") as change:
                change.details["version"] = version
                return create_version(view.git, version, ref, message, who,
                                      view.state.yanked)

    def update(self, caller: Caller, repo: RepoId, body: Body) -> dict[str, Any]:
        """Change the template's settings (see
        :meth:`~heater.repos.service.Repositories.update`); its detail after."""
        self.repositories.update(caller, repo, body)
        return self._detail(caller, repo, None)


__all__ = ["Body", "Bundle", "RawFile", "Templates"]
