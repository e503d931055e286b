"""schemathesis hooks for fuzzing Heater (loaded by scripts/fuzz.py).

The git services take pkt-line bodies that schemathesis cannot serialise by
itself: they are sent as the raw bytes (or text) generated for them.
"""

from __future__ import annotations

from typing import Any

import schemathesis

GIT_BODIES = ("application/x-git-upload-pack-request", "application/x-git-receive-pack-request")


@schemathesis.serializer(*GIT_BODIES)
def raw_body(_ctx: Any, value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return repr(value).encode()
