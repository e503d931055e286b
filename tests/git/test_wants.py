"""The upload-pack request filter: wants checked before git sees them."""

from __future__ import annotations

import pytest

from heater.git.stream import InputRejected
from heater.git.wants import MAX_HAVES, RequestRefused, WantFilter

GOOD = "a" * 40
BAD = "b" * 40


def pkt(text: str) -> bytes:
    return f"{len(text) + 4:04x}{text}".encode()


class Chunks:
    """A request body arriving in chunks of ``size`` bytes."""

    def __init__(self, data: bytes, size: int) -> None:
        self.parts = [data[i:i + size] for i in range(0, len(data), size)]

    def read(self) -> bytes:
        return self.parts.pop(0) if self.parts else b""


def drain(data: bytes, size: int = 7) -> bytes:
    source = WantFilter(Chunks(data, size), lambda oid: oid == GOOD)
    out = b""
    while chunk := source.read():
        out += chunk
    return out


V2_FETCH = (pkt("command=fetch\n") + pkt("agent=git/2.39\n") + b"0001" + pkt("thin-pack\n")
            + pkt(f"want {GOOD}\n") + pkt("done\n") + b"0000")


@pytest.mark.parametrize("size", [1, 5, 64, 65536])
def test_a_request_of_reachable_wants_passes_unchanged(size: int) -> None:
    assert drain(V2_FETCH, size) == V2_FETCH
    v0 = pkt(f"want {GOOD} multi_ack side-band-64k\n") + b"0000" + pkt(f"have {GOOD}\n")
    assert drain(v0, size) == v0
    ls_refs = pkt("command=ls-refs\n") + b"0001" + pkt("peel\n") + b"0000"
    assert drain(ls_refs, size) == ls_refs


@pytest.mark.parametrize("want", [f"want {BAD}\n", f"want {BAD.upper()}\n",
                                  f"want {BAD} side-band\n"])
def test_an_unreachable_want_is_refused_before_the_request_ends(want: str) -> None:
    data = V2_FETCH.replace(pkt(f"want {GOOD}\n"), pkt(f"want {GOOD}\n") + pkt(want))
    source = WantFilter(Chunks(data, len(data)), lambda oid: oid == GOOD)
    with pytest.raises(RequestRefused, match=f"not our ref {BAD}"):
        source.read()


@pytest.mark.parametrize("line", ["want nothex\n", f"want {GOOD[:39]}\n", "want \n"])
def test_a_malformed_want_is_refused(line: str) -> None:
    with pytest.raises(RequestRefused, match="protocol error"):
        drain(pkt("command=fetch\n") + b"0001" + pkt(line) + b"0000")


def test_commands_other_than_ls_refs_and_fetch_are_refused() -> None:
    with pytest.raises(RequestRefused, match="command 'object-info' is not served"):
        drain(pkt("command=object-info\n") + b"0001" + pkt("size\n")
              + pkt(f"oid {BAD}\n") + b"0000")
    # A second request after the first flush is checked too, and a command
    # after other capabilities (git reads it there as well).
    with pytest.raises(RequestRefused, match="object-info"):
        drain(V2_FETCH + pkt("command=object-info\n") + b"0000")
    with pytest.raises(RequestRefused, match="object-info"):
        drain(pkt("agent=x\n") + pkt("command=object-info\n") + b"0001" + b"0000")


@pytest.mark.parametrize("data", [b"zzzz", b"0003", b"fff1" + b"x" * 10])
def test_malformed_pkt_lines_are_refused(data: bytes) -> None:
    with pytest.raises(InputRejected) as raised:
        drain(data)
    assert raised.value.status == "400 Bad Request"


@pytest.mark.parametrize("size", [1, 5, 65536])
def test_a_have_the_caller_cannot_reach_is_left_out(size: int) -> None:
    # git would acknowledge it if its database holds it: that would tell.
    request = (pkt("command=fetch\n") + b"0001" + pkt(f"want {GOOD}\n")
               + pkt(f"have {BAD}\n") + pkt(f"have {GOOD}\n") + pkt(f"have {BAD.upper()}\n")
               + b"0000")
    assert drain(request, size) == (pkt("command=fetch\n") + b"0001" + pkt(f"want {GOOD}\n")
                                    + pkt(f"have {GOOD}\n") + b"0000")


def test_too_many_haves_are_refused() -> None:
    request = pkt(f"want {GOOD}\n") + b"0000" + pkt(f"have {GOOD}\n") * (MAX_HAVES + 1)
    with pytest.raises(InputRejected, match=f"more than {MAX_HAVES} haves"):
        drain(request, 65536)
