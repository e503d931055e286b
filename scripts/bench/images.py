"""Image upload and download throughput through Heater, and the server's memory.

One file of random bytes is uploaded to Heater as the binary of a build
(``curl -T``; Heater computes three hashes and fsyncs) in rounds alternating
with ``sha256sum`` reading the same file, then downloaded from Heater in
rounds alternating with lighttpd serving the same file; meanwhile the peak
resident memory of Heater's processes is sampled. Printed: what was compared,
the throughputs, and the targets (download at least 0.8 of lighttpd's, the
server under 200 MiB). Run it through ``scripts/bench/images``.

With ``--blobs swift`` Heater keeps the image on a Swift all-in-one that
the benchmark starts (Debian's packages), and the baseline is
python-swiftclient uploading the same file to the same Swift in SLO
segments of the same size (as many at once as its default), and downloading
it, alternated with Heater's transfers after one untimed transfer of each
side. Targets: both directions at least 0.8 of swiftclient's, and Heater's
memory flat (its peak during transfers under 200 MiB whatever the image's
size).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import swiftclient
from harness import Bench, Endpoint, ensure_program, run_main
from measure import PeakRss, Samples, group_cpu_seconds, interleaved, stopwatch
from swiftclient.service import SwiftService, SwiftUploadObject
from swiftclient.version import version_string as swiftclient_version

from heater.blobs import CHUNK
from heater.config import DEFAULT_BLOB_PART_BYTES, DEFAULT_BLOB_PARTS_IN_FLIGHT
from heater.names import RepoId

if TYPE_CHECKING:
    from tests.services.swift_server import Swift

MiB = 1024 * 1024
DOWNLOAD_TARGET = 0.8  # of lighttpd's throughput, at least
RSS_TARGET = 200 * MiB  # the server's processes together, at most
IMAGE = RepoId("bench", "disk")
MANIFEST = {"disk_format": "raw", "container_format": "bare",
            "os": {"distro": "ubuntu", "version": "22.04"}, "packages": []}
TRANSFER_TIMEOUT = 3600.0
PART_BYTES = DEFAULT_BLOB_PART_BYTES  # Heater's default, and swiftclient's segments
SWIFTCLIENT_SEGMENT_THREADS = 10  # SwiftService's default: segments sent at once


def make_image(path: Path, size_mib: int) -> Path:
    """``size_mib`` MiB of incompressible bytes at ``path``, left in the page cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(MiB)
    with path.open("wb") as out:
        for i in range(size_mib):
            out.write(block[i % 7:] + block[: i % 7])  # distinct blocks, cheap
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
    return path


class Transfers:
    """Timed transfers of one image with curl, and the reference programs beside them."""

    def __init__(self, image: Path, heater: Endpoint, static: Endpoint, token: str) -> None:
        self.image = image
        self.heater = heater
        self.static = static
        self.curl = ensure_program("curl")
        self.auth = ["-H", f"Authorization: Bearer {token}"]
        self.builds: list[str] = []

    def _run(self, *argv: str) -> str:
        return subprocess.run(argv, check=True, capture_output=True, text=True,
                              timeout=TRANSFER_TIMEOUT).stdout

    def client(self) -> str:
        """The client's name and version."""
        return " ".join(self._run(self.curl, "--version").split()[:2])

    def _queue(self) -> str:
        """A new build of the image, waiting for its file; its id."""
        out = self._run(self.curl, "-sf", *self.auth, "-H", "Content-Type: application/json",
                        "--data", json.dumps(MANIFEST),
                        f"{self.heater.url}/api/v1/images/{IMAGE}/builds")
        build: str = json.loads(out)["build_id"]
        return build

    def upload(self, side: str) -> dict[str, float]:
        """Upload to Heater, or ``sha256sum`` reading the file (``side`` "sha256sum")."""
        if side == "sha256sum":
            with stopwatch() as elapsed:
                self._run("sha256sum", str(self.image))
            return {"seconds": elapsed()}
        build = self._queue()
        self.builds.append(build)
        with stopwatch() as elapsed:
            self._run(self.curl, "-sf", "-o", os.devnull, *self.auth, "-T", str(self.image),
                      "-H", "Content-Type: application/octet-stream",
                      f"{self.heater.url}/api/v1/builds/{build}/file")
        return {"seconds": elapsed()}

    def download(self, side: str) -> dict[str, float]:
        """Download the uploaded file from Heater, or the same file from lighttpd."""
        if side == "lighttpd":
            url = f"{self.static.url}/{self.image.name}"
        else:
            url = f"{self.heater.url}/api/v1/builds/{self.builds[0]}/file"
        with stopwatch() as elapsed:
            self._run(self.curl, "-sf", "-o", os.devnull, url)
        return {"seconds": elapsed()}


