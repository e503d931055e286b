"""The body of scripts/bench/images (run that, not this)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
MANIFEST = ('{"disk_format": "raw", "container_format": "bare", '
            '"os": {"distro": "ubuntu", "version": "22.04"}, "packages": []}')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, deadline: float = 30) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        done = subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=False)
        if done.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


class RssSampler:
    """Peak resident memory of a process tree (summed, and per process)."""

    def __init__(self, root_pid: int) -> None:
        self.root = root_pid
        self.peak_total = 0
        self.peak_single = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _pids(self) -> list[int]:
        pids, frontier = [self.root], [self.root]
        while frontier:
            pid = frontier.pop()
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                pids.append(child)
                frontier.append(child)
        return pids

    def _loop(self) -> None:
        while not self._stop.is_set():
            sizes = []
            for pid in self._pids():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                match = re.search(r"VmRSS:\s+(\d+) kB", status)
                if match:
                    sizes.append(int(match.group(1)) * 1024)
            if sizes:
                self.peak_total = max(self.peak_total, sum(sizes))
                self.peak_single = max(self.peak_single, max(sizes))
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="heater-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        image = work / "www" / "image.raw"
        image.parent.mkdir()
        with image.open("wb") as out:
            block = os.urandom(MIB)
            for i in range(args.size_mib):
                out.write(block[i % 7:] + block[: i % 7])  # distinct blocks, cheap
        subprocess.run(["cat", str(image)], stdout=subprocess.DEVNULL, check=True)  # warm cache
        sha = [timed(lambda: run("sha256sum", str(image))) for _ in range(args.runs)]

        # heater
        port = free_port()
        data = work / "data"
        env = {**os.environ, "HEATER_DATA_DIR": str(data)}
        heater = [str(REPO / ".venv/bin/heater")]
        token = run(*heater, "token", "create", "bench", "--role", "writer",
                    "--data-dir", str(data)).strip().splitlines()[-1]
        log = (work / "heater.log").open("wb")
        server = subprocess.Popen([*heater, "serve", "--bind", f"127.0.0.1:{port}",
                                   "--workers", "2"], env=env, stdout=log, stderr=log)
        procs.append(server)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz")
        auth = ["-H", f"Authorization: Bearer {token}"]

        def queue() -> str:
            out = run("curl", "-sf", *auth, "-H", "Content-Type: application/json",
                      "--data", MANIFEST, f"{base}/api/v1/images/bench/disk/builds")
            return out.split('"id":')[1].split('"')[1]

        uploads, builds = [], []
        with RssSampler(server.pid) as up_rss:
            for _ in range(args.runs):
                build = queue()
                builds.append(build)
                uploads.append(timed(lambda b=build: run(  # type: ignore[misc]
                    "curl", "-sf", "-o", "/dev/null", *auth, "-T", str(image),
                    "-H", "Content-Type: application/octet-stream",
                    f"{base}/api/v1/builds/{b}/file")))
        url = f"{base}/api/v1/builds/{builds[0]}/file"
        with RssSampler(server.pid) as down_rss:
            downloads = [timed(lambda: run("curl", "-sf", "-o", "/dev/null", url))
                         for _ in range(args.runs)]

        # lighttpd serving the same file
        lport = free_port()
        conf = work / "lighttpd.conf"
        conf.write_text(f'server.document-root = "{image.parent}"\n'
                        f'server.port = {lport}\nserver.bind = "127.0.0.1"\n'
                        f'server.errorlog = "{work}/lighttpd.err"\n'
                        'server.network-backend = "sendfile"\n')
        lighttpd = subprocess.Popen([LIGHTTPD, "-D", "-f", str(conf)])
        procs.append(lighttpd)
        wait_http(f"http://127.0.0.1:{lport}/image.raw")
        reference = [timed(lambda: run("curl", "-sf", "-o", "/dev/null",
                                       f"http://127.0.0.1:{lport}/image.raw"))
                     for _ in range(args.runs)]

        def rate(times: list[float]) -> float:
            return float(size / statistics.median(times) / MIB)

        print(f"image of {args.size_mib} MiB, median of {args.runs} runs, 127.0.0.1, "
              f"{os.cpu_count()} cores (shared machine: figures vary)")
        print(f"{'sha256sum reading it':34} {rate(sha):9.0f} MiB/s")
        print(f"{'heater upload (3 hashes, fsync)':34} {rate(uploads):9.0f} MiB/s")
        print(f"{'heater download':34} {rate(downloads):9.0f} MiB/s")
        print(f"{'lighttpd download':34} {rate(reference):9.0f} MiB/s")
        print(f"download / lighttpd                {rate(downloads) / rate(reference):9.2f}")
        print(f"heater RSS peak during uploads:   {up_rss.peak_total / MIB:6.0f} MiB total, "
              f"{up_rss.peak_single / MIB:.0f} MiB largest process")
        print(f"heater RSS peak during downloads: {down_rss.peak_total / MIB:6.0f} MiB total, "
              f"{down_rss.peak_single / MIB:.0f} MiB largest process")
        return 0
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
