"""Run one server of a Swift all-in-one whose configuration lives in a
directory of its own. Run by Debian's ``/usr/bin/python3``, which has the
``swift`` package, never by the test environment's Python:

    python3 swift_aio.py rings DIR ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT
    python3 swift_aio.py serve DIR proxy|account|container|object [CONF]

The stock ``swift-*-server`` commands read ``/etc/swift/swift.conf``; this
points Swift at DIR first. CONF (a file in DIR) replaces the server's
usual ``<server>-server.conf``: a second proxy with a pipeline of its own.
Rings are built here with Swift's own RingBuilder, in one process, because
the ``swift-ring-builder`` command costs more than a second a call.
"""

from __future__ import annotations

import sys
from pathlib import Path

from swift.common.ring import RingBuilder
from swift.common.utils import set_swift_dir
from swift.common.wsgi import run_wsgi


def build_rings(conf_dir: Path, ports: dict[str, int]) -> None:
    for kind, port in ports.items():
        # 2**6 partitions, one replica: a single device holds everything.
        builder = RingBuilder(6, 1, 1)
        builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": port,
                         "device": "d1", "weight": 100.0, "meta": ""})
        builder.rebalance()
        builder.get_ring().save(str(conf_dir / f"{kind}.ring.gz"))


def main(argv: list[str]) -> int:
    command, conf_dir = argv[0], Path(argv[1])
    set_swift_dir(str(conf_dir))
    if command == "rings":
        build_rings(conf_dir, dict(zip(("account", "container", "object"),
                                       map(int, argv[2:5]), strict=True)))
        return 0
    server = argv[2]
    conf = argv[3] if len(argv) > 3 else f"{server}-server.conf"
    return int(run_wsgi(str(conf_dir / conf), f"{server}-server", verbose=True) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