class SwiftTransfers(Transfers):
    """Heater on Swift against swiftclient on the same Swift, used in this
    process as a program would (no command start-up in the timings)."""

    def __init__(self, image: Path, heater: Endpoint, swift: Swift, container: str,
                 token: str) -> None:
        super().__init__(image, heater, heater, token)
        self.options = {"auth": swift.auth_url, "user": swift.user, "key": swift.key,
                        "auth_version": "1.0"}
        self.connection = swiftclient.Connection(authurl=swift.auth_url, user=swift.user,
                                                 key=swift.key)
        self.container = f"{container}-direct"
        self.direct: list[str] = []

    def upload(self, side: str) -> dict[str, float]:
        """Also the CPU time the uploading side spent: Heater's processes
        (receiving, hashing, sending), or this one (swiftclient's threads)."""
        if side == "heater":
            before = group_cpu_seconds(self.heater.pid)
            timed = super().upload(side)
            return {**timed, "cpu": group_cpu_seconds(self.heater.pid) - before}
        name = f"direct-{len(self.direct)}"
        self.direct.append(name)
        before = time.process_time()
        with stopwatch() as elapsed, SwiftService(self.options) as service:
            for result in service.upload(
                    self.container, [SwiftUploadObject(str(self.image), object_name=name)],
                    {"segment_size": PART_BYTES, "use_slo": True,
                     "segment_threads": SWIFTCLIENT_SEGMENT_THREADS}):
                if not result["success"]:
                    raise RuntimeError(f"swiftclient upload failed: {result}")
        return {"seconds": elapsed(), "cpu": time.process_time() - before}

    def download(self, side: str) -> dict[str, float]:
        if side == "heater":
            return super().download(side)
        with stopwatch() as elapsed:
            _, body = self.connection.get_object(self.container, self.direct[0],
                                                 resp_chunk_size=CHUNK)
            for _chunk in body:
                pass
        return {"seconds": elapsed()}

    def client(self) -> str:
        return (f"{super().client()}; python-swiftclient {swiftclient_version} "
                "(SwiftService.upload, Connection.get_object)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/bench/images", description=__doc__)
    parser.add_argument("--size-mib", type=int, default=None,
                        help="size of the image in MiB (default 2048; 1024 with --blobs swift)")
    parser.add_argument("--runs", type=int, default=3,
                        help="rounds of each transfer (default 3)")
    parser.add_argument("--workers", type=int, default=2,
                        help="heater serve --workers (default 2)")
    parser.add_argument("--parts-in-flight", type=int, default=DEFAULT_BLOB_PARTS_IN_FLIGHT,
                        help="with --blobs swift: Heater's blob_parts_in_flight (default "
                             f"{DEFAULT_BLOB_PARTS_IN_FLIGHT}, Heater's own)")
    parser.add_argument("--blobs", choices=("filesystem", "swift"), default="filesystem",
                        help="where Heater keeps the image: its data directory (default; "
                             "against lighttpd) or a Swift all-in-one (against swiftclient)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run directory (server logs, image) afterwards")
    return parser


