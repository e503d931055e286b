"""What every repository offers whatever its kind (template or image): its
lifecycle (yank, deprecate, delete, and undo each) and its visibility.

The templates' and images' endpoints call one :class:`Repositories` made
for their kind, so both kinds follow the same rules and record their
changes alike: each is a commit on the repository's lifecycle ref
(:mod:`heater.repos.lifecycle`) authored by the caller, inside
:meth:`~heater.registry.Registry.change`, so the catalog index hears of it
before the answer.

A write takes its request body as a function and calls it only once the
caller has been let in, so an anonymous or unauthorised caller hears 401,
403 or 404 whatever its body says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from heater.auth.tokens import Caller, Role
from heater.errors import MissingField
from heater.names import RepoId
from heater.registry import Registry
from heater.repos import lifecycle, lifecycle_actions
from heater.repos.lifecycle import LifecycleState, Visible, write_state
from heater.repos.store import Kind, Visibility, parse_visibility
from heater.repos.view import RepoView

# The request's JSON object, read when the method is ready for it.
Body = Callable[[], Mapping[str, Any]]

# What a PATCH of a repository may change.
SETTINGS = ("visibility",)


class Repositories:
    """The lifecycle and settings of the repositories of one ``kind``."""

    def __init__(self, registry: Registry, kind: Kind) -> None:
        self.registry = registry
        self.kind = kind

    def visible(self, caller: Caller) -> Visible:
        """Whether ``caller`` may read a repository named ``<ns>/<name>``."""
        return lambda name: self.registry.sees(caller, name) is not None

    # -- lifecycle -----------------------------------------------------------

    def lifecycle(self, caller: Caller, repo: RepoId) -> dict[str, Any]:
        """The lifecycle state and its history; readable once deleted too."""
        with self.registry.view(caller, repo, self.kind, allow_deleted=True) as view:
            visible = self.visible(caller)
            return {**self._state(view, visible),
                    "history": lifecycle.history(view.git, visible)}

    def yank(self, caller: Caller, repo: RepoId, version: str,
             reason: Callable[[], object]) -> dict[str, Any]:
        with self.writable(caller, repo) as (view, who):
            text = reason()
            return self._act(view, caller, "yank", lambda: lifecycle_actions.yank(
                view.git, version, text, who))

    def unyank(self, caller: Caller, repo: RepoId, version: str) -> dict[str, Any]:
        with self.writable(caller, repo) as (view, who):
            return self._act(view, caller, "unyank", lambda: lifecycle_actions.unyank(
                view.git, version, who))

    def deprecate(self, caller: Caller, repo: RepoId, body: Body) -> dict[str, Any]:
        """Deprecate, with a ``reason`` and maybe a ``replacement`` (a
        repository reference of the same kind)."""
        with self.writable(caller, repo) as (view, who):
            fields = body()
            return self._act(view, caller, "deprecate", lambda: lifecycle_actions.deprecate(
                view.git, view.info, fields.get("reason"), fields.get("replacement"), who,
                lambda other: self.registry.sees(caller, other)))

    def undeprecate(self, caller: Caller, repo: RepoId) -> dict[str, Any]:
        with self.writable(caller, repo) as (view, who):
            return self._act(view, caller, "undeprecate", lambda: lifecycle_actions.undeprecate(
                view.git, who))

    def delete(self, caller: Caller, repo: RepoId,
               reason: Callable[[], object]) -> dict[str, Any]:
        """Leave a tombstone (admins only)."""
        # A deleted repository deleted again: 409 already_done, not 410.
        with self.writable(caller, repo, Role.ADMIN, allow_deleted=True) as (view, who):
            text = reason()
            return self._act(view, caller, "delete", lambda: lifecycle_actions.delete(
                view.git, text, who))

    def undelete(self, caller: Caller, repo: RepoId) -> dict[str, Any]:
        with self.writable(caller, repo, Role.ADMIN, allow_deleted=True) as (view, who):
            return self._act(view, caller, "undelete", lambda: lifecycle_actions.undelete(
                view.git, who))

    # -- settings ------------------------------------------------------------

    def update(self, caller: Caller, repo: RepoId, body: Body) -> None:
        """Change what ``body`` names (only ``visibility`` for now): a writer
        of the namespace may, as it may create one. The change is recorded
        in the lifecycle history, then made; every reader (API, listings,
        raw URLs, clones) follows from the next request on. Asking for the
        visibility the repository has already changes and records nothing."""
        with self.writable(caller, repo) as (view, who):
            fields = body()
            if "visibility" not in fields:
                raise MissingField("visibility", "'visibility' is required: the only setting "
                                   "a PATCH changes")
            wanted = parse_visibility(fields["visibility"])
            current = view.info.visibility
            if wanted is current:
                return
            with self.registry.change(repo, caller, "visibility") as change:
                change.details["visibility"] = wanted.value
                write_state(view.git, _recording(current, wanted), who)
                self.registry.repos.set_visibility(repo, wanted)

    # -- shared --------------------------------------------------------------

    @contextmanager
    def writable(self, caller: Caller, repo: RepoId, role: Role = Role.WRITER,
                 allow_deleted: bool = False) -> Iterator[tuple[RepoView, str]]:
        """The view of ``repo`` if ``caller`` holds ``role`` on it, and the
        caller's name (what the git history records)."""
        with self.registry.view(caller, repo, self.kind, role, allow_deleted) as view:
            assert caller is not None  # a role was checked: never anonymous
            yield view, caller.name

    def _act(self, view: RepoView, caller: Caller, what: str,
             action: Callable[[], object]) -> dict[str, Any]:
        """Run a lifecycle ``action`` (named ``what`` in the audit log) as a
        change of the repository; the state it left, as ``caller`` may see it."""
        with self.registry.change(view.repo, caller, what):
            action()
        view.forget()
        return self._state(view, self.visible(caller))

    @staticmethod
    def _state(view: RepoView, visible: Visible) -> dict[str, Any]:
        return lifecycle.state_json(view.state, visible)


def _recording(old: Visibility, new: Visibility) -> lifecycle.Change:
    """A lifecycle change that leaves the state as it is and says, in its
    commit message, that the visibility changed."""
    def change(_state: LifecycleState) -> str:
        return f"Make {new.value}\n\nVisibility changed from {old.value} to {new.value}.\n"
    return change


__all__ = ["SETTINGS", "Body", "Repositories"]
