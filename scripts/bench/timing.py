"""Does an anonymous answer tell a private name from a missing one by its time?

Starts ``heater serve`` on loopback with one private template and one private
image build, then asks anonymously, ``--rounds`` times, for each of them and
for a name (or build id) that does not exist: the REST detail, a raw file,
git's ``info/refs`` and a build. The two requests of a case alternate, their
order flipping every round, on one kept-alive connection each. Printed per
case: the status each side got (they must be equal), median and p90 of both
sides, and the difference of the medians. Run it through ``scripts/bench/timing``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from harness import Bench, Endpoint, run_main
from measure import Samples, interleaved

from heater.paths import Layout

NAMESPACE = "bench"
TEMPLATE = "heat_template_version: 2021-04-16\nresources: {}\n"
MANIFEST = {
    "disk_format": "qcow2", "container_format": "bare",
    "os": {"distro": "ubuntu", "version": "22.04"},
    "packages": [{"name": "bash", "version": "5.1-6ubuntu1"}],
}


@dataclass(frozen=True)
class Case:
    name: str
    private: str  # path of the request for what exists but is private
    missing: str  # the same request for what does not exist


class Client:
    """One kept-alive connection to the server."""

    def __init__(self, server: Endpoint) -> None:
        host, port = server.url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def request(self, method: str, path: str, body: object = None,
                token: str | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()


def prepare(bench: Bench, server: Endpoint, layout: Layout) -> list[Case]:
    """Create the private template and image build; the cases to compare."""
    token = bench.create_token(layout, "writer", NAMESPACE)
    client = Client(server)
    status, body = client.request("POST", "/api/v1/templates", {
        "namespace": NAMESPACE, "name": "secret", "visibility": "private",
        "files": {"template.yaml": TEMPLATE}}, token)
    if status != 201:
        raise RuntimeError(f"creating the template: {status} {body!r}")
    status, body = client.request(
        "POST", f"/api/v1/images/{NAMESPACE}/hidden/builds?visibility=private", MANIFEST, token)
    if status != 201:
        raise RuntimeError(f"queueing the build: {status} {body!r}")
    build = json.loads(body)["build_id"]
    return [
        Case("REST detail", f"/api/v1/templates/{NAMESPACE}/secret",
             f"/api/v1/templates/{NAMESPACE}/absent"),
        Case("raw URL", f"/{NAMESPACE}/secret/raw/main/template.yaml",
             f"/{NAMESPACE}/absent/raw/main/template.yaml"),
        Case("git info/refs", f"/{NAMESPACE}/secret.git/info/refs?service=git-upload-pack",
             f"/{NAMESPACE}/absent.git/info/refs?service=git-upload-pack"),
        Case("build GET", f"/api/v1/builds/{build}", f"/api/v1/builds/{uuid.uuid4()}"),
    ]


def measure_case(server: Endpoint, case: Case, rounds: int) -> tuple[Samples, dict[str, int]]:
    clients = {"private": Client(server), "missing": Client(server)}
    statuses: dict[str, int] = {}
    paths = {"private": case.private, "missing": case.missing}

    def take(side: str) -> dict[str, float]:
        start = time.perf_counter()
        status, _ = clients[side].request("GET", paths[side])
        took = time.perf_counter() - start
        if statuses.setdefault(side, status) != status:
            raise RuntimeError(f"{case.name}: {side} answered {status}, then {statuses[side]}")
        return {"wall": took}

    for side in clients:  # warm-up: connections, caches
        for _ in range(5):
            take(side)
    return interleaved(list(clients), rounds, take)["wall"], statuses


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def report(results: list[tuple[Case, Samples, dict[str, int]]], server: Endpoint,
           rounds: int) -> str:
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [f"anonymous GETs, private vs missing, {rounds} interleaved rounds per case, "
             f"{server.describe} on loopback; {os.cpu_count()} cores, load average now {load}",
             f"{'case':<15} {'status':>9} {'private p50':>12} {'missing p50':>12} "
             f"{'diff ms':>8} {'private p90':>12} {'missing p90':>12}"]
    same = True
    for case, samples, statuses in results:
        same = same and statuses["private"] == statuses["missing"]
        status = f"{statuses['private']}/{statuses['missing']}"
        diff = samples.median("private") - samples.median("missing")
        lines.append(f"{case.name:<15} {status:>9} {_ms(samples.median('private')):>12} "
                     f"{_ms(samples.median('missing')):>12} {diff * 1000:>+8.3f} "
                     f"{_ms(samples.percentile('private', 90)):>12} "
                     f"{_ms(samples.percentile('missing', 90)):>12}")
    lines.append("(times in ms; status private/missing: "
                 f"{'the same in every case' if same else 'DIFFERENT'})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench/timing", description=__doc__)
    parser.add_argument("--rounds", type=int, default=400,
                        help="interleaved rounds per case (default 400)")
    parser.add_argument("--workers", type=int, default=1,
                        help="heater serve --workers (default 1: one process answers both)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.workers < 1:
        print("timing: --rounds and --workers must be at least 1", file=sys.stderr)
        return 2
    with Bench(keep=args.keep) as bench:
        layout = bench.data_dir()
        server = bench.start_heater(layout, args.workers)
        cases = prepare(bench, server, layout)
        results = [(case, *measure_case(server, case, args.rounds)) for case in cases]
        print(report(results, server, args.rounds))
    return 0


if __name__ == "__main__":
    run_main("timing", main)