def report(args: argparse.Namespace, servers: Sequence[Endpoint], curl_version: str,
           uploads: Samples, downloads: Samples, up_rss: PeakRss, down_rss: PeakRss,
           load: float) -> str:
    size: int = args.size_mib * MiB

    def rate(samples: Samples, side: str) -> float:
        return size / samples.median(side) / MiB

    def rss(peak: PeakRss) -> str:
        verdict = "ok" if peak.total < RSS_TARGET else "MISSED"
        return (f"{peak.total / MiB:6.0f} MiB total, {peak.largest / MiB:.0f} MiB largest "
                f"process  (target < {RSS_TARGET // MiB} MiB) {verdict}")

    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    heater, static = servers
    download_ratio = rate(downloads, "heater") / rate(downloads, "lighttpd")
    return "\n".join([
        f"images benchmark, {when}",
        f"  data      image of {args.size_mib} MiB (random bytes, in the page cache), 127.0.0.1",
        f"  heater    {heater.describe}",
        f"  baseline  {static.describe}; sha256sum reading the file",
        f"  client    {curl_version}",
        f"  method    median of {args.runs} runs, alternated with the baseline; load average "
        f"at start {load:.2f} on {os.cpu_count()} cores (shared machine: figures vary)",
        "",
        f"{'sha256sum reading it':34} {rate(uploads, 'sha256sum'):9.0f} MiB/s",
        f"{'heater upload (3 hashes, fsync)':34} {rate(uploads, 'heater'):9.0f} MiB/s",
        f"{'heater download':34} {rate(downloads, 'heater'):9.0f} MiB/s",
        f"{'lighttpd download':34} {rate(downloads, 'lighttpd'):9.0f} MiB/s",
        f"{'upload / sha256sum':34} {uploads.ratio('sha256sum', 'heater'):9.2f}",
        f"{'download / lighttpd':34} {download_ratio:9.2f}  (target >= {DOWNLOAD_TARGET}) "
        f"{'ok' if download_ratio >= DOWNLOAD_TARGET else 'MISSED'}",
        f"heater RSS peak during uploads:   {rss(up_rss)}",
        f"heater RSS peak during downloads: {rss(down_rss)}",
    ])


def measure(transfers: Transfers, heater: Endpoint, runs: int, baselines: tuple[str, str]
            ) -> tuple[dict[str, Samples], dict[str, Samples], PeakRss, PeakRss]:
    """Uploads, then downloads, each alternated with its baseline, with
    Heater's peak memory during each."""
    print(f"{runs} uploads ...", file=sys.stderr)
    with PeakRss(heater.pid) as up_rss:
        uploads = interleaved(["heater", baselines[0]], runs, transfers.upload)
    print(f"{runs} downloads ...", file=sys.stderr)
    with PeakRss(heater.pid) as down_rss:
        downloads = interleaved(["heater", baselines[1]], runs, transfers.download)
    return uploads, downloads, up_rss, down_rss


def swift_report(args: argparse.Namespace, heater: Endpoint, swift: Swift, client: str,
                 uploads: Samples, downloads: Samples, idle: PeakRss, up_rss: PeakRss,
                 down_rss: PeakRss, load: float, cpu: Samples) -> str:
    size: int = args.size_mib * MiB

    def rate(samples: Samples, side: str) -> float:
        return size / samples.median(side) / MiB

    def ratio(samples: Samples) -> str:
        value = samples.ratio("swiftclient", "heater")
        return (f"{value:9.2f}  (target >= {DOWNLOAD_TARGET}) "
                f"{'ok' if value >= DOWNLOAD_TARGET else 'MISSED'}")

    def rss(peak: PeakRss) -> str:
        verdict = "ok" if peak.total < RSS_TARGET else "MISSED"
        return (f"{peak.total / MiB:6.0f} MiB total, {peak.largest / MiB:.0f} MiB largest "
                f"process  (target < {RSS_TARGET // MiB} MiB) {verdict}")

    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        f"images benchmark on Swift, {when}",
        f"  data      image of {args.size_mib} MiB (random bytes, in the page cache), 127.0.0.1",
        f"  heater    {heater.describe}, blobs = swift, parts of {PART_BYTES // MiB} MiB, "
        f"{args.parts_in_flight} in flight while the next fills",
        f"  store     Swift all-in-one at {swift.url} (Debian's packages, workers = 0), tempauth",
        f"  baseline  swiftclient on the same Swift, SLO segments of {PART_BYTES // MiB} MiB, "
        f"{SWIFTCLIENT_SEGMENT_THREADS} at once (its default)",
        f"  client    {client}",
        f"  method    one untimed transfer of each side, then the median of {args.runs} runs "
        f"alternated with the baseline; load average at start {load:.2f}, at the end "
        f"{os.getloadavg()[0]:.2f}, on {os.cpu_count()} cores (shared machine: figures vary)",
        "",
        f"{'heater upload (3 hashes)':34} {rate(uploads, 'heater'):9.0f} MiB/s",
        f"{'swiftclient upload':34} {rate(uploads, 'swiftclient'):9.0f} MiB/s",
        f"{'heater download':34} {rate(downloads, 'heater'):9.0f} MiB/s",
        f"{'swiftclient download':34} {rate(downloads, 'swiftclient'):9.0f} MiB/s",
        f"{'upload / swiftclient':34} {ratio(uploads)}",
        f"{'upload CPU, heater processes':34} {cpu.median('heater') * 1024 / args.size_mib:9.1f}"
        " s per GiB",
        f"{'upload CPU, swiftclient':34} {cpu.median('swiftclient') * 1024 / args.size_mib:9.1f}"
        " s per GiB",
        f"{'download / swiftclient':34} {ratio(downloads)}",
        f"heater RSS idle:                  {idle.total / MiB:6.0f} MiB total",
        f"heater RSS peak during uploads:   {rss(up_rss)}",
        f"heater RSS peak during downloads: {rss(down_rss)}",
    ])


