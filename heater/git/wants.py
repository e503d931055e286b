"""Checking what a fetch asks for before git sees it.

``uploadpack.allowReachableSHA1InWant`` binds protocol v0 only: under
protocol v2, ``git upload-pack`` hands out any object its database holds
(gitprotocol-v2: wants "can be anything"), a deleted branch's commits and
Heater's hidden refs included, and git 2.39 has no setting that changes
that. It also serves ``object-info`` (any object's size) whatever it
advertises.

So an upload-pack request is read pkt-line by pkt-line on its way to git:
every ``want`` must name an object the caller may reach, and a v2 request
may only be ``ls-refs`` or ``fetch``. Lines pass on only once checked, and
git acts on a request only at the flush that ends its wants, so a refused
request never produces a byte of git's output.

A ``have`` the caller may not reach is left out of what git reads: git
acknowledges every ``have`` its database holds, so passing it on would
tell whether a hidden commit exists. Left out, it is answered as an object
the server lacks, which is what the client's negotiation expects of one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from heater.git.stream import InputRejected, Source

# gitprotocol-common: a pkt-line is at most 65520 bytes, its length included.
MAX_PKT_LINE = 65520
SERVED_COMMANDS = frozenset({b"ls-refs", b"fetch"})
# A fetch wants the tips it lacks, and a partial clone's lazy fetch the blobs
# a checkout misses: far fewer than this in a template repository. Checking
# each costs a few microseconds, so an unbounded list (a gzip bomb of wants)
# would cost seconds of CPU before git refused it.
MAX_WANTS = 100_000
# A negotiation sends a few hundred haves at most before it gives up (git's
# MAX_IN_VAIN); stateless HTTP repeats the common ones in every round.
MAX_HAVES = 100_000
# git reads the id in either case; so must the check.
_WANT_RE = re.compile(rb"^want ([0-9a-f]{40}|[0-9a-f]{64})(?:[ \n]|$)", re.IGNORECASE)
_HAVE_RE = re.compile(rb"^have ([0-9a-f]{40}|[0-9a-f]{64})\n?$", re.IGNORECASE)
_SPECIAL = (b"0000", b"0001", b"0002")  # flush, delimiter, response end


class RequestRefused(InputRejected):
    """A request git must not see; ``message`` goes back to the client as
    git's own ``ERR`` line would (``fatal: remote error: <message>``)."""

    def __init__(self, message: str) -> None:
        super().__init__("403 Forbidden", message)


class WantFilter:
    """The request body ``source``, passed on in whole pkt-lines, each
    ``want`` and ``have`` checked with ``reachable(hex_id)`` first."""

    def __init__(self, source: Source, reachable: Callable[[str], bool]) -> None:
        self.source = source
        self.reachable = reachable
        self.pending = b""
        self.wants = 0
        self.haves = 0

    def read(self) -> bytes:
        while True:
            data = self.source.read()
            if not data:
                # A truncated last line is git's to refuse; nothing after
                # it can make it a request.
                rest, self.pending = self.pending, b""
                return rest
            self.pending += data
            checked = self._checked_lines()
            if checked:
                return checked

    def _checked_lines(self) -> bytes:
        """The complete pkt-lines at the front of ``pending``, checked and
        taken out of it."""
        buffer = self.pending
        position = 0
        kept: list[bytes] = []
        while len(buffer) - position >= 4:
            head = buffer[position:position + 4]
            if head in _SPECIAL:
                kept.append(head)
                position += 4
                continue
            try:
                length = int(head, 16)
            except ValueError:
                raise InputRejected("400 Bad Request", "malformed pkt-line length") from None
            if length < 4 or length > MAX_PKT_LINE:
                raise InputRejected("400 Bad Request", f"bad pkt-line length {length}")
            if len(buffer) - position < length:
                break
            if self._check(buffer[position + 4:position + length]):
                kept.append(buffer[position:position + length])
            position += length
        self.pending = buffer[position:]
        return b"".join(kept)

    def _check(self, payload: bytes) -> bool:
        """Refuse the request for this line, or say whether git may see it."""
        # git takes the command from any line of a request's capability
        # section, not only the first, so every such line is looked at.
        if payload.startswith(b"command="):
            command = payload[len(b"command="):].rstrip(b"\n")
            if command not in SERVED_COMMANDS:
                shown = command[:40].decode("ascii", "replace")
                raise RequestRefused(f"upload-pack: command {shown!r} is not served here")
        if payload.startswith(b"have "):
            return self._check_have(payload)
        if not payload.startswith(b"want "):
            return True
        self.wants += 1
        if self.wants > MAX_WANTS:
            raise InputRejected("413 Payload Too Large",
                                f"more than {MAX_WANTS} wants in one request")
        match = _WANT_RE.match(payload)
        if match is None:
            raise RequestRefused("upload-pack: protocol error, expected an object id after "
                                 "'want'")
        oid = match.group(1).decode().lower()
        if not self.reachable(oid):
            raise RequestRefused(f"upload-pack: not our ref {oid}")
        return True

    def _check_have(self, payload: bytes) -> bool:
        self.haves += 1
        if self.haves > MAX_HAVES:
            raise InputRejected("413 Payload Too Large",
                                f"more than {MAX_HAVES} haves in one request")
        match = _HAVE_RE.match(payload)
        # A malformed one is git's to refuse, as it would any other line.
        return match is None or self.reachable(match.group(1).decode().lower())