def swift_main(args: argparse.Namespace, load: float) -> int:
    with Bench(keep=args.keep) as bench:
        print("starting Swift ...", file=sys.stderr)
        swift = bench.start_swift()
        print(f"writing a {args.size_mib} MiB image ...", file=sys.stderr)
        image = make_image(bench.run_dir / "www" / "image.raw", args.size_mib)
        layout = bench.data_dir()
        token = bench.create_token(layout, "writer", IMAGE.namespace)
        container = "bench"
        heater = bench.start_heater(layout, args.workers, {
            "HEATER_BLOBS": "swift", "HEATER_SWIFT_AUTH_URL": swift.auth_url,
            "HEATER_SWIFT_USER": swift.user, "HEATER_SWIFT_KEY": swift.key,
            "HEATER_SWIFT_CONTAINER": container, "HEATER_BLOB_PART_BYTES": str(PART_BYTES),
            "HEATER_BLOB_PARTS_IN_FLIGHT": str(args.parts_in_flight)})
        transfers = SwiftTransfers(image, heater, swift, container, token)
        print("warming up ...", file=sys.stderr)
        for side in ("heater", "swiftclient"):  # connections, caches, Swift's containers
            transfers.upload(side)
            transfers.download(side)
        with PeakRss(heater.pid) as idle:
            time.sleep(1)
        uploads, downloads, up_rss, down_rss = measure(
            transfers, heater, args.runs, ("swiftclient", "swiftclient"))
        print(swift_report(args, heater, swift, transfers.client(), uploads["seconds"],
                           downloads["seconds"], idle, up_rss, down_rss, load, uploads["cpu"]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.size_mib is None:
        args.size_mib = 1024 if args.blobs == "swift" else 2048
    if min(args.size_mib, args.runs, args.workers, args.parts_in_flight) < 1:
        print("images: --size-mib, --runs, --workers and --parts-in-flight must be at least 1",
              file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    if args.blobs == "swift":
        return swift_main(args, load)
    with Bench(keep=args.keep) as bench:
        print(f"writing a {args.size_mib} MiB image ...", file=sys.stderr)
        image = make_image(bench.run_dir / "www" / "image.raw", args.size_mib)
        layout = bench.data_dir()
        token = bench.create_token(layout, "writer", IMAGE.namespace)
        heater = bench.start_heater(layout, args.workers)
        static = bench.start_static(image.parent)
        transfers = Transfers(image, heater, static, token)
        uploads, downloads, up_rss, down_rss = measure(
            transfers, heater, args.runs, ("sha256sum", "lighttpd"))
        print(report(args, (heater, static), transfers.client(), uploads["seconds"],
                     downloads["seconds"], up_rss, down_rss, load))
    return 0


if __name__ == "__main__":
    run_main("images", main)
